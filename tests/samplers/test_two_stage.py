"""Two-stage VAE sampler (Dai & Wipf 2019): the second stage maps the codes to latents much
closer to N(0, I), its samples follow the codes' distribution, and sampling is reproducible."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.samplers import Sampler, TwoStageVAESampler
from vaekit.samplers.two_stage import SecondStageVAE

CODE_MEAN = torch.tensor([1.5, -1.0])
CODE_COV = torch.tensor([[0.3, 0.2], [0.2, 0.25]])  # correlated, far from N(0, I)
FAST = {"hidden": (32, 32), "steps": 1000, "lr": 5e-3}


def moment_distance(codes: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> float:
    """``|mean(codes) - mean| + |cov(codes) - cov|_F``."""
    codes = codes.double()
    return float((codes.mean(0) - mean.double()).norm()
                 + (torch.cov(codes.T) - cov.double()).norm())


@pytest.fixture(scope="module")
def codes() -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means of a Gaussian aggregate posterior and small posterior stds."""
    gen = torch.Generator().manual_seed(0)
    means = CODE_MEAN + torch.randn(2000, 2, generator=gen) @ torch.linalg.cholesky(CODE_COV).T
    return means, torch.full_like(means, 0.05)


@pytest.fixture(scope="module")
def fitted(model, codes) -> TwoStageVAESampler:
    return TwoStageVAESampler(model, seed=0, **FAST).fit_latents(*codes)


def test_second_stage_latents_are_closer_to_the_prior(fitted, codes):
    means, stds = codes
    z = means + stds * torch.randn(means.shape, generator=torch.Generator().manual_seed(1))
    u = fitted.second_stage_posterior(z).sample()
    eye = torch.eye(2)
    first, second = moment_distance(z, torch.zeros(2), eye), moment_distance(u, torch.zeros(2), eye)
    assert first > 2.0
    assert second < 0.3 < first / 5


def test_two_stage_samples_follow_the_codes(fitted, codes):
    # A collapsed second stage (q(u|z) = p(u), z ~ N(mean, gamma I)) would miss the correlation.
    assert fitted.loss_history[-100:].mean() < fitted.loss_history[:100].mean() - 0.5
    assert fitted.gamma < 0.25
    z = fitted.sample_latents(20000, torch.Generator().manual_seed(2))
    torch.testing.assert_close(z.mean(0), CODE_MEAN, atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), CODE_COV + 0.05**2 * torch.eye(2), atol=0.06,
                               rtol=0)
    prior_draws = torch.randn(20000, 2, generator=torch.Generator().manual_seed(3))
    code_cov = torch.cov(codes[0].T)
    assert (moment_distance(z, CODE_MEAN, code_cov)
            < moment_distance(prior_draws, CODE_MEAN, code_cov) / 5)


def test_fit_on_samples_draws_from_the_posteriors(model):
    # Nearly equal means with unit stds: the codes z ~ q(z|x) are about N(0, I), the means not.
    means = 0.1 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    stds = torch.ones_like(means)
    z = {}
    for fit_on in ("samples", "means"):
        sampler = TwoStageVAESampler(model, fit_on=fit_on, **{**FAST, "steps": 300})
        z[fit_on] = sampler.fit_latents(means, stds).sample_latents(
            10000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(torch.cov(z["samples"].T), torch.eye(2) * 1.01, atol=0.15, rtol=0)
    assert torch.cov(z["means"].T).diagonal().max() < 0.5


def test_decoder_noise_switch(model, codes, fitted):
    mean_only = TwoStageVAESampler(model, seed=0, decoder_noise=False, **FAST)
    mean_only.network = fitted.network  # same fitted second stage, decoded without noise
    gen_seed = 5
    u = torch.randn(8, 2, generator=torch.Generator().manual_seed(gen_seed))
    with torch.no_grad():
        expected = fitted.network.decode(u).mean
    got = mean_only.sample_latents(8, torch.Generator().manual_seed(gen_seed))
    torch.testing.assert_close(got, expected)
    noisy = fitted.sample_latents(8, torch.Generator().manual_seed(gen_seed))
    assert not torch.equal(noisy, got)
    # the noise is N(0, gamma I)
    residual = fitted.sample_latents(20000, torch.Generator().manual_seed(6)) - mean_only.\
        sample_latents(20000, torch.Generator().manual_seed(6))
    assert residual.var().item() == pytest.approx(fitted.gamma, rel=0.05)


def test_two_stage_sampler_on_a_model(model, dataset):
    sampler = TwoStageVAESampler(model, hidden=(16,), steps=50, batch_size=7).fit(
        dataset, max_examples=150)
    assert isinstance(sampler, Sampler)
    images = sampler.sample(16, torch.Generator().manual_seed(0))  # decoded in chunks of 7
    assert images.shape == (16, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    z = sampler.sample_latents(16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.likelihood.mean_image(model.decode(z))
    torch.testing.assert_close(images, expected)
    assert sampler.sample(0).shape == (0, 1, 8, 8)
    assert model.training
    means_only = TwoStageVAESampler(model, hidden=(16,), steps=20, fit_on="means").fit(dataset)
    assert means_only.sample(3).shape == (3, 1, 8, 8)


def test_two_stage_sampler_is_reproducible(model, dataset):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = TwoStageVAESampler(model, hidden=(16,), steps=30, seed=4).fit(dataset)
    assert torch.equal(torch.random.get_rng_state(), before)  # seeded apart from the global RNG
    b = TwoStageVAESampler(model, hidden=(16,), steps=30, seed=4).fit(dataset)
    assert torch.equal(a.loss_history, b.loss_history)
    first = a.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(first, b.sample(10, torch.Generator().manual_seed(3)))
    assert torch.equal(first, a(10, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, a.sample(10, torch.Generator().manual_seed(4)))
    torch.manual_seed(0)
    global_a = a.sample(4)
    torch.manual_seed(0)
    assert torch.equal(global_a, a.sample(4))


def test_second_stage_loss_is_the_negative_elbo():
    torch.manual_seed(0)
    network = SecondStageVAE(2, [8])
    z = torch.randn(5, 2)
    eps = torch.randn(5, 2)
    terms = network.loss(z, eps)
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"])
    # recon: -log N(z; f(u), gamma I) with gamma = 1 at initialisation
    qu_z = network.encode(z)
    u = qu_z.mean + qu_z.stddev * eps
    sq = (z - network.decoder(u)).square().sum(-1)
    torch.testing.assert_close(terms["recon"], (0.5 * sq + torch.log(torch.tensor(
        2 * torch.pi))).mean())


def test_two_stage_errors(model, codes):
    with pytest.raises(RuntimeError, match="fit"):
        TwoStageVAESampler(model).sample(3)
    with pytest.raises(ValueError, match="stds"):
        TwoStageVAESampler(model, steps=1).fit_latents(codes[0])
    with pytest.raises(ConfigError, match="fit_on"):
        TwoStageVAESampler(model, fit_on="modes")
