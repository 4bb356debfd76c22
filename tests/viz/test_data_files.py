"""Outputs of non-image models: numbers to .npy/.csv, sequences as line plots, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.distributions.gaussian import GaussianLikelihood
from vaekit.errors import ShapeError
from vaekit.models import build_model
from vaekit.viz import save_reconstructions, save_samples, save_traversal
from vaekit.viz.data_files import save_examples, save_numeric


def _model(shape, network="mlp", options=None):
    torch.manual_seed(0)
    return build_model({"type": "vae", "network": network, "data_shape": list(shape),
                        "latent_dim": 2, "likelihood": "gaussian",
                        "network_options": options or {"hidden": [8]}})


def test_npy_and_csv_hold_the_same_numbers(tmp_path):
    groups = [torch.randn(3, 4), torch.randn(3, 4)]
    npy = np.load(save_numeric(groups, tmp_path / "x.npy"))
    assert npy.shape == (2, 3, 4)
    np.testing.assert_allclose(npy, torch.stack(groups).numpy())
    csv = save_numeric(groups, tmp_path / "x.csv", names=["original", "reconstruction"])
    lines = csv.read_text().splitlines()
    assert lines[0] == "group,index,v0,v1,v2,v3" and len(lines) == 7
    last = lines[-1].split(",")
    assert last[:2] == ["reconstruction", "2"]
    np.testing.assert_allclose([float(v) for v in last[2:]], groups[1][2].numpy(), rtol=1e-5)


def test_vectors_cannot_be_drawn_and_the_error_names_the_fix(tmp_path):
    model = _model((5,))
    with pytest.raises(ShapeError, match=r"shape \(5,\).*\.npy or \.csv"):
        save_samples(model, 4, tmp_path / "s.png")
    with pytest.raises(ShapeError, match=r"\.npy or \.csv"):
        save_traversal(model, torch.randn(2, 5), tmp_path / "t.png")
    samples = np.load(save_samples(model, 4, tmp_path / "s.npy"))
    assert samples.shape == (4, 5)
    # Gaussian means of non-image data keep their range (no clamping to [0, 1] as for pixels).
    assert samples.min() < 0.0 or samples.max() > 1.0 or np.allclose(samples, samples.clip(0, 1))
    traversal = np.load(save_traversal(model, torch.randn(2, 5), tmp_path / "t.npy"))
    assert traversal.shape[0] == 2 and traversal.shape[2:] == (5,)


def test_gaussian_means_are_clamped_for_images_only():
    params = torch.full((1, 4), 3.0)  # mean 3 for every value of a (4,) vector
    vector = GaussianLikelihood((4,))
    assert torch.equal(vector.mean_image(vector(params)), torch.full((1, 4), 3.0))
    image = GaussianLikelihood((1, 2, 2))
    image_params = torch.full((1, 1, 2, 2), 3.0)
    assert torch.equal(image.mean_image(image(image_params)), torch.ones(1, 1, 2, 2))


def test_sequences_become_line_plots(tmp_path):
    model = _model((2, 16), "conv1d", {"channels": [4, 4], "hidden": 8})
    path = save_reconstructions(model, torch.randn(3, 2, 16), tmp_path / "r.png")
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5  # something was drawn, not an empty canvas
    assert np.load(save_samples(model, 3, tmp_path / "s.npy")).shape == (3, 2, 16)


def test_images_still_make_grids(tmp_path):
    path = save_examples([torch.rand(4, 1, 6, 10)], tmp_path / "g.png", nrow=2)
    with Image.open(path) as image:
        assert image.size == (2 * 12 + 2, 2 * 8 + 2)  # (width, height) with 2-pixel padding


def test_explorer_refuses_models_of_non_image_data():
    from vaekit.explorer import create_app

    with pytest.raises(ShapeError, match=r"explorer shows images.*\(5,\)"):
        create_app(_model((5,)))
