"""The VampPrior VAE (Tomczak & Welling 2018): the prior is a proper mixture of the encoder's
posteriors at learned pseudo-inputs, generic evaluation works, and it trains."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.distributions import MixtureSameFamily

import vaekit.models.vamp_vae  # noqa: F401  (registration)
from vaekit.errors import ConfigError, ShapeError
from vaekit.evaluation.likelihood import evaluate_elbo, iwae_bound
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]


def make(seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    options = {"type": "vamp_vae", "network": "mlp", "data_shape": SHAPE, "latent_dim": 3,
               "network_options": {"hidden": [16]}, "num_pseudo_inputs": 6}
    return build_model({**options, **extra})


def batch(n: int = 8) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def log_normal(z: torch.Tensor, mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((z - mu) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def test_prior_is_the_uniform_mixture_of_the_pseudo_input_posteriors():
    model = make()
    pz = model.prior()
    assert isinstance(pz, MixtureSameFamily)
    assert pz.batch_shape == () and pz.event_shape == (3,)
    with torch.no_grad():
        q_u = model.encode(model.pseudo_inputs())
        mu, std = q_u.mean, q_u.stddev  # (K, D)
        z = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0)) * 2
        by_hand = torch.logsumexp(log_normal(z[..., None, :], mu, std), dim=-1) - math.log(6)
        torch.testing.assert_close(pz.log_prob(z), by_hand)


def test_prior_density_integrates_to_one_in_one_dimension():
    model = make(latent_dim=1, num_pseudo_inputs=4)
    with torch.no_grad():
        grid = torch.linspace(-30, 30, 60001, dtype=torch.float64)[:, None]
        density = model.double().prior().log_prob(grid).exp()
    assert float(torch.trapezoid(density, grid[:, 0])) == pytest.approx(1.0, abs=1e-6)


def test_pseudo_inputs_stay_in_the_data_range():
    model = make()
    assert tuple(model.pseudo_inputs().shape) == (6, *SHAPE)
    raw = model.pseudo_inputs_raw.detach()
    # Initialised like the authors' MNIST runs: N(0.05, 0.01), inside [0, 1].
    assert abs(float(raw.mean()) - 0.05) < 0.01 and 0 < float(raw.std()) < 0.02
    with torch.no_grad():
        raw.copy_(torch.linspace(-3, 3, raw.numel()).reshape(raw.shape))
    u = model.pseudo_inputs().detach()
    assert float(u.min()) == 0.0 and float(u.max()) == 1.0
    inside = (raw > 0) & (raw < 1)
    torch.testing.assert_close(u[inside], raw[inside])
    real = make(pseudo_input_range="real")
    with torch.no_grad():
        real.pseudo_inputs_raw.fill_(-2.0)
    assert float(real.pseudo_inputs().detach().max()) == -2.0  # unconstrained for real-valued data
    with pytest.raises(ConfigError, match="pseudo_input_range"):
        make(pseudo_input_range="positive")


def test_pseudo_inputs_can_start_from_training_data():
    model = make()
    x = batch(10)
    model.init_pseudo_inputs(x, noise_std=0.0)
    torch.testing.assert_close(model.pseudo_inputs(), x[:6])
    with pytest.raises(ShapeError, match="6 examples"):
        model.init_pseudo_inputs(x[:3])


def test_kl_is_the_monte_carlo_estimate_against_the_mixture():
    model = make()
    x = batch()
    ctx = LossContext(kl_weight=0.5)
    torch.manual_seed(7)
    out = model.loss(x, ctx)
    torch.manual_seed(7)
    qz_x = model.encode(x)
    z = qz_x.rsample()  # the same draw as the loss's
    kl = qz_x.log_prob(z) - model.prior().log_prob(z)
    torch.testing.assert_close(out["kl"], kl.mean())
    torch.testing.assert_close(out["loss"], out["recon"] + 0.5 * out["kl"])
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    # The prior term trains the pseudo-inputs.
    model.zero_grad()
    out["kl"].backward()
    assert model.pseudo_inputs_raw.grad.abs().sum() > 0


def test_sampling_follows_the_mixture_and_is_reproducible():
    model = make(num_pseudo_inputs=1)
    with torch.no_grad():
        component = model.encode(model.pseudo_inputs())
        draws = model.sample_prior(20000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(draws.mean(0), component.mean[0], atol=0.03, rtol=0)
    torch.testing.assert_close(draws.std(0), component.stddev[0], atol=0.0, rtol=0.03)
    model = make()
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    b = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (4, *SHAPE)


def test_likelihood_evaluation_works_through_the_base_class():
    model = make()
    x = batch(16)
    elbo = evaluate_elbo(model, x, num_samples=20, seed=0)
    assert elbo["kl"] > -1.0  # a KL estimate averaged over many draws: not far below zero
    bound = iwae_bound(model, x, num_samples=200, seed=0)
    assert bound.shape == (16,) and torch.isfinite(bound).all()
    assert float(bound.mean()) >= elbo["elbo"] - 0.05  # L_K tightens the ELBO
    single = iwae_bound(model, x, num_samples=1, seed=1)
    assert float(single.mean()) <= float(bound.mean())


def test_trains_through_the_engine(tmp_path):
    config = load_experiment(None, [
        "model.type=vamp_vae", "model.num_pseudo_inputs=20", "model.network=mlp",
        "model.latent_dim=3", "model.network_options={hidden: [32]}", "data.name=test_blobs",
        "data.val_size=32", "train.max_steps=60", "train.batch_size=16", "train.lr=5e-3",
        "train.val_every=30", "train.val_batches=1", "train.log_every=1",
        "train.progress_bar=false", "train.loggers=[csv]", f"run_dir={tmp_path / 'run'}",
    ])
    result = train(config)
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])
    assert {"train/kl", "train/elbo", "val/elbo"} <= set(rows[0])
    u = result.model.pseudo_inputs().detach()
    assert 0 <= float(u.min()) and float(u.max()) <= 1
