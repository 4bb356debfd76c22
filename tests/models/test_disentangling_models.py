"""The disentangling models: beta-TCVAE (Chen et al. 2018), FactorVAE (Kim & Mnih 2018) and
DIP-VAE (Kumar et al. 2018): their losses, their special parts, and training through the
engine."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.dip_vae import batch_covariance, dip_covariance, dip_penalty
from vaekit.models.factor_vae import Z_CACHE_KEY
from vaekit.nn.discriminator import FactorDiscriminator, permute_dims
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]
SMALL_DISCRIMINATOR = {"discriminator_hidden": 32, "discriminator_layers": 2}
MODELS = {
    "beta_tcvae": {"dataset_size": 64},
    "factor_vae": SMALL_DISCRIMINATOR,
    "dip_vae": {},
}


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: one thread avoids contention on the shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": SHAPE,
                        "latent_dim": 3, "network_options": {"hidden": [16]},
                        **MODELS.get(model_type, {}), **extra})


def batch(n: int = 16) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(1)) > 0.5).float()


def _has_grad(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


# ------------------------------------------------------------------------------- all three
@pytest.mark.parametrize(("model_type", "extra"), [
    ("beta_tcvae", {}), ("beta_tcvae", {"estimator": "mws"}), ("factor_vae", {}),
    ("factor_vae", {"discriminator_hidden": 1000, "discriminator_layers": 6}),
    ("dip_vae", {}), ("dip_vae", {"variant": "ii"}),
])
def test_builds_gives_finite_terms_and_trains_encoder_and_decoder(model_type, extra):
    model = make(model_type, **extra)
    assert model.config.config_type == model_type
    ctx = LossContext(step=3, kl_weight=0.5)
    x = batch()
    for group in model.optimizer_groups():
        model.zero_grad()
        out = model.loss(x, ctx, group)
        assert out["loss"].dim() == 0
        assert all(torch.isfinite(v) for v in out.values()), out
        out["loss"].backward()
        if group == "model":
            assert _has_grad(model.encoder) and _has_grad(model.decoder)
    expected = {"beta_tcvae": {"mi", "tc", "dim_kl", "kl", "elbo"},
                "factor_vae": {"tc", "kl", "elbo"}, "dip_vae": {"dip", "kl", "elbo"}}
    assert expected[model_type] <= set(model.loss(x, LossContext()))


# ---------------------------------------------------------------------------- beta-TCVAE
def test_beta_tcvae_needs_the_dataset_size():
    model = make("beta_tcvae", dataset_size=None)
    with pytest.raises(ConfigError, match="model.dataset_size"):
        model.loss(batch())
    with pytest.raises(ConfigError, match="model.estimator"):
        make("beta_tcvae", estimator="exact")
    with pytest.raises(ConfigError, match="free_bits"):
        make("beta_tcvae").loss(batch(), LossContext(free_bits=0.5))


def test_beta_tcvae_weights_the_three_terms():
    model = make("beta_tcvae", alpha=2.0, beta=5.0, gamma=3.0)
    torch.manual_seed(4)
    out = model.loss(batch(), LossContext(kl_weight=0.5))
    expected = out["recon"] + 0.5 * (2 * out["mi"] + 5 * out["tc"] + 3 * out["dim_kl"])
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_with_unit_weights_is_the_elbo_in_expectation(estimator):
    """alpha = beta = gamma = 1: the terms telescope to the sampled KL, so the loss is the
    negative ELBO with a Monte-Carlo KL; over many draws it averages to the VAE's loss (whose
    KL is analytic). Same weights and the same noise, so the difference is the KL's noise."""
    tc = make("beta_tcvae", alpha=1.0, beta=1.0, gamma=1.0, estimator=estimator)
    vae = make("vae")
    vae.load_state_dict(tc.state_dict())
    x = batch()
    diffs = []
    with torch.no_grad():
        for seed in range(300):
            torch.manual_seed(seed)
            a = tc.loss(x)
            torch.manual_seed(seed)
            b = vae.loss(x)
            torch.testing.assert_close(a["recon"], b["recon"])  # the same z
            diffs.append(a["loss"] - b["loss"])
    d = torch.stack(diffs)
    assert d.std() > 0  # a sampled KL, not the analytic one
    assert abs(float(d.mean())) < 4 * float(d.std()) / math.sqrt(len(d))


