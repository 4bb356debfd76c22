"""MS-SSIM (Wang, Simoncelli & Bovik 2003) and the VAE that reconstructs with it."""

from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F

import vaekit.models.msssim_vae  # noqa: F401  (registers the model)
from vaekit.errors import ConfigError
from vaekit.evaluation.generation.image_metrics import ssim
from vaekit.losses.ms_ssim import MS_SSIM_WEIGHTS, ms_ssim, num_scales, scale_weights, ssim_and_cs
from vaekit.models import LossContext, build_model
from vaekit.training import load_experiment, train


def images(n: int = 3, channels: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random images in [0, 1] (structure at several scales, like real ones)."""
    noise = torch.rand((n, channels, size, size), generator=torch.Generator().manual_seed(seed))
    return F.avg_pool2d(noise, 5, stride=1, padding=2, count_include_pad=False)


def noise_like(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    return torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------ the index
@pytest.mark.parametrize(("size", "channels"), [(8, 1), (32, 3), (64, 1)])
def test_an_image_with_itself_is_one(size, channels):
    x = images(channels=channels, size=size)
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(len(x)))


def test_decreases_as_noise_grows_and_is_symmetric():
    x = images(size=64)
    noise = noise_like(x)
    values = [ms_ssim(x, x + level * noise) for level in (0.0, 0.02, 0.05, 0.1, 0.2)]
    for better, worse in zip(values, values[1:]):
        assert (worse < better).all()
    assert (values[-1] < 0.9).all()
    y = x + 0.1 * noise
    torch.testing.assert_close(ms_ssim(x, y), ms_ssim(y, x))


def test_one_scale_is_ssim():
    x = images(size=32)
    y = x + 0.1 * noise_like(x)
    torch.testing.assert_close(ms_ssim(x, y, scales=1), ssim(x, y))
    small = images(size=8, channels=3)  # 8 x 8 holds one scale: MS-SSIM is plain SSIM there
    small_y = small + 0.1 * noise_like(small)
    assert num_scales(8, 8) == 1
    torch.testing.assert_close(ms_ssim(small, small_y), ssim(small, small_y))


def test_several_scales_combine_contrast_structure_and_the_coarsest_ssim():
    x = images(size=32)
    y = x + 0.1 * noise_like(x)
    weights = scale_weights(2)
    _, cs_fine = ssim_and_cs(x, y)
    ssim_coarse, _ = ssim_and_cs(F.avg_pool2d(x, 2), F.avg_pool2d(y, 2))
    expected = (cs_fine**weights[0] * ssim_coarse**weights[1]).mean(1)
    torch.testing.assert_close(ms_ssim(x, y), expected)  # 32 x 32 holds two scales
    assert not torch.allclose(ms_ssim(x, y), ssim(x, y), atol=1e-3)


def test_scales_that_fit_and_their_renormalised_weights():
    assert [num_scales(s, s) for s in (8, 21, 22, 28, 44, 64, 175, 176, 512)] == [
        1, 1, 2, 2, 3, 3, 4, 5, 5]
    assert num_scales(200, 30) == 2  # the smaller side decides
    assert scale_weights(5) == MS_SSIM_WEIGHTS  # the published weights, as they are
    assert scale_weights(1) == (1.0,)
    for scales in range(1, 5):
        weights = scale_weights(scales)
        assert sum(weights) == pytest.approx(1.0)
        ratios = [w / s for w, s in zip(weights, MS_SSIM_WEIGHTS)]
        assert ratios == pytest.approx([ratios[0]] * scales)  # proportions kept
    with pytest.raises(ValueError, match="scales"):
        scale_weights(6)


def test_range_odd_sizes_and_gradients():
    x = images(size=45)  # odd sides: the downsampling keeps the edge row
    inverted = 1.0 - x  # structure anti-correlated: clamped to 0, not NaN
    value = ms_ssim(x, inverted)
    assert ((value >= 0) & (value < 0.2)).all()
    y = (x + 0.1 * noise_like(x)).requires_grad_()
    (1 - ms_ssim(x, y)).sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape|one shape"):
        ms_ssim(x, x[:, :, :-1])


# -------------------------------------------------------------------------- msssim_vae
def make(**extra):
    torch.manual_seed(0)
    return build_model({"type": "msssim_vae", "network": "mlp", "data_shape": [1, 16, 16],
                        "latent_dim": 3, "network_options": {"hidden": [16]}, **extra})


def test_msssim_vae_loss_is_scaled_dissimilarity_plus_beta_kl():
    x = (images(n=6, size=16) > 0.5).float()
    model = make(beta=0.5)
    assert model.recon_scale == 256.0  # default: C * H * W
    torch.manual_seed(2)
    out = model.loss(x, LossContext(kl_weight=0.5))
    torch.testing.assert_close(out["recon"], 256.0 * (1.0 - out["ms_ssim"]))
    torch.testing.assert_close(out["loss"], out["recon"] + 0.25 * out["kl"])
    # The similarity is that of the decoded mean for the same draw.
    torch.manual_seed(2)
    qz_x = model.encode(x)
    x_hat = model.decode(qz_x.rsample()).mean
    torch.testing.assert_close(out["ms_ssim"], ms_ssim(x_hat, x).mean())
    assert make(recon_scale=10.0).recon_scale == 10.0


@pytest.mark.parametrize(("extra", "message"), [
    ({"recon_scale": 0.0}, "model.recon_scale"), ({"scales": 6}, "model.scales"),
    ({"beta": -1.0}, "model.beta"), ({"data_shape": [64]}, "image data"),
])
def test_msssim_vae_bad_settings(extra, message):
    with pytest.raises(ConfigError, match=message):
        make(**extra)


def test_msssim_vae_training_raises_the_similarity(tmp_path):
    config = load_experiment(None, [
        "model.type=msssim_vae", "model.network=mlp", "model.latent_dim=4",
        "model.network_options={hidden: [32]}", "data.name=test_blobs", "data.val_size=32",
        "train.batch_size=16", "train.max_steps=40", "train.lr=5e-3", "train.val_every=40",
        "train.log_every=2", "train.progress_bar=false", "train.loggers=[csv]",
        f"run_dir={tmp_path / 'run'}",
    ])
    assert train(config).steps == 40
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss")]
    loss = [float(r["train/loss"]) for r in rows]
    similarity = [float(r["train/ms_ssim"]) for r in rows]
    assert sum(loss[-3:]) / 3 < 0.8 * sum(loss[:3]) / 3
    assert sum(similarity[-3:]) / 3 > sum(similarity[:3]) / 3 + 0.1
