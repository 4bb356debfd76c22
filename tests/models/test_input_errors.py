"""Wrong-shaped input is refused up front with a message that names both shapes."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import ShapeError
from vaekit.evaluation import estimate_nll, evaluate_elbo
from vaekit.models import build_model


@pytest.fixture(scope="module")
def model():
    return build_model({"type": "vae", "network": "mlp", "data_shape": [1, 28, 28],
                        "latent_dim": 2, "network_options": {"hidden": [8]}})


@pytest.mark.parametrize("shape", [(2, 1, 64, 64), (2, 3, 28, 28), (2, 784)])
def test_wrong_size_or_channels(model, shape):
    x = torch.zeros(shape)
    for evaluate in (evaluate_elbo, lambda m, d: estimate_nll(m, d, num_samples=2)):
        with pytest.raises(ShapeError, match=r"\(1, 28, 28\)"):
            evaluate(model, x)


def test_missing_data_shape_is_explained():
    with pytest.raises(ShapeError, match="data_shape is not set"):
        build_model({"type": "vae", "network": "mlp"})