# ----------------------------------------------------------------------------- FactorVAE
def test_permute_dims_shuffles_each_dimension_independently():
    z = torch.arange(200.0).reshape(100, 2)
    z[:, 1] += 1000
    perm = permute_dims(z, torch.Generator().manual_seed(0))
    for j in range(2):  # each column is a permutation of itself ...
        assert torch.equal(perm[:, j].sort().values, z[:, j])
    # ... and the two permutations differ, so rows are broken up.
    assert not torch.equal(perm[:, 0].argsort(), perm[:, 1].argsort())


def test_discriminator_is_the_papers_mlp():
    d = FactorDiscriminator(10)
    linears = [m for m in d if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1000] * 6 + [2]
    assert all(m.negative_slope == 0.2 for m in d if isinstance(m, torch.nn.LeakyReLU))


def test_density_ratio_trick_recovers_the_total_correlation():
    """Trained to tell a correlated 2-D Gaussian from its dimension-wise permutation, the
    discriminator's mean logit difference estimates KL(q(z) || q(z_1) q(z_2)) =
    -0.5 log(1 - rho^2), through FactorVAE's own discriminator loss."""
    torch.manual_seed(0)
    rho = 0.8
    analytic = -0.5 * math.log(1 - rho**2)
    model = build_model({"type": "factor_vae", "network": "mlp", "data_shape": SHAPE,
                         "latent_dim": 2, "network_options": {"hidden": [8]},
                         "discriminator_hidden": 64, "discriminator_layers": 2})
    scale = torch.tensor([[1.0, 0.0], [rho, math.sqrt(1 - rho**2)]])
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=2e-3)
    x = batch(2)  # unused: the samples come through the cache
    for _ in range(400):
        ctx = LossContext(cache={Z_CACHE_KEY: torch.randn(512, 2) @ scale.T})
        optimizer.zero_grad()
        model.loss(x, ctx, "discriminator")["loss"].backward()
        optimizer.step()
    with torch.no_grad():
        z = torch.randn(20000, 2) @ scale.T
        estimate = FactorDiscriminator.log_ratio(model.discriminator(z)).mean()
        # The VAE group's TC uses the same (frozen) discriminator.
        frozen = FactorDiscriminator.log_ratio(model.frozen_discriminator_logits(z)).mean()
    torch.testing.assert_close(frozen, estimate)
    assert abs(float(estimate) - analytic) < 0.1, (float(estimate), analytic)


def test_factor_vae_groups_update_only_their_own_parameters():
    model = make("factor_vae")
    groups = model.optimizer_groups()
    assert list(groups) == ["model", "discriminator"]
    disc = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in groups["discriminator"]} == disc
    assert not disc & {id(p) for p in groups["model"]}
    assert len(groups["model"]) + len(groups["discriminator"]) == len(list(model.parameters()))
    assert model.optimizer_options("discriminator") == {"lr": 1e-4, "betas": (0.5, 0.9)}
    assert model.optimizer_options("model") == {}

    optimizers = {name: torch.optim.Adam(params, lr=1e-2) for name, params in groups.items()}
    ctx = LossContext()
    x = batch()
    for name, optimizer in optimizers.items():  # the engine's order: VAE, then discriminator
        before = {k: v.clone() for k, v in model.state_dict().items()}
        model.zero_grad(set_to_none=True)
        out = model.loss(x, ctx, name)
        out["loss"].backward()
        optimizer.step()
        after = model.state_dict()
        changed = {k for k in before if not torch.equal(before[k], after[k])}
        if name == "model":
            # The TC term's gradient stops at the (frozen) discriminator.
            assert all(p.grad is None for p in model.discriminator.parameters())
            assert changed and not any(k.startswith("discriminator.") for k in changed)
            assert Z_CACHE_KEY in ctx.cache and not ctx.cache[Z_CACHE_KEY].requires_grad
        else:
            assert all(p.grad is None for p in groups["model"])  # detached z
            assert changed and all(k.startswith("discriminator.") for k in changed)
            assert 0 <= float(out["disc_accuracy"]) <= 1
            assert {"disc_loss", "disc_accuracy", "tc"} <= set(out)


def test_the_engine_gives_the_discriminator_its_own_adam_settings():
    from vaekit.training.config import TrainConfig
    from vaekit.training.module import VAEModule

    optimizers = VAEModule(make("factor_vae"), TrainConfig(lr=5e-4)).configure_optimizers()
    assert [o.param_groups[0]["lr"] for o in optimizers] == [5e-4, 1e-4]
    assert [tuple(o.param_groups[0]["betas"]) for o in optimizers] == [(0.9, 0.999), (0.5, 0.9)]


