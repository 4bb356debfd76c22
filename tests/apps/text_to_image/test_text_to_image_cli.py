"""``vaekit generate`` and ``vaekit text2image train`` end to end (tiny models)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli.main import main
from vaekit.models import build_model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model({"type": "text_cvae", "data_shape": [1, 64, 64], "network": "mlp",
                         "network_options": {"hidden": [16]}, "latent_dim": 3,
                         "text_dim": 8, "text_hidden": 8, "embed_dim": 8, "feature_dim": 8,
                         "hidden_dim": 8})
    return model.save_pretrained(tmp_path_factory.mktemp("t2i") / "model")


def test_generate_writes_a_grid_and_the_same_seed_gives_the_same_images(run_dir, tmp_path,
                                                                        capsys):
    out = tmp_path / "grid.png"
    assert main(["generate", "a large ellipse at the bottom", "--n", "16", "--out", str(out),
                 "--run", str(run_dir)]) == 0
    grid = np.asarray(Image.open(out))
    assert grid.shape == (4 * 66 + 2, 4 * 66 + 2, 3)  # 4 x 4 tiles of 64 + 2 padding
    again = tmp_path / "again.png"
    main(["generate", "a large ellipse at the bottom", "--n", "16", "--out", str(again),
          "--run", str(run_dir)])
    assert np.array_equal(grid, np.asarray(Image.open(again)))  # same seed, same images
    other = tmp_path / "other.png"
    main(["generate", "a large ellipse at the bottom", "--n", "16", "--out", str(other),
          "--run", str(run_dir), "--seed", "1"])
    assert not np.array_equal(grid, np.asarray(Image.open(other)))
    capsys.readouterr()
    assert main(["generate", "a purple ellipse", "--n", "2", "--out", str(other),
                 "--run", str(run_dir)]) == 0
    assert "unknown words read as <unk>: purple" in capsys.readouterr().out


@pytest.mark.parametrize(("prompt", "message"), [
    ("", "has no words"),
    ("heart " * 30, "more than this model's limit of 16"),
])
def test_bad_prompts_exit_2_with_one_line(run_dir, tmp_path, capsys, prompt, message):
    assert main(["generate", prompt, "--out", str(tmp_path / "g.png"),
                 "--run", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not (tmp_path / "g.png").exists()


def test_generate_refuses_missing_runs_and_other_models(tmp_path, capsys):
    assert main(["generate", "a heart", "--run", str(tmp_path / "none")]) == 2
    assert "vaekit text2image train" in capsys.readouterr().err
    vae = build_model({"type": "vae", "data_shape": [1, 8, 8], "network": "mlp",
                       "latent_dim": 2, "network_options": {"hidden": [4]}})
    path = vae.save_pretrained(tmp_path / "vae")
    assert main(["generate", "a heart", "--run", str(path)]) == 2
    assert "not a text-conditioned model" in capsys.readouterr().err


def test_text2image_train_then_generate(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["text2image", "train", "--run-dir", str(run), "--model.network=mlp",
                 "--model.network_options={hidden: [8]}", "--model.latent_dim=2",
                 "--data.options={size: 64}", "--data.val_size=0", "--train.max_steps=2",
                 "--train.batch_size=16", "--train.progress_bar=false",
                 "--train.loggers=[csv]"]) == 0
    assert (run / "model" / "model.safetensors").is_file()
    assert main(["generate", "a tiny heart", "--n", "4", "--out", str(tmp_path / "g.png"),
                 "--run", str(run)]) == 0
    assert (tmp_path / "g.png").is_file()
