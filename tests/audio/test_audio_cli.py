"""``vaekit audio train`` / ``vaekit audio reconstruct`` end to end on a tiny FSDD-like folder."""

from __future__ import annotations

import math

import pytest
import soundfile
import torch

from vaekit.audio import write_wav
from vaekit.cli.main import main

pytestmark = pytest.mark.filterwarnings("ignore:.*val_dataloader.*")


@pytest.fixture
def tiny_fsdd(tmp_path):
    rec = tmp_path / "fsdd" / "recordings"
    for digit in range(2):
        for speaker in ("ann", "bob"):
            for index in (0, 5, 6):
                t = torch.arange(3000) / 8000
                wave = 0.3 * torch.sin(2 * math.pi * (300 + 400 * digit + 20 * index) * t)
                write_wav(rec / f"{digit}_{speaker}_{index}.wav", wave, 8000)
    return tmp_path / "fsdd"


def _train(tmp_path, root, *extra: str) -> str:
    run = str(tmp_path / "run")
    code = main(["audio", "train", f"--data.root={root}", "--data.val_size=0",
                 "--train.max_steps=3", "--train.batch_size=4", "--train.progress_bar=false",
                 "--train.loggers=[csv]", "--run-dir", run, *extra])
    assert code == 0
    return run


@pytest.mark.parametrize("model_type", ["vae", "cvae"])
def test_train_then_reconstruct_a_wav(tmp_path, tiny_fsdd, model_type, capsys):
    run = _train(tmp_path, tiny_fsdd, f"--model.type={model_type}", "--model.num_classes=2"
                 if model_type == "cvae" else "--model.latent_dim=4")
    assert "trained 3 steps" in capsys.readouterr().out
    source = tiny_fsdd / "recordings" / "1_bob_0.wav"
    out, png = tmp_path / "out.wav", tmp_path / "spec.png"
    code = main(["audio", "reconstruct", run, str(source), str(out), "--griffin-lim-iter", "4",
                 "--spectrogram", str(png)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "spectral distance" in printed and png.is_file()
    assert ("label" in printed) == (model_type == "cvae")
    info = soundfile.info(str(out))
    assert info.samplerate == 8000 and info.frames == 6400  # the 0.8 s clip of the run


def test_reconstruct_errors_are_one_line(tmp_path, tiny_fsdd, capsys):
    run = _train(tmp_path, tiny_fsdd)
    capsys.readouterr()
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    assert main(["audio", "reconstruct", run, str(bad), str(tmp_path / "o.wav")]) == 2
    assert "notes.wav" in capsys.readouterr().err
    source = str(tiny_fsdd / "recordings" / "0_ann_0.wav")
    assert main(["audio", "reconstruct", run, source, str(tmp_path / "o.wav"),
                 "--label", "1"]) == 2
    assert "--label is for conditional models" in capsys.readouterr().err


def test_examples_command_writes_audio_and_pictures(tmp_path, tiny_fsdd, capsys):
    run = _train(tmp_path, tiny_fsdd, "--model.latent_dim=3")
    out = tmp_path / "ex"
    assert main(["audio", "examples", run, "--split", "all", "--n", "2", "--out",
                 str(out)]) == 0
    assert "files in" in capsys.readouterr().out
    assert (out / "reconstructions.wav").is_file() and (out / "traversal.png").is_file()
    assert len(list(out.glob("traversal_dim*.wav"))) == 3
