"""MMD (Gretton et al. 2012) and the models built on it: WAE-MMD (Tolstikhin et al. 2018) and
InfoVAE-MMD (Zhao et al. 2019)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import vaekit.models.info_vae  # noqa: F401  (registration)
import vaekit.models.wae_mmd  # noqa: F401  (registration)
from vaekit.errors import ConfigError
from vaekit.evaluation.latents import encode_dataset
from vaekit.losses.mmd import kernel_matrix, mmd_biased, mmd_unbiased, squared_distances
from vaekit.models import BaseVAE, LossContext, build_model
from vaekit.models.autoencoder import POSTERIOR_STD
from vaekit.registry import DATASETS
from vaekit.training import load_experiment, train

SHAPE = [1, 8, 8]
KERNELS = ["rbf", "imq"]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make(model_type: str, seed: int = 0, **extra) -> BaseVAE:
    torch.manual_seed(seed)
    return build_model({"type": model_type, "network": "mlp", "data_shape": SHAPE,
                        "latent_dim": 3, "network_options": {"hidden": [16]}, **extra})


def batch(n: int = 16) -> torch.Tensor:
    return (torch.rand((n, *SHAPE), generator=gen(1)) > 0.5).float()


# ------------------------------------------------------------------------------------- MMD
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_width_is_two_d_sigma_squared_summed_over_scales(kernel):
    x = torch.zeros(1, 2)
    y = torch.tensor([[2.0, 0.0]])  # squared distance 4; C = 2 * 2 * 1.5^2 = 9 at scale 1
    one = kernel_matrix(x, y, kernel, bandwidth=1.5, scales=[1.0])
    expected = 9.0 / (9.0 + 4.0) if kernel == "imq" else torch.exp(torch.tensor(-4.0 / 9.0))
    torch.testing.assert_close(one, torch.full((1, 1), float(expected)))
    two = kernel_matrix(x, y, kernel, bandwidth=1.5, scales=[1.0, 2.0])
    torch.testing.assert_close(two, one + kernel_matrix(x, y, kernel, 1.5, [2.0]))


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernels_are_positive_definite_on_distinct_points(kernel):
    x = torch.randn(12, 3, generator=gen(0), dtype=torch.float64)
    gram = kernel_matrix(x, x, kernel)
    torch.testing.assert_close(gram, gram.T)
    assert torch.linalg.eigvalsh(gram).min() > 1e-8
    # ... and not by accident: a Gram matrix of repeated points is singular.
    repeated = kernel_matrix(torch.cat([x[:3], x[:3]]), torch.cat([x[:3], x[:3]]), kernel)
    assert torch.linalg.eigvalsh(repeated).min().abs() < 1e-8


def test_unbiased_mmd_matches_the_u_statistic_written_out():
    x = torch.randn(5, 2, generator=gen(0), dtype=torch.float64)
    y = torch.randn(7, 2, generator=gen(1), dtype=torch.float64) + 0.3
    k = lambda a, b: kernel_matrix(a[None], b[None], "imq")[0, 0]  # noqa: E731
    kxx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    kyy = sum(k(y[i], y[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    kxy = sum(k(x[i], y[j]) for i in range(5) for j in range(7)) / (5 * 7)
    torch.testing.assert_close(mmd_unbiased(x, y), kxx + kyy - 2 * kxy)
    torch.testing.assert_close(squared_distances(x, y), torch.cdist(x, y).pow(2))


@pytest.mark.parametrize("kernel", KERNELS)
def test_mmd_of_a_sample_with_itself_is_near_zero(kernel):
    x = torch.randn(400, 3, generator=gen(0), dtype=torch.float64)
    gram = kernel_matrix(x, x, kernel)
    # Exactly -2/n (k(x, x) - mean off-diagonal k): the cross term keeps the diagonal.
    off_diagonal = (gram.sum() - gram.trace()) / (400 * 399)
    expected = -2.0 / 400 * (gram.diagonal().mean() - off_diagonal)
    torch.testing.assert_close(mmd_unbiased(x, x, kernel), expected)
    assert abs(float(mmd_unbiased(x, x, kernel))) < 0.05 * float(gram.diagonal().mean())
    assert float(mmd_biased(x, x, kernel)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_unbiased_mmd_has_expectation_zero_for_equal_distributions(kernel):
    g = gen(3)
    unbiased, biased = [], []
    for _ in range(300):
        x, y = torch.randn(2, 10, 2, generator=g, dtype=torch.float64)
        unbiased.append(mmd_unbiased(x, y, kernel))
        biased.append(mmd_biased(x, y, kernel))
    unbiased, biased = torch.stack(unbiased), torch.stack(biased)
    stderr = unbiased.std() / 300**0.5
    assert abs(float(unbiased.mean())) < 4 * float(stderr)
    assert (unbiased < 0).any()  # unbiased, so it must go below zero sometimes
    assert float(biased.mean()) > 10 * float(biased.std() / 300**0.5)  # the V-statistic's bias


@pytest.mark.parametrize("kernel", KERNELS)
def test_mmd_grows_with_a_mean_shift(kernel):
    x = torch.randn(300, 2, generator=gen(0), dtype=torch.float64)
    y = torch.randn(300, 2, generator=gen(1), dtype=torch.float64)
    shift = torch.tensor([1.0, 0.0], dtype=torch.float64)
    values = [float(mmd_unbiased(x, y + s * shift, kernel)) for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values) and values[0] < 0.01 < values[1]


def test_mmd_gradient_moves_a_sample_onto_the_target():
    target = torch.randn(64, 2, generator=gen(0))
    z = (torch.randn(64, 2, generator=gen(1)) + 3.0).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=0.05)
    start = float(mmd_unbiased(z, target).detach())
    for _ in range(100):
        optimiser.zero_grad()
        mmd_unbiased(z, target).backward()
        optimiser.step()
    assert float(mmd_unbiased(z, target).detach()) < 0.05 * start
    # The bulk of the sample moved from around (3, 3) to around 0 (a few points lag behind).
    assert z.detach().median(0).values.abs().max() < 0.5


def test_mmd_errors():
    x = torch.randn(4, 2)
    with pytest.raises(ConfigError, match="gaussian"):
        mmd_unbiased(x, x, kernel="gaussian")
    with pytest.raises(ConfigError, match="bandwidth"):
        mmd_unbiased(x, x, bandwidth=0.0)
    with pytest.raises(ValueError, match="two points"):
        mmd_unbiased(x[:1], x)


# --------------------------------------------------------------------------------- WAE-MMD
def test_wae_defaults_are_the_papers():
    cfg = make("wae_mmd").config
    assert (cfg.reg_weight, cfg.kernel, cfg.kernel_bandwidth) == (10.0, "imq", 1.0)
    assert cfg.kernel_scales == [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
    with pytest.raises(ConfigError, match="kernel"):
        make("wae_mmd", kernel="laplace")
    with pytest.raises(ConfigError, match="reg_weight"):
        make("wae_mmd", reg_weight=-1.0)


def test_wae_loss_is_recon_plus_lambda_mmd_of_deterministic_codes():
    model = make("wae_mmd", reg_weight=7.0)
    x = batch()
    torch.manual_seed(4)
    out = model.loss(x)
    torch.testing.assert_close(out["loss"], out["recon"] + 7.0 * out["mmd"])
    codes = model.encoder(x)
    torch.testing.assert_close(out["recon"], -model.decode(codes).log_prob(x).mean())
    torch.manual_seed(4)  # the same prior draws
    prior_draws = model.prior().sample((len(x),))
    torch.testing.assert_close(out["mmd"], mmd_unbiased(codes, prior_draws, "imq"))
    qz_x = model.encode(x)
    torch.testing.assert_close(qz_x.mean, codes)
    assert torch.all(qz_x.stddev == POSTERIOR_STD)


# ---------------------------------------------------------------------------- InfoVAE-MMD
def test_info_vae_weights_kl_and_mmd_by_alpha_and_lambda():
    model = make("info_vae", alpha=0.25, lambda_=3.0)
    out = model.loss(batch(), LossContext(kl_weight=0.5))
    expected = out["recon"] + 0.5 * 0.75 * out["kl"] + 2.25 * out["mmd"]
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(out["elbo"], -(out["recon"] + out["kl"]))
    # alpha = 1 drops the per-example KL entirely (the "MMD-VAE" of Zhao's tutorial).
    mmd_vae = make("info_vae", alpha=1.0, lambda_=10.0)
    out = mmd_vae.loss(batch())
    torch.testing.assert_close(out["loss"], out["recon"] + 10.0 * out["mmd"])


def test_info_vae_defaults_and_config_ranges():
    cfg = make("info_vae").config
    assert (cfg.alpha, cfg.lambda_, cfg.kernel) == (0.0, 1000.0, "rbf")
    assert (cfg.kl_coefficient, cfg.mmd_coefficient) == (1.0, 999.0)
    with pytest.raises(ConfigError, match="alpha"):  # pythae's defaults would maximise the MMD
        make("info_vae", alpha=0.0, lambda_=1e-3)
    with pytest.raises(ConfigError, match="alpha"):
        make("info_vae", alpha=1.5)


# ----------------------------------------------------------------------- with the engine
BASE = [
    "model.network=mlp", "model.latent_dim=3", "model.network_options={hidden: [32]}",
    "data.name=test_blobs", "data.val_size=32", "train.max_steps=90", "train.batch_size=16",
    "train.lr=5e-3", "train.val_every=45", "train.val_batches=1", "train.log_every=1",
    "train.progress_bar=false", "train.loggers=[csv]",
]


def run(tmp_path: Path, name: str, *overrides: str):
    config = load_experiment(None, [*BASE, *overrides, f"run_dir={tmp_path / name}"])
    result = train(config)
    with (tmp_path / name / "logs" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return result, rows


def thirds(rows: list[dict[str, str]], key: str) -> tuple[float, float]:
    values = [float(r[key]) for r in rows if r.get(key)]
    third = len(values) // 3
    return sum(values[:third]) / third, sum(values[-third:]) / third


def test_wae_trains_and_lambda_pulls_the_codes_onto_the_prior(tmp_path):
    strong, rows = run(tmp_path, "strong", "model.type=wae_mmd", "model.reg_weight=300")
    first, last = thirds(rows, "train/loss")
    assert last < 0.8 * first
    assert {"train/recon", "train/mmd", "val/mmd"} <= set(rows[0])
    free, _ = run(tmp_path, "free", "model.type=wae_mmd", "model.reg_weight=0")
    blobs = DATASETS.build("test_blobs", "train")
    prior_draws = torch.randn(200, 3, generator=gen(5))
    distances = []
    for result in (strong, free):
        codes, _ = encode_dataset(result.model, blobs, max_examples=200)
        distances.append(float(mmd_unbiased(torch.from_numpy(codes), prior_draws)))
    assert distances[0] < 0.5 * distances[1], distances


def test_info_vae_trains_through_the_engine(tmp_path):
    _, rows = run(tmp_path, "info", "model.type=info_vae")
    first, last = thirds(rows, "train/elbo")  # the loss itself is dominated by 999 * MMD noise
    assert last > first + 5.0
    first_mmd, last_mmd = thirds(rows, "train/mmd")
    assert last_mmd < first_mmd
    assert {"train/kl", "train/mmd", "val/elbo"} <= set(rows[0])
