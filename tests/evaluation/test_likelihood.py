"""Properties of the ELBO and importance-weighted log-likelihood estimates."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import kl_divergence
from torch.utils.data import DataLoader, TensorDataset

from vaekit.evaluation import estimate_nll, evaluate_elbo, iwae_bound
from vaekit.models import build_model

SHAPE = (1, 6, 6)
LATENT = 3


def tiny_model(seed: int = 0, model_type: str = "vae"):
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": list(SHAPE),
                        "latent_dim": LATENT, "network_options": {"hidden": [32]}})


def binary_data(n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((n, *SHAPE), generator=gen) > 0.5).float()


def make_decoder_ignore_z(model) -> None:
    """Zero the decoder's first layer, so p(x|z) = p(x) for every z (then log p(x) is exact)."""
    first = model.decoder[0]
    with torch.no_grad():
        first.weight.zero_()


def make_encoder_constant(model, mu: float, std: float) -> None:
    """q(z|x) = N(mu, std^2) for every x: zero the last encoder layer and set its bias."""
    last = model.encoder[-1]
    pre_std = math.log(math.expm1(std - model.posterior_head.min_std))  # softplus^-1
    with torch.no_grad():
        last.weight.zero_()
        last.bias[:LATENT] = mu
        last.bias[LATENT:] = pre_std


def exact_log_px(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.decode(torch.zeros(len(x), LATENT)).log_prob(x)


def test_iwae_with_one_sample_is_the_elbo_in_expectation():
    model, x = tiny_model(), binary_data(4)
    reps = 4000
    # Repeating the batch gives `reps` independent single-sample bounds per example.
    b1 = iwae_bound(model, x.repeat(reps, 1, 1, 1), num_samples=1, seed=3)
    b1 = b1.double().view(reps, len(x))
    # Reference: analytic-KL ELBO with an independent Monte-Carlo reconstruction term.
    torch.manual_seed(4)
    with torch.no_grad():
        qz = model.encode(x)
        log_px_z = model.decode(qz.sample((reps,))).log_prob(x).double()  # (reps, B)
        kl = kl_divergence(qz, model.prior()).double()
    ref = log_px_z.mean(0) - kl
    stderr = torch.sqrt(b1.var(0) / reps + log_px_z.var(0) / reps)
    assert torch.all((b1.mean(0) - ref).abs() < 4 * stderr), (b1.mean(0), ref, stderr)
    # evaluate_elbo estimates the same quantity, averaged over the examples.
    elbo = evaluate_elbo(model, x, num_samples=reps, seed=5)
    assert elbo["elbo"] == pytest.approx(float(ref.mean()), abs=4 * float(stderr.max()))
    assert elbo["kl"] == pytest.approx(float(kl.mean()), rel=1e-6)  # analytic: no noise


def test_iwae_bound_tightens_with_more_samples():
    model, x = tiny_model(), binary_data(4)
    reps = 300
    xr = x.repeat(reps, 1, 1, 1)
    means, errs = [], []
    for k in (1, 5, 50):
        b = iwae_bound(model, xr, num_samples=k, seed=k).double()
        means.append(float(b.mean()))
        errs.append(float(b.std()) / math.sqrt(len(b)))
    for (m_lo, e_lo), (m_hi, e_hi) in zip(zip(means, errs), zip(means[1:], errs[1:])):
        assert m_hi > m_lo - 3 * math.hypot(e_lo, e_hi), means
    # For an untrained model the posterior is a poor proposal, so the gain is large.
    assert means[2] - means[0] > 10 * math.hypot(errs[0], errs[2]), means


def test_bound_is_exact_when_every_weight_is_equal():
    """q = p and p(x|z) = p(x): every log weight is log p(x), so L_K = log p(x) for any K and any
    chunking (a wrong log K or a lost chunk would show here)."""
    model, x = tiny_model(), binary_data(5)
    make_decoder_ignore_z(model)
    make_encoder_constant(model, mu=0.0, std=1.0)
    exact = exact_log_px(model, x)
    for k, chunk in ((1, None), (7, 3), (50, 1), (64, None)):
        got = iwae_bound(model, x, num_samples=k, chunk_size=chunk, seed=0)
        torch.testing.assert_close(got, exact, atol=2e-3, rtol=0)


def test_5000_sample_estimate_matches_exact_log_likelihood():
    """p(x|z) = p(x) but q != p: the weights vary, the estimate converges to log p(x)."""
    model, x = tiny_model(), binary_data(6)
    make_decoder_ignore_z(model)
    make_encoder_constant(model, mu=0.3, std=1.2)  # a wide proposal: finite weight variance
    exact = exact_log_px(model, x)
    # 700 does not divide 5000: the last chunk is partial.
    got = iwae_bound(model, x, num_samples=5000, chunk_size=700, seed=0)
    assert torch.all((got - exact).abs() < 0.05), (got, exact)
    # With only one sample the same estimator is visibly off for some example.
    assert torch.any((iwae_bound(model, x, 1, seed=0) - exact).abs() > 0.05)
    nll = estimate_nll(model, x, num_samples=5000, seed=0)
    assert nll["nll"] == pytest.approx(float(-exact.mean()), abs=0.05)


def test_estimate_nll_bits_per_dim_and_seeding():
    model, x = tiny_model(), binary_data(10)
    out = estimate_nll(model, x, num_samples=20, batch_size=10, seed=7)
    assert out["num_examples"] == 10 and out["num_samples"] == 20
    dims = math.prod(SHAPE)
    assert out["bits_per_dim"] == pytest.approx(out["nll"] / (dims * math.log(2)), rel=1e-12)
    # nll is minus the mean bound drawn with the same seed.
    bound = iwae_bound(model, x, 20, seed=7)
    assert out["nll"] == pytest.approx(-float(bound.double().mean()), rel=1e-6)
    assert out["nll_stderr"] == pytest.approx(
        float(bound.double().std() / math.sqrt(10)), rel=1e-4)
    # Same seed, same numbers; another seed, other numbers.
    assert estimate_nll(model, x, num_samples=20, batch_size=10, seed=7) == out
    assert estimate_nll(model, x, num_samples=20, batch_size=10, seed=8)["nll"] != out["nll"]
    gen = torch.Generator().manual_seed(7)
    assert estimate_nll(model, x, num_samples=20, batch_size=10, generator=gen) == out


def test_dataloader_tensor_and_max_examples_agree():
    model, x = tiny_model(), binary_data(10)
    loader = DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=3)  # (x, y) batches
    from_tensor = evaluate_elbo(model, x, batch_size=3, seed=0, num_samples=2)
    from_loader = evaluate_elbo(model, loader, batch_size=3, seed=0, num_samples=2)
    assert from_tensor == from_loader
    assert from_tensor["elbo"] == pytest.approx(-(from_tensor["recon"] + from_tensor["kl"]))
    part = estimate_nll(model, loader, num_samples=4, max_examples=5, seed=0)
    assert part["num_examples"] == 5
    assert part == estimate_nll(model, x[:5], num_samples=4, batch_size=3, seed=0)


