"""Fixtures of the sampler tests: a tiny untrained mlp VAE on (1, 8, 8) and a toy data set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data.base import ArrayImageDataset
from vaekit.models.base import BaseVAE, build_model


@pytest.fixture(scope="package")
def model() -> BaseVAE:
    torch.manual_seed(0)
    return build_model({"type": "vae", "network": "mlp", "latent_dim": 2,
                        "data_shape": (1, 8, 8), "network_options": {"hidden": [16]}})


@pytest.fixture(scope="package")
def dataset() -> ArrayImageDataset:
    """200 binary 8x8 images: a 3x3 square at a random place (varied codes even untrained)."""
    rng = np.random.default_rng(0)
    images = np.zeros((200, 1, 8, 8), dtype=np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, 6, (200, 2))):
        images[i, 0, r:r + 3, c:c + 3] = 1
    return ArrayImageDataset(images, binary=True, name="toy_squares")

