"""The audio scores and example files on a tiny synthetic FSDD-like set (untrained models)."""

from __future__ import annotations

import math

import pytest
import torch

import vaekit.models.cvae  # noqa: F401  (registers "cvae")
from vaekit.audio import write_wav
from vaekit.audio.evaluation import evaluate_audio_model, train_audio_classifiers
from vaekit.audio.examples import save_audio_examples
from vaekit.data.fsdd import fsdd
from vaekit.models import build_model


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    rec = tmp_path_factory.mktemp("audio") / "fsdd" / "recordings"
    for digit in range(3):
        for s, speaker in enumerate(("ann", "bob")):
            for index in range(3):
                t = torch.arange(2500 + 500 * index) / 8000
                wave = 0.3 * torch.sin(2 * math.pi * (300 + 400 * digit + 50 * s) * t)
                write_wav(rec / f"{digit}_{speaker}_{index}.wav", wave, 8000)
    return fsdd(root=str(rec.parent), split="all")


@pytest.mark.parametrize("model_type", ["vae", "cvae"])
def test_scores_and_examples(tiny_set, model_type, tmp_path):
    torch.manual_seed(0)
    model = build_model({"type": model_type, "network": "conv64", "latent_dim": 4,
                         "data_shape": [1, 64, 64], "num_classes": 3} if model_type == "cvae"
                        else {"type": "vae", "network": "conv64", "latent_dim": 4,
                              "data_shape": [1, 64, 64]}).eval()
    classifiers = train_audio_classifiers(tiny_set, steps=3, batch_size=8)
    scores = evaluate_audio_model(model, tiny_set, classifiers, samples_per_class=2,
                                  griffin_lim_iter=2)
    for key in ("msd", "lsd_db", "image_l1", "digit_acc_recon", "speaker_acc_recon", "mig",
                "mig_digit", "mig_speaker", "dci_disentanglement", "dci_informativeness",
                "sap"):
        assert isinstance(scores[key], float) and math.isfinite(scores[key]), key
    assert 0 <= scores["digit_acc_recon"] <= 1 and scores["msd"] > 0
    assert (scores["digit_acc_samples"] is None) == (model_type == "vae")
    written = save_audio_examples(model, tiny_set, tmp_path / "ex", n=4, num_dims=2)
    names = {p.name for p in written}
    assert {"reconstructions.png", "reconstructions.wav", "samples.wav", "interpolation.wav",
            "traversal.png"} <= names
    assert all(p.is_file() for p in written)