def test_factor_vae_loss_is_elbo_plus_gamma_tc():
    model = make("factor_vae", gamma=7.0)
    torch.manual_seed(2)
    out = model.loss(batch(), LossContext(kl_weight=0.25))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.25 * out["kl"] + 7.0 * out["tc"])


# ------------------------------------------------------------------------------- DIP-VAE
def whitened(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """n points whose batch covariance is exactly the identity."""
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    chol = torch.linalg.cholesky(x.T @ x / n)
    return torch.linalg.solve_triangular(chol, x.T, upper=False).T


def test_dip_penalty_is_zero_at_the_identity_and_grows_with_correlation():
    mu = whitened(200, 3)
    torch.testing.assert_close(batch_covariance(mu), torch.eye(3, dtype=torch.float64))
    assert float(dip_penalty(dip_covariance(mu, torch.zeros_like(mu), "i"), 10, 100)) < 1e-20
    # DIP-VAE-II adds E[sigma^2] to the diagonal: Cov[mu] = 0.75 I plus sigma = 0.5 is I.
    std = torch.full_like(mu, 0.5)
    cov_ii = dip_covariance(math.sqrt(0.75) * mu, std, "ii")
    torch.testing.assert_close(cov_ii, torch.eye(3, dtype=torch.float64))
    penalties = []
    for rho in (0.0, 0.3, 0.6, 0.9):
        sigma = torch.eye(3, dtype=torch.float64)
        sigma[0, 1] = sigma[1, 0] = rho
        correlated = mu @ torch.linalg.cholesky(sigma).T
        penalty = dip_penalty(dip_covariance(correlated, std, "i"), 10.0, 100.0)
        torch.testing.assert_close(penalty, torch.tensor(10.0 * 2 * rho**2,
                                                         dtype=torch.float64))
        penalties.append(float(penalty))
    assert penalties == sorted(penalties) and penalties[0] < 1e-20 < penalties[1]
    # The diagonal term: a variance of 2 costs lambda_d * (2 - 1)^2.
    torch.testing.assert_close(dip_penalty(torch.diag(torch.tensor([2.0, 1.0])), 10.0, 100.0),
                               torch.tensor(100.0))


def test_dip_vae_defaults_and_loss():
    assert make("dip_vae").config.lambda_d == 100.0  # lambda_d = 10 * lambda_od for DIP-VAE-I
    assert make("dip_vae", variant="ii").config.lambda_d == 10.0  # = lambda_od for DIP-VAE-II
    assert make("dip_vae", lambda_d_factor=2.0, lambda_od=3.0).config.lambda_d == 6.0
    model = make("dip_vae", variant="ii")
    x = batch()
    torch.manual_seed(3)
    out = model.loss(x, LossContext(kl_weight=0.5))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.5 * out["kl"] + out["dip"])
    with torch.no_grad():
        qz_x = model.encode(x)
        expected = dip_penalty(dip_covariance(qz_x.mean, qz_x.stddev, "ii"), 10.0, 10.0)
    torch.testing.assert_close(out["dip"], expected)


# ----------------------------------------------------------------------- with the engine
BASE = [
    "model.network=mlp", "model.latent_dim=3", "model.network_options={hidden: [16]}",
    "data.name=test_blobs", "data.val_size=32", "train.max_steps=6", "train.batch_size=16",
    "train.val_every=5", "train.val_batches=1", "train.log_every=1", "train.progress_bar=false",
    "train.loggers=[csv]",
]


@pytest.mark.parametrize(("model_type", "extra"), [
    ("beta_tcvae", []),
    ("factor_vae", ["model.discriminator_hidden=32", "model.discriminator_layers=2"]),
    ("dip_vae", ["model.variant=ii"]),
])
def test_trains_through_the_engine(tmp_path: Path, model_type, extra):
    config = load_experiment(None, [*BASE, f"model.type={model_type}", *extra,
                                    f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    assert result.steps == 6
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    columns = set(rows[0])
    if model_type == "factor_vae":  # two optimisers, each logged under its group
        assert {"train/model/tc", "train/discriminator/disc_loss",
                "train/discriminator/disc_accuracy"} <= columns
    else:
        assert {"train/loss", "train/elbo"} <= columns
    losses = [float(r[c]) for r in rows for c in r if c.endswith("/loss") and r[c]]
    assert losses and all(math.isfinite(v) for v in losses)
    if model_type == "beta_tcvae":  # the engine filled in the training-set size
        assert result.model.config.dataset_size == 256 - 32
        assert "train/tc" in columns
