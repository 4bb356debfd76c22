"""``vaekit translate train/apply/evaluate`` and ``vaekit style`` end to end on a tiny run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli.main import main


def write_png(path, array: np.ndarray) -> str:
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture(scope="module")
def munit_run(tmp_path_factory, shared_data):
    run = tmp_path_factory.mktemp("cli") / "run"
    code = main(["translate", "train", "--style", "random_colour", "--model", "munit",
                 "--run-dir", str(run), "--train.max_steps=2", "--train.batch_size=8",
                 "--data.val_size=0", "--data.options={style: random_colour, limit: 64}",
                 "--model.conv_channels=[4, 8]", "--model.shared_hidden=8",
                 "--model.discriminator_width=2", "--train.progress_bar=false",
                 "--train.loggers=[csv]"])
    assert code == 0
    return run


def test_translate_and_style_commands_write_grids(munit_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    digit = write_png(tmp_path / "a.png", (rng.random((40, 30)) * 255).astype(np.uint8))
    photo = write_png(tmp_path / "b.png", (rng.random((50, 50, 3)) * 255).astype(np.uint8))
    out = tmp_path / "t.png"
    assert main(["translate", "apply", str(munit_run), "--input", digit, digit, "--draws", "2",
                 "--out", str(out)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.ndim == 3 and grid.shape[2] == 3  # RGB: domain B is coloured
    out = tmp_path / "s.png"
    assert main(["style", "--model", str(munit_run), "--content", digit, "--style", photo,
                 "--content-domain", "a", "--samples", "2", "--out", str(out)]) == 0
    assert out.is_file() and "written" in capsys.readouterr().out


def test_bad_inputs_are_one_line_errors(munit_run, tmp_path, capsys):
    assert main(["style", "--model", str(munit_run), "--content", str(tmp_path / "none.png"),
                 "--style", str(tmp_path / "none.png")]) == 2
    assert "not found" in capsys.readouterr().err
    text = tmp_path / "x.png"
    text.write_text("not an image")
    assert main(["translate", "apply", str(munit_run), "--input", str(text)]) == 2
    assert "not a readable image" in capsys.readouterr().err


def test_style_refuses_a_model_without_style_codes(tmp_path, capsys):
    from vaekit.models import build_model

    model_dir = build_model({"type": "unit", "data_shape": [1, 8, 8], "conv_channels": [2, 4],
                             "shared_hidden": 4, "latent_dim": 2,
                             "discriminator_width": 2}).save_pretrained(tmp_path / "unit")
    png = write_png(tmp_path / "a.png", np.zeros((8, 8), dtype=np.uint8))
    assert main(["style", "--model", str(model_dir), "--content", png, "--style", png]) == 2
    assert "needs one of: munit" in capsys.readouterr().err


def test_photo_style_demo_renders_digits_in_each_photos_style(munit_run, real_data, tmp_path):
    from vaekit.apps.translation.style import DEMO_PHOTOS, photo_style_grid
    from vaekit.checkpoint import load_pretrained

    folder = real_data("sample_images")
    model = load_pretrained(munit_run / "model").eval()
    digits = torch.rand(3, 1, 28, 28)
    out = photo_style_grid(model, digits, [folder / name for name in DEMO_PHOTOS[:2]],
                           tmp_path / "photo.png")
    grid = np.asarray(Image.open(out))
    # Two rows of (photo + 3 digits) 28x28 tiles with 2-pixel padding, RGB.
    assert grid.shape == (2 + 2 * 30, 2 + 4 * 30, 3)
