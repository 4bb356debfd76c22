"""Hyperspherical VAE (svae) and Poincaré-ball VAE (pvae): posteriors, bounds, training."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from torch.distributions import kl_divergence

import vaekit.models.pvae  # noqa: F401  (registers "pvae")
import vaekit.models.svae  # noqa: F401  (registers "svae")
from vaekit.errors import ConfigError
from vaekit.evaluation.likelihood import estimate_nll, evaluate_elbo
from vaekit.models import LossContext, build_model
from vaekit.training import load_experiment, train


def make(model_type: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": (1, 6, 6),
                        "latent_dim": 3, "network_options": {"hidden": [32]}, **extra})


def binary_batch(n: int = 8, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def read_curve(run_dir: Path) -> list[float]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]


def train_curve(tmp_path: Path, model_type: str, *extra: str) -> list[float]:
    config = load_experiment(None, [
        f"model.type={model_type}", "model.network=mlp", "model.latent_dim=3",
        "model.network_options={hidden: [64]}", *extra, "data.name=test_blobs",
        "data.val_size=32", "train.batch_size=32", "train.max_steps=60", "train.lr=5e-3",
        "train.log_every=5", "train.val_every=30", "train.progress_bar=false",
        "train.loggers=[csv]", f"run_dir={tmp_path / model_type}"])
    result = train(config)
    assert math.isfinite(result.metrics["val/loss"])
    return read_curve(tmp_path / model_type)


# --------------------------------------------------------------------------------- svae
def test_svae_posterior_is_a_vmf_on_the_sphere_and_the_kl_is_analytic():
    model, x = make("svae"), binary_batch()
    qz_x = model.encode(x)
    torch.testing.assert_close(qz_x.loc.norm(dim=-1), torch.ones(len(x)))
    assert torch.all(qz_x.concentration > 1.0)  # softplus + 1
    torch.manual_seed(0)
    out = model.loss(x)
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    torch.testing.assert_close(out["kl"], kl_divergence(qz_x, model.prior()).mean())
    z = model.sample_prior(5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(5))
    assert model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 1, 6, 6)
    assert model.reconstruct(x).shape == x.shape


def test_svae_importance_weights_average_to_the_elbo():
    """E_q[log w] = ELBO: the sampled log p - log q and the analytic vMF KL agree."""
    model, x = make("svae"), binary_batch(3)
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 20000, torch.Generator().manual_seed(0))
        recon, kl = model.elbo_terms(x, 20000, torch.Generator().manual_seed(1))
    stderr = log_w.std(0) / math.sqrt(len(log_w))
    assert torch.all((log_w.mean(0) + recon + kl).abs() < 5 * stderr + 0.02)
    nll = estimate_nll(model, x, num_samples=100, seed=0)["nll"]
    assert -nll > evaluate_elbo(model, x, num_samples=100, seed=0)["elbo"]


def test_svae_score_correction_changes_gradients_not_values():
    plain, corrected = make("svae"), make("svae", score_correction=True)
    x = binary_batch()
    torch.manual_seed(3)
    a = plain.loss(x)
    torch.manual_seed(3)
    b = corrected.loss(x)
    torch.testing.assert_close(a["loss"], b["loss"])
    a["loss"].backward()
    b["loss"].backward()
    last = [n for n, _ in plain.named_parameters() if n.startswith("encoder")][-2]  # weight
    grad_a = dict(plain.named_parameters())[last].grad
    grad_b = dict(corrected.named_parameters())[last].grad
    assert torch.isfinite(grad_b).all() and not torch.allclose(grad_a, grad_b)


def test_svae_config_errors():
    with pytest.raises(ConfigError, match="latent_dim"):
        make("svae", latent_dim=1)
    with pytest.raises(ConfigError, match="model.prior"):
        make("svae", prior="vamp")


# --------------------------------------------------------------------------------- pvae
def test_pvae_codes_live_in_the_ball_and_the_kl_is_monte_carlo():
    model, x = make("pvae", curvature=2.0), binary_batch()
    qz_x = model.encode(x)
    assert torch.all(qz_x.loc.norm(dim=-1) < 1 / math.sqrt(2.0))
    torch.manual_seed(0)
    z = qz_x.rsample()
    torch.manual_seed(0)
    out = model.loss(x)
    expected_kl = (qz_x.log_prob(z) - model.prior().log_prob(z)).mean()
    torch.testing.assert_close(out["kl"], expected_kl)
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    z = model.sample_prior(6, torch.Generator().manual_seed(0))
    assert torch.all(z.norm(dim=-1) < 1 / math.sqrt(2.0))
    assert torch.equal(z, model.sample_prior(6, torch.Generator().manual_seed(0)))


def test_pvae_decoder_sees_the_log_map_and_is_defined_everywhere():
    model = make("pvae")
    z = model.ball.expmap0(torch.randn(4, 3))
    base = super(type(model), model).decode(model.ball.logmap0(z))
    torch.testing.assert_close(model.decode(z).mean, base.mean)
    outside = torch.tensor([[5.0, 0.0, 0.0], [0.0, -30.0, 2.0]])
    assert torch.isfinite(model.decode(outside).mean).all()


def test_pvae_importance_weights_average_to_the_elbo():
    model, x = make("pvae"), binary_batch(3)
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 20000, torch.Generator().manual_seed(0))
        recon, kl = model.elbo_terms(x, 20000, torch.Generator().manual_seed(1))
    stderr = log_w.std(0) / math.sqrt(len(log_w))
    assert torch.all((log_w.mean(0) + recon + kl).abs() < 5 * stderr + 0.02)


def test_pvae_config_errors():
    with pytest.raises(ConfigError, match="curvature"):
        make("pvae", curvature=0.0)
    with pytest.raises(ConfigError, match="prior_scale"):
        make("pvae", prior_scale=-1.0)


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("model_type", ["svae", "pvae"])
def test_training_through_the_engine_lowers_the_loss(tmp_path, model_type):
    curve = train_curve(tmp_path, model_type)
    assert len(curve) >= 10
    start, end = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert end < 0.8 * start


def test_kl_warmup_weights_the_kl():
    model, x = make("svae"), binary_batch()
    torch.manual_seed(0)
    out = model.loss(x, LossContext(kl_weight=0.25))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.25 * out["kl"])
