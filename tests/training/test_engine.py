"""The Lightning engine: resume continues the same run exactly, schedules, failures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from vaekit.errors import ConfigError, ShapeError
from vaekit.training import load_experiment, train
from vaekit.training.module import NonFiniteLossError
from vaekit.training.schedules import kl_weight

BASE = [
    "model.type=vae", "model.network=mlp", "model.latent_dim=4",
    "model.network_options={hidden: [32]}", "data.name=test_blobs", "data.val_size=32",
    "train.batch_size=16", "train.val_every=7", "train.checkpoint_every=10",
    "train.log_every=2", "train.progress_bar=false", "train.loggers=[csv]",
]


def config(tmp_path: Path, name: str, *extra: str):
    return load_experiment(None, [*BASE, f"run_dir={tmp_path / name}", *extra])


def read_curve(run_dir: Path) -> dict[int, float]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(handle)
                if r.get("train/loss")}


def test_resumed_run_is_bit_identical_to_uninterrupted(tmp_path):
    straight = train(config(tmp_path, "a", "train.max_steps=30"))
    train(config(tmp_path, "b", "train.max_steps=19"))  # stops mid-epoch (14 batches/epoch)
    resumed = train(config(tmp_path, "b", "train.max_steps=30"), resume=True)
    assert resumed.steps == straight.steps == 30
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    # The merged CSV log of the resumed run continues the same curve (the stopped segment may
    # add a row at its last step).
    straight_curve, resumed_curve = read_curve(tmp_path / "a"), read_curve(tmp_path / "b")
    assert len(straight_curve) >= 10
    assert {s: resumed_curve.get(s) for s in straight_curve} == straight_curve


def test_same_seed_same_result_and_training_learns(tmp_path):
    a = train(config(tmp_path, "a", "train.max_steps=60", "train.lr=5e-3"))
    b = train(config(tmp_path, "b", "train.max_steps=60", "train.lr=5e-3"))
    assert all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))
    curve = read_curve(tmp_path / "a")
    assert curve[max(curve)] < 0.8 * curve[min(curve)]
    files = {p.name for p in (tmp_path / "a").rglob("*")}
    assert {"config.yaml", "run.json", "last.ckpt", "model.safetensors"} <= files


def test_existing_run_dir_needs_resume_or_overwrite(tmp_path):
    train(config(tmp_path, "a", "train.max_steps=3"))
    with pytest.raises(ConfigError, match="--resume"):
        train(config(tmp_path, "a", "train.max_steps=3"))
    train(config(tmp_path, "a", "train.max_steps=3"), overwrite=True)


def test_nonfinite_loss_names_step_and_keeps_checkpoint(tmp_path, monkeypatch):
    from vaekit.models.vae import VAE

    original = VAE.loss

    def exploding(self, x, ctx=None, group="model"):
        terms = original(self, x, ctx, group)
        if ctx.step >= 12:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(VAE, "loss", exploding)
    with pytest.raises(NonFiniteLossError, match="step 12"):
        train(config(tmp_path, "a", "train.max_steps=30"))
    ckpt = torch.load(tmp_path / "a" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["vaekit"]["batches_seen"] == 10
    skipped = train(config(tmp_path, "b", "train.max_steps=20", "train.skip_nonfinite=true"))
    assert all(torch.isfinite(p).all() for p in skipped.model.parameters())


def test_data_shape_mismatch_is_reported_up_front(tmp_path):
    with pytest.raises(ShapeError, match="does not match dataset 'test_blobs'"):
        train(config(tmp_path, "a", "model.data_shape=[1,28,28]"))


def test_network_that_cannot_take_the_data_is_reported(tmp_path):
    with pytest.raises(ShapeError, match="conv64"):
        train(config(tmp_path, "a", "model.network=conv64", "model.network_options={}"))


def test_unknown_dataset_option_is_named(tmp_path):
    with pytest.raises(ConfigError, match="data.options.colour"):
        train(config(tmp_path, "a", "data.options={colour: red}"))


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [("constant", 5, 1.0), ("linear", 0, 0.0), ("linear", 50, 0.5), ("linear", 500, 1.0),
     ("cyclical", 0, 0.0), ("cyclical", 125, 1.0), ("cyclical", 250, 0.0),
     ("cyclical", 312, 0.496)],
)
def test_kl_schedules(schedule, step, expected):
    value = kl_weight(step, schedule, warmup_steps=100, total_steps=1000, cycles=4, ratio=0.5)
    assert value == pytest.approx(expected, abs=1e-3)


def test_kl_warmup_is_applied_in_training(tmp_path):
    train(config(tmp_path, "a", "train.max_steps=20", "train.kl_schedule=linear",
                 "train.kl_warmup_steps=10"))
    with (tmp_path / "a" / "logs" / "metrics.csv").open() as handle:
        weights = {int(r["step"]): float(r["train/kl_weight"]) for r in csv.DictReader(handle)
                   if r.get("train/kl_weight")}
    assert weights[min(weights)] < 0.2 and weights[max(weights)] == 1.0


def test_free_bits_raise_the_kl(tmp_path):
    plain = train(config(tmp_path, "a", "train.max_steps=40", "train.val_every=40"))
    floored = train(config(tmp_path, "b", "train.max_steps=40", "train.val_every=40",
                           "train.free_bits=2.0"))
    assert floored.metrics["val/kl"] > plain.metrics["val/kl"]


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated"])
def test_resume_from_corrupt_checkpoint_is_a_clear_error(tmp_path, content):
    from vaekit.errors import CheckpointError

    train(config(tmp_path, "a", "train.max_steps=3"))
    (tmp_path / "a" / "checkpoints" / "last.ckpt").write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt, truncated or foreign"):
        train(config(tmp_path, "a", "train.max_steps=6"), resume=True)


def test_training_checkpoint_with_code_is_refused(tmp_path):
    """A pickle that would run code on load is rejected by the restricted unpickler."""
    import pickle

    from vaekit.errors import CheckpointError
    from vaekit.training.checkpoint_io import load_training_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Evil()}, path)
    assert pickle.dumps(Evil())  # the file really holds a code-running pickle
    with pytest.raises(CheckpointError):
        load_training_checkpoint(path)


def test_wall_clock_budget_stops_training(tmp_path):
    result = train(config(tmp_path, "a", "train.max_steps=1000000", "train.max_minutes=0.05"))
    assert 0 < result.steps < 1000000
    assert result.seconds < 30


@pytest.mark.parametrize("logger", ["mlflow", "wandb"])
def test_a_missing_optional_logger_is_named_with_the_fix(tmp_path, logger):
    try:
        __import__(logger)
        pytest.skip(f"{logger} is installed")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match=f"pip install {logger}"):
        train(config(tmp_path, "a", "train.max_steps=2", f"train.loggers=[csv, {logger}]"))
