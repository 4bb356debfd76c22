"""Hamiltonian VAE: volume preservation, tempering bookkeeping, reduction to the ELBO, training."""

from __future__ import annotations

import csv
import math

import pytest
import torch

import vaekit.models.hamiltonian_vae  # noqa: F401  (registers "hamiltonian_vae")
from vaekit.errors import ConfigError
from vaekit.models import build_model
from vaekit.training import load_experiment, train


def make(seed: int = 0, dtype: torch.dtype = torch.float32, **extra):
    torch.manual_seed(seed)
    config = {"type": "hamiltonian_vae", "network": "mlp", "data_shape": (1, 3, 3),
              "latent_dim": 2, "network_options": {"hidden": [8]}, **extra}
    return build_model(config).to(dtype)


def binary_batch(n: int = 5, seed: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 3, 3, generator=g) > 0.5).to(dtype)


def flow_jacobian_det(model, x: torch.Tensor) -> float:
    """det d(z_K, rho_K) / d(z_0, rho_0) for one example, by autograd."""
    d = model.latent_dim

    def flow(state):
        z_k, rho_k = model.flow(x, state[:d].unsqueeze(0), state[d:].unsqueeze(0))
        return torch.cat([z_k[0], rho_k[0]])

    state = torch.randn(2 * d, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    return float(torch.linalg.det(torch.autograd.functional.jacobian(flow, state)))


def test_leapfrog_without_tempering_preserves_volume():
    model = make(dtype=torch.float64, num_leapfrog_steps=3, init_temperature=1.0,
                 init_step_size=0.3)
    assert float(model.sqrt_betas().min()) == 1.0  # T_0 = 1: no tempering
    x = binary_batch(1, dtype=torch.float64)
    assert flow_jacobian_det(model, x) == pytest.approx(1.0, abs=1e-9)
    # The flow does move the state (the test is not of the identity map).
    z0, rho0 = torch.zeros(1, 2, dtype=torch.float64), torch.ones(1, 2, dtype=torch.float64)
    z_k, _ = model.flow(x, z0, rho0)
    assert float((z_k.detach() - z0).abs().max()) > 0.1


def test_tempering_scales_volume_by_beta0_to_the_half_dimension():
    model = make(dtype=torch.float64, num_leapfrog_steps=4, init_temperature=2.5)
    x = binary_batch(1, dtype=torch.float64)
    beta0 = 1 / 2.5
    assert flow_jacobian_det(model, x) == pytest.approx(beta0 ** (model.latent_dim / 2), rel=1e-8)


def test_tempering_schedule_runs_from_beta0_to_one():
    model = make(num_leapfrog_steps=5, init_temperature=1.5)
    sqrt_betas = model.sqrt_betas().detach()
    assert sqrt_betas.shape == (6,)
    assert float(sqrt_betas[0] ** 2) == pytest.approx(1 / 1.5, rel=1e-6)
    assert float(sqrt_betas[-1]) == pytest.approx(1.0)
    assert torch.all(sqrt_betas[1:] > sqrt_betas[:-1])  # cooling: beta increases
    # Quadratic in k for 1/sqrt(beta_k) (Caterini et al. 2018's fixed tempering scheme).
    k = torch.arange(6) / 5
    expected = (1 - math.sqrt(1.5)) * k**2 + math.sqrt(1.5)
    torch.testing.assert_close(1 / sqrt_betas, expected)


def vae_elbo(model, x: torch.Tensor, seed: int) -> torch.Tensor:
    """The single-sample VAE ELBO with the same z0 draw as the HVAE loss under ``seed``."""
    torch.manual_seed(seed)
    qz_x = model.encode(x)
    z0 = qz_x.rsample()
    return (model.decode(z0).log_prob(x) + model.prior().log_prob(z0) - qz_x.log_prob(z0)).mean()


def test_zero_steps_is_the_vae_elbo():
    model, x = make(num_leapfrog_steps=0), binary_batch()
    torch.manual_seed(4)
    out = model.loss(x)
    torch.testing.assert_close(out["elbo"], vae_elbo(model, x, 4))
    torch.testing.assert_close(out["loss"], -out["elbo"])


def test_zero_step_size_with_tempering_is_the_vae_elbo():
    """eps = 0 leaves z alone and only tempers the momentum; the momentum terms and the
    tempering log-Jacobian must then cancel exactly."""
    model, x = make(num_leapfrog_steps=3, init_temperature=2.0), binary_batch()
    with torch.no_grad():
        model.raw_step_size.fill_(-math.inf)  # sigmoid(-inf) = 0
    torch.manual_seed(5)
    out = model.loss(x)
    torch.testing.assert_close(out["elbo"], vae_elbo(model, x, 5))


def test_hamiltonian_flow_changes_the_bound_and_trains_step_sizes_and_temperature():
    model, x = make(num_leapfrog_steps=3), binary_batch()
    torch.manual_seed(6)
    out = model.loss(x)
    assert not torch.allclose(out["elbo"], vae_elbo(model, x, 6))
    out["loss"].backward()
    assert float(model.raw_step_size.grad.abs().sum()) > 0
    assert float(model.raw_temperature.grad.abs()) > 0
    assert float(out["beta0"]) == pytest.approx(1 / 1.5, rel=1e-5)


def test_evaluation_without_autograd_and_importance_weights():
    model, x = make(num_leapfrog_steps=2), binary_batch(3)
    with torch.inference_mode():  # what Lightning's validation loop does
        out = model.loss(x.clone())
    assert torch.isfinite(out["loss"])
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 4000, torch.Generator().manual_seed(0))
        recon, kl = model.elbo_terms(x, 4000, torch.Generator().manual_seed(1))
    assert log_w.shape == (4000, 3)
    stderr = log_w.std(0) / math.sqrt(len(log_w))
    assert torch.all((log_w.mean(0) + recon + kl).abs() < 5 * stderr + 0.05)
    iwae = torch.logsumexp(log_w, 0) - math.log(len(log_w))
    assert torch.all(iwae > log_w.mean(0))
    again = model.log_importance_weights(x, 5, torch.Generator().manual_seed(2))
    torch.testing.assert_close(again, model.log_importance_weights(
        x, 5, torch.Generator().manual_seed(2)))


def test_config_errors():
    with pytest.raises(ConfigError, match="init_temperature"):
        make(init_temperature=0.5)
    with pytest.raises(ConfigError, match="init_step_size"):
        make(init_step_size=0.6, max_step_size=0.5)
    with pytest.raises(ConfigError, match="num_leapfrog_steps"):
        make(num_leapfrog_steps=-1)


def test_training_through_the_engine_lowers_the_loss(tmp_path):
    config = load_experiment(None, [
        "model.type=hamiltonian_vae", "model.network=mlp", "model.latent_dim=3",
        "model.num_leapfrog_steps=3", "model.network_options={hidden: [64]}",
        "data.name=test_blobs", "data.val_size=32", "train.batch_size=32",
        "train.max_steps=60", "train.lr=5e-3", "train.log_every=5", "train.val_every=30",
        "train.progress_bar=false", "train.loggers=[csv]", f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    assert math.isfinite(result.metrics["val/loss"])  # validation runs under inference_mode
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        curve = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(curve) >= 10
    assert sum(curve[-3:]) / 3 < 0.8 * sum(curve[:3]) / 3
