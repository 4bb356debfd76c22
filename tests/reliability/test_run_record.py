"""Reproducibility: what a run directory records about how it was made. (Same seed and config
giving bit-identical weights in one process is tested in tests/training/test_engine.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightning as L
import pytest
import torch
from reliability_helpers import checkpoint_step, overrides

import vaekit
from vaekit.config import to_dict
from vaekit.training import load_experiment, train
from vaekit.training.module import NonFiniteLossError


def test_run_json_records_versions_seed_commit_and_config(image_root, tmp_path):
    config = load_experiment(None, overrides(image_root, tmp_path / "run", "train.seed=7",
                                             "train.max_steps=4"))
    train(config)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["vaekit_version"] == vaekit.__version__
    assert meta["torch_version"] == torch.__version__
    assert meta["lightning_version"] == L.__version__
    assert meta["python_version"] and meta["platform"]
    assert meta["seed"] == 7 and meta["steps"] == 4 and meta["status"] == "finished"
    assert "git_commit" in meta
    checkout = Path(vaekit.__file__).resolve().parents[2]
    if (checkout / ".git").exists():  # a source checkout: the commit it was run from
        assert re.fullmatch(r"[0-9a-f]{40}", meta["git_commit"] or ""), meta["git_commit"]
    # config.yaml is the full config the run used (data_shape filled in from the data).
    saved = load_experiment(tmp_path / "run" / "config.yaml")
    assert to_dict(saved) == to_dict(config)
    assert saved.model.data_shape == (1, 8, 8)


def test_the_seed_is_what_decides_the_weights(image_root, tmp_path):
    runs = {seed: train(load_experiment(None, overrides(
        image_root, tmp_path / f"seed{seed}", f"train.seed={seed}", "train.max_steps=3")))
        for seed in (7, 8)}
    assert not torch.equal(runs[7].model.decoder[0].weight, runs[8].model.decoder[0].weight)


def test_a_failed_run_records_why(image_root, tmp_path, monkeypatch):
    from vaekit.models.vae import VAE

    original = VAE.loss

    def exploding(self, x, ctx=None, group="model"):
        terms = original(self, x, ctx, group)
        if ctx.step >= 12:
            terms["loss"] = terms["loss"] * float("inf")
        return terms

    monkeypatch.setattr(VAE, "loss", exploding)
    with pytest.raises(NonFiniteLossError):
        train(load_experiment(None, overrides(image_root, tmp_path / "run",
                                              "train.max_steps=20")))
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["status"] == "failed" and meta["steps"] == 12
    assert meta["error"].startswith("NonFiniteLossError: loss of group 'model' is inf at step 12")
    # Only the last good checkpoint: nothing was saved from inside the failing step.
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt"]
    assert checkpoint_step(checkpoints / "last.ckpt") == 10