def test_evaluation_is_generic_and_leaves_the_model_as_it_was():
    model = tiny_model(model_type="iwae")
    x = binary_data(4)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        log_w = model.log_weights(x, 3)
    out = evaluate_elbo(model, x, seed=0)
    nll = estimate_nll(model, x, num_samples=3, seed=0)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert math.isfinite(out["elbo"]) and math.isfinite(nll["nll"])
    assert log_w.shape == (3, 4)


def test_single_example_and_bad_arguments():
    model, x = tiny_model(), binary_data(2)
    assert iwae_bound(model, x[0], 3, seed=0).shape == (1,)
    with pytest.raises(ValueError, match="num_samples"):
        iwae_bound(model, x, 0)
    with pytest.raises(ValueError, match="shape"):
        iwae_bound(model, torch.zeros(2, 1, 5, 5), 3)
    with pytest.raises(ValueError, match="no data"):
        evaluate_elbo(model, [])


def test_binary_cross_entropy_reference():
    """recon is -log p(x|z) of the Bernoulli decoder: the summed BCE at the sampled z."""
    model, x = tiny_model(), binary_data(3)
    make_encoder_constant(model, mu=0.0, std=1e-3)  # z ~ 0 (almost deterministic)
    with torch.no_grad():
        logits = model.decoder(torch.zeros(3, LATENT))
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    out = evaluate_elbo(model, x, seed=0)
    assert out["recon"] == pytest.approx(float(bce.mean()), abs=1e-2)
