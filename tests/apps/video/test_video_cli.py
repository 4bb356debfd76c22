"""``vaekit video train`` / ``vaekit video predict`` end to end (tiny nets, real MNIST digits)."""

from __future__ import annotations

import json

import pytest

from vaekit.cli.main import main

pytestmark = pytest.mark.filterwarnings("ignore:.*val_dataloader.*",
                                        "ignore:.*full training images not found.*")

TINY = ["--model.channels=[4, 8]", "--model.g_dim=8", "--model.z_dim=2",
        "--model.predictor_hidden=8", "--model.predictor_layers=1",
        "--model.posterior_hidden=8", "--model.prior_hidden=8", "--model.context=2",
        "--data.options={size: 16, digit_size: 8, num_digits: 1, seq_len: 5, "
        "digit_limit: 50}", "--data.val_size=0", "--train.max_steps=2",
        "--train.batch_size=2", "--train.progress_bar=false", "--train.loggers=[csv]"]


@pytest.mark.parametrize("variant", ["lp", "deterministic"])
def test_train_then_predict(tmp_path, shared_data, variant, capsys):
    run = tmp_path / "run"
    assert main(["video", "train", "--variant", variant, "--run-dir", str(run), *TINY]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    out = tmp_path / "pred"
    code = main(["video", "predict", str(run), "--context", "2", "--horizon", "4",
                 "--samples", "3", "--clips", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 context frames, 4 predicted" in printed
    assert (out / "clip0.gif").is_file() and (out / "clip1.png").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    expected = ["1", "3"] if variant == "lp" else ["1"]
    assert list(metrics["ssim"]) == expected and len(metrics["ssim"]["1"]) == 4


def test_predict_errors_are_one_line(tmp_path, shared_data, capsys):
    run = tmp_path / "run"
    assert main(["video", "train", "--run-dir", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["video", "predict", str(run), "--horizon", "0"]) == 2
    assert "--horizon must be at least 1" in capsys.readouterr().err
    assert main(["video", "predict", str(run / "model")]) == 2
    assert "--video" in capsys.readouterr().err
    assert main(["video", "train", "--variant", "fp", "--resume", str(run)]) == 2
    assert "--model.prior" in capsys.readouterr().err


def test_predict_refuses_an_image_model(tmp_path, capsys):
    from vaekit.models import build_model

    build_model({"type": "vae", "network": "mlp", "data_shape": [1, 8, 8], "latent_dim": 2,
                 "network_options": {"hidden": [8]}}).save_pretrained(tmp_path / "vae")
    assert main(["video", "predict", str(tmp_path / "vae")]) == 2
    assert "not a video model" in capsys.readouterr().err
