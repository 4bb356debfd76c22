"""Conditional VAE: labels change the encoder and decoder, -1 is unconditional, and a cvae trained
through the engine on (x, y) batches draws samples of the class it is asked for."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

import vaekit.models.cvae  # noqa: F401  (registers "cvae")
from vaekit.checkpoint import load_pretrained
from vaekit.data.base import ArrayImageDataset
from vaekit.errors import ConfigError, ShapeError
from vaekit.models import build_model
from vaekit.registry import DATASETS
from vaekit.training import load_experiment, train

SHAPE = (1, 6, 6)


def make(seed: int = 0, **extra):
    torch.manual_seed(seed)
    config = {"type": "cvae", "network": "mlp", "data_shape": SHAPE, "latent_dim": 2,
              "num_classes": 4, "feature_dim": 16, "network_options": {"hidden": [32]}, **extra}
    return build_model(config)


def quadrant_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """6x6 images with a 2x2 square in one of four quadrants; the label is the quadrant."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    offsets = rng.integers(0, 2, (n, 2))
    images = np.zeros((n, *SHAPE), dtype=np.uint8)
    for i, (label, (dr, dc)) in enumerate(zip(labels, offsets)):
        r, c = 3 * (label // 2) + dr, 3 * (label % 2) + dc
        images[i, 0, r:r + 2, c:c + 2] = 1
    return images, labels


@DATASETS.register("test_quadrants")
def _test_quadrants(split: str = "train", n: int = 512) -> ArrayImageDataset:
    images, labels = quadrant_images(n, seed={"train": 0, "test": 1}.get(split, 2))
    return ArrayImageDataset(images, labels, binary=True, name="test_quadrants")


def quadrant_of(images: torch.Tensor) -> torch.Tensor:
    """The quadrant (0..3) holding most of each image's mass."""
    q = images[:, 0].reshape(-1, 2, 3, 2, 3).sum(dim=(2, 4)).reshape(-1, 4)
    return q.argmax(dim=1)


def test_the_label_changes_the_decoder_and_the_encoder():
    model = make().eval()
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        means = [model.decode(z, torch.full((5,), c)).mean for c in range(4)]
        for c in range(1, 4):
            assert not torch.allclose(means[0], means[c])
        assert not torch.allclose(model.encode(x, 0).mean, model.encode(x, 3).mean)
        # -1 (and no label) is the zero embedding: unconditional.
        torch.testing.assert_close(model.decode(z, -1).mean, model.decode(z).mean)
        mixed = model.decode(z, torch.tensor([0, -1, 2, -1, 3])).mean
        torch.testing.assert_close(mixed[1], model.decode(z[1:2]).mean[0])
        torch.testing.assert_close(mixed[4], means[3][4])
        # Labels broadcast over leading sample dims: z (K, B, D) with y (B,).
        assert model.decode(z.expand(3, 5, 2), torch.arange(5) % 4).mean.shape == (3, 5, *SHAPE)
    assert model.reconstruct(x, torch.arange(5) % 4).shape == x.shape
    samples = model.sample(6, torch.Generator().manual_seed(0), labels=2)
    assert samples.shape == (6, *SHAPE)
    torch.testing.assert_close(samples, model.sample(6, torch.Generator().manual_seed(0),
                                                     labels=torch.full((6,), 2)))


def test_loss_takes_labelled_and_plain_batches():
    model = make()
    x = torch.rand(4, *SHAPE)
    y = torch.tensor([0, 1, 2, 3])
    torch.manual_seed(0)
    labelled = model.loss((x, y))
    torch.manual_seed(0)
    plain = model.loss(x)
    for out in (labelled, plain):
        assert torch.isfinite(out["loss"]) and set(out) >= {"loss", "elbo", "recon", "kl"}
    assert not torch.allclose(labelled["loss"], plain["loss"])
    torch.manual_seed(0)
    torch.testing.assert_close(model.loss((x, torch.full((4,), -1)))["loss"], plain["loss"])


def test_conditional_prior_is_one_gaussian_per_class_plus_the_unlabelled_row():
    model = make()
    pz = model.conditional_prior(torch.tensor([0, 3, -1]), (3,))
    assert pz.batch_shape == (3,) and pz.event_shape == (2,)
    torch.testing.assert_close(pz.mean, torch.zeros(3, 2))  # starts at N(0, I)
    torch.testing.assert_close(pz.stddev, torch.ones(3, 2))
    with torch.no_grad():
        model.prior_table.weight[2] = torch.tensor([5.0, -5.0, 0.0, 0.0])  # class 2: mean (5, -5)
        model.prior_table.weight[4] = torch.tensor([1.0, 1.0, 0.0, 0.0])  # the unlabelled row
    torch.testing.assert_close(model.prior().mean, torch.tensor([1.0, 1.0]))
    z = model.conditional_prior(2, (1000,)).sample()
    assert torch.allclose(z.mean(0), torch.tensor([5.0, -5.0]), atol=0.15)
    # The labelled loss trains the prior rows of its classes.
    model.zero_grad()
    model.loss((torch.rand(4, *SHAPE), torch.tensor([0, 0, 1, 1])))["loss"].backward()
    grad = model.prior_table.weight.grad.abs().sum(dim=1)
    assert grad[0] > 0 and grad[1] > 0 and grad[2] == 0 and grad[3] == 0
    fixed = make(conditional_prior=False)
    assert not hasattr(fixed, "prior_table")
    torch.testing.assert_close(fixed.conditional_prior(torch.tensor([1, 2]), (2,)).mean,
                               torch.zeros(2, 2))


def test_label_and_config_errors():
    model = make()
    with pytest.raises(ShapeError, match="0..3"):
        model.decode(torch.zeros(2, 2), torch.tensor([0, 4]))
    with pytest.raises(ShapeError, match="labels"):
        model.loss((torch.rand(3, *SHAPE), torch.tensor([0, 1])))
    with pytest.raises(ShapeError, match="x or \\(x, y\\)"):
        model.loss((torch.rand(3, *SHAPE),))
    with pytest.raises(ConfigError, match="num_classes"):
        make(num_classes=0)
    with pytest.raises(ConfigError, match="prior"):
        make(prior="vamp")


def test_trains_on_labelled_batches_through_the_engine(tmp_path):
    """The trainer serves (x, y) (uses_labels); the trained decoder then puts the square in the
    quadrant it is asked for, whatever z is."""
    config = load_experiment(None, [
        "model.type=cvae", "model.network=mlp", "model.latent_dim=2", "model.num_classes=4",
        "model.feature_dim=32", "model.network_options={hidden: [64]}",
        "data.name=test_quadrants", "data.val_size=64", "train.batch_size=32",
        "train.max_steps=250", "train.lr=5e-3", "train.log_every=10", "train.val_every=125",
        "train.progress_bar=false", "train.loggers=[csv]", f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    assert math.isfinite(result.metrics["val/loss"])
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        curve = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert sum(curve[-3:]) / 3 < 0.7 * sum(curve[:3]) / 3
    model = load_pretrained(tmp_path / "run" / "model").eval()
    labels = torch.arange(200) % 4
    samples = model.sample(200, torch.Generator().manual_seed(0), labels=labels)
    accuracy = float((quadrant_of(samples) == labels).float().mean())
    assert accuracy > 0.9, accuracy
    # Reconstructions keep the class too.
    x, y = quadrant_images(100, seed=5)
    recon = model.reconstruct(torch.from_numpy(x).float(), torch.from_numpy(y))
    assert float((quadrant_of(recon) == torch.from_numpy(y)).float().mean()) > 0.9
