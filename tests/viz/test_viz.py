"""Image grids, reconstructions, samples, interpolations, traversals and training curves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.errors import DataError, ShapeError
from vaekit.models import build_model
from vaekit.viz import (
    interpolate,
    latent_traversal,
    make_grid,
    order_by_kl,
    plot_training_curves,
    read_metrics_csv,
    save_image_grid,
    save_interpolations,
    save_reconstructions,
    save_samples,
    save_traversal,
)
from vaekit.viz.curves import metric_group
from vaekit.viz.grid import to_uint8

LATENT = 3


def tiny_model(channels: int = 1, seed: int = 0):
    torch.manual_seed(seed)
    return build_model({"type": "vae", "network": "mlp", "data_shape": [channels, 8, 8],
                        "latent_dim": LATENT, "network_options": {"hidden": [16]}})


def images(n: int, channels: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.rand((n, channels, 8, 8), generator=torch.Generator().manual_seed(seed))


def png(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def tile(grid: np.ndarray, row: int, col: int, h: int = 8, w: int = 8, pad: int = 2):
    top, left = pad + row * (h + pad), pad + col * (w + pad)
    return grid[top : top + h, left : left + w]


# --------------------------------------------------------------------------------- grids
def test_make_grid_known_pixels():
    a = torch.tensor([[[0.0, 1.0], [0.5, 0.25]]])  # (1, 2, 2)
    b = torch.full((1, 2, 2), 0.2)
    grid = make_grid(torch.stack([a, b]), nrow=2, padding=1, pad_value=1.0)
    assert grid.shape == (1 * 3 + 1, 2 * 3 + 1, 3) and grid.dtype == np.uint8
    expected = np.full((4, 7), 255, dtype=np.uint8)
    expected[1:3, 1:3] = [[0, 255], [128, 64]]  # round(0.5 * 255) = 128, round(63.75) = 64
    expected[1:3, 4:6] = 51  # 0.2 * 255
    for channel in range(3):  # grey repeated over RGB
        np.testing.assert_array_equal(grid[..., channel], expected)
    # One image per row stacks them; padding 0 and a black pad value.
    column = make_grid(torch.stack([a, b]), nrow=1, padding=0, pad_value=0.0)
    np.testing.assert_array_equal(column[..., 0], np.vstack([expected[1:3, 1:3], np.full(
        (2, 2), 51)]))


def test_make_grid_colour_clipping_and_partial_rows():
    red = torch.zeros(3, 3, 2, 2)
    red[:, 0] = 1.0
    red[2, 1] = 7.0  # out of range: clipped to 1
    red[2, 2] = float("nan")  # NaN: drawn as 0
    grid = make_grid(red, nrow=2, padding=1, pad_value=0.5)
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    np.testing.assert_array_equal(grid[1:3, 1:3], np.broadcast_to([255, 0, 0], (2, 2, 3)))
    np.testing.assert_array_equal(grid[4:6, 1:3], np.broadcast_to([255, 255, 0], (2, 2, 3)))
    assert (grid[4:6, 4:6] == 128).all()  # the empty slot is padding
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 1.0, 2.0])), [0, 0, 255, 255])
    with pytest.raises(ShapeError, match="channels"):
        make_grid(torch.zeros(2, 2, 4, 4))


def test_save_image_grid_size_follows_the_arithmetic(tmp_path):
    x = images(10)
    path = save_image_grid(x, tmp_path / "sub" / "grid.png", nrow=4, padding=2)
    array = png(path)
    rows, cols = 3, 4  # ceil(10 / 4) rows of 4
    assert array.shape == (rows * (8 + 2) + 2, cols * (8 + 2) + 2, 3)
    np.testing.assert_array_equal(array, make_grid(x, nrow=4, padding=2))  # lossless


# ------------------------------------------------------------------------ model pictures
def test_save_reconstructions_originals_over_reconstructions(tmp_path):
    model, x = tiny_model(), images(5)
    grid = png(save_reconstructions(model, x, tmp_path / "rec.png"))
    assert grid.shape == (2 * 10 + 2, 5 * 10 + 2, 3)
    recon = model.reconstruct(x)
    for i in range(5):
        np.testing.assert_array_equal(tile(grid, 0, i)[..., 0], to_uint8(x[i, 0].numpy()))
        np.testing.assert_array_equal(tile(grid, 1, i)[..., 0], to_uint8(recon[i, 0].numpy()))
    # Two examples per row: three pairs of rows, the last pair half white.
    grid = png(save_reconstructions(model, x, tmp_path / "rec2.png", nrow=2))
    assert grid.shape == (6 * 10 + 2, 2 * 10 + 2, 3)
    np.testing.assert_array_equal(tile(grid, 5, 0)[..., 0], to_uint8(recon[4, 0].numpy()))
    assert (tile(grid, 5, 1) == 255).all()


def test_save_samples_is_seeded(tmp_path):
    model = tiny_model(channels=3)
    a = png(save_samples(model, 10, tmp_path / "a.png", seed=3))
    assert a.shape == (3 * 10 + 2, 4 * 10 + 2, 3)  # near-square: 4 per row
    np.testing.assert_array_equal(a, png(save_samples(model, 10, tmp_path / "b.png", seed=3)))
    assert not np.array_equal(a, png(save_samples(model, 10, tmp_path / "c.png", seed=4)))
    assert png(save_samples(model, 6, tmp_path / "d.png", nrow=6)).shape == (12, 62, 3)


def test_interpolations_png_and_gif(tmp_path):
    model, x = tiny_model(), images(6)
    x_a, x_b = x[:3], x[3:]
    path = save_interpolations(model, x_a, x_b, tmp_path / "interp.png", steps=5,
                               gif_path=tmp_path / "interp.gif")
    assert png(path).shape == (3 * 10 + 2, 5 * 10 + 2, 3)  # one row per pair
    with Image.open(tmp_path / "interp.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 5
    path = interpolate(model, x_a, x_b, steps=5)
    assert path.shape == (3, 5, 1, 8, 8)
    # The ends are the reconstructions; the middle decodes the mean of the two codes.
    torch.testing.assert_close(path[:, 0], model.reconstruct(x_a))
    torch.testing.assert_close(path[:, -1], model.reconstruct(x_b))
    with torch.no_grad():
        mid = (model.encode(x_a).mean + model.encode(x_b).mean) / 2
        torch.testing.assert_close(path[:, 2], model.likelihood.mean_image(model.decode(mid)))
    single = interpolate(model, x_a[0], x_b[0], steps=3)  # single examples work too
    assert single.shape == (1, 3, 1, 8, 8)


# ------------------------------------------------------------------------------ traversal
def test_latent_traversal_sets_one_dim_at_a_time():
    model, x = tiny_model(), images(2)
    values = [-2.0, -1.0, 1.0, 2.0]
    out = latent_traversal(model, x, values=values)
    assert out.shape == (LATENT, 4, 1, 8, 8)
    with torch.no_grad():
        mu = model.encode(x[:1]).mean[0]
    for d in range(LATENT):
        for j, v in enumerate(values):
            z = mu.clone()
            z[d] = v
            expected = model.likelihood.mean_image(model.decode(z[None]))[0]
            torch.testing.assert_close(out[d, j], expected)
    assert latent_traversal(model, x, dims=[2], values=values).shape == (1, 4, 1, 8, 8)
    assert latent_traversal(model, x[0]).shape == (LATENT, 9, 1, 8, 8)  # default linspace
    with pytest.raises(ValueError, match="out of range"):
        latent_traversal(model, x, dims=[LATENT])


@pytest.mark.parametrize("kl", [[0.1, 2.0, 0.5], None])
def test_traversal_rows_follow_kl(tmp_path, kl):
    model, x = tiny_model(), images(16)
    values = [-2.0, 0.0, 2.0, 3.0]
    path = save_traversal(model, x, tmp_path / "trav.png", gif_path=tmp_path / "trav.gif",
                          kl_per_dim=kl, values=values)
    if kl is not None:
        assert order_by_kl(kl) == [1, 2, 0]
    else:
        from vaekit.evaluation import kl_per_dimension

        kl = kl_per_dimension(model, x)
    order = order_by_kl(kl)
    assert [kl[d] for d in order] == sorted(kl, reverse=True)
    canvas = png(path)
    expected = make_grid(latent_traversal(model, x, order, values).flatten(0, 1), nrow=4)
    assert canvas.shape[0] == expected.shape[0] and canvas.shape[1] > expected.shape[1]
    # The traversal is right of the label panel, rows in KL order.
    np.testing.assert_array_equal(canvas[:, -expected.shape[1]:], expected)
    panel = canvas[:, : canvas.shape[1] - expected.shape[1]]
    assert (panel < 128).any(), "the row labels are missing"
    with Image.open(tmp_path / "trav.gif") as gif:
        assert gif.n_frames == len(values)


# -------------------------------------------------------------------------------- curves
CSV = """epoch,step,train/loss_step,train/kl,val/elbo,val/loss,lr-Adam
0,9,10.5,1.0,,,0.001
0,19,9.5,nan,,,
0,19,,,-5.0,7.0
1,29,8.0,1.2,,,0.001
1,39,inf,1.3,,,
1,39,,,-4.0,6.5,
"""


def test_read_metrics_csv_handles_gaps_and_nans(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(CSV)
    series = read_metrics_csv(path)
    assert set(series) == {"train/loss_step", "train/kl", "val/elbo", "val/loss", "lr-Adam"}
    steps, values = series["train/loss_step"]
    np.testing.assert_array_equal(steps, [9, 19, 29])  # inf dropped
    np.testing.assert_array_equal(values, [10.5, 9.5, 8.0])
    np.testing.assert_array_equal(series["train/kl"][0], [9, 29, 39])  # nan dropped
    np.testing.assert_array_equal(series["val/elbo"][1], [-5.0, -4.0])
    np.testing.assert_array_equal(series["lr-Adam"][0], [9, 29])  # short row read as empty
    assert metric_group("val/elbo_epoch") == "elbo" and metric_group("lr-Adam") == "lr-Adam"


def test_plot_training_curves_writes_a_png(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(CSV)
    out = plot_training_curves(path, tmp_path / "plots" / "curves.png")
    with Image.open(out) as image:
        assert image.format == "PNG"
        full_width = image.size[0]
    # Only the "elbo" group: one subplot, so a narrower figure.
    with Image.open(plot_training_curves(path, tmp_path / "elbo.png", metrics=["elbo"])) as one:
        assert one.size[0] < full_width
    with pytest.raises(DataError, match="no numeric"):
        plot_training_curves(path, tmp_path / "none.png", metrics=["accuracy"])
    with pytest.raises(DataError, match="not found"):
        plot_training_curves(tmp_path / "missing.csv", tmp_path / "x.png")
