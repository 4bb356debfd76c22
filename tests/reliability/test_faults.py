"""Faults: SIGKILL and Ctrl-C during training, crashes inside checkpoint writes, resumes that
must reach the same weights as a run that was never interrupted."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from reliability_helpers import (
    FOREVER,
    assert_same_weights,
    checkpoint_step,
    finish,
    overrides,
    run_weights,
    start_training,
    wait_until,
)

from vaekit.checkpoint import atomic_write
from vaekit.cli.main import main
from vaekit.errors import CheckpointError
from vaekit.training import load_experiment, train
from vaekit.training.checkpoint_io import AtomicCheckpointIO, load_training_checkpoint
from vaekit.training.run import TrainingInterrupted

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def straight_run(image_root: Path, run_dir: Path, steps: int, *extra: str):
    """The reference: the same config trained in one go."""
    return train(load_experiment(None, overrides(image_root, run_dir, f"train.max_steps={steps}",
                                                 *extra)))


def resume(run_dir: Path, steps: int):
    config = load_experiment(run_dir / "config.yaml", [f"train.max_steps={steps}"])
    return train(config, resume=True)


def loss_curve(run_dir: Path) -> list[tuple[int, float]]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return [(int(r["step"]), float(r["train/loss"])) for r in csv.DictReader(handle)
                if r.get("train/loss")]


def temp_files(run_dir: Path) -> list[Path]:
    return sorted(run_dir.rglob(".*.tmp"))


# ------------------------------------------------------------------------------------ SIGKILL
@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_reaches_the_uninterrupted_weights(
        image_root, tmp_path):
    rng = random.Random(20240611)  # seeded: the same "random" moments on every run
    run_dir = tmp_path / "killed"
    last = run_dir / "checkpoints" / "last.ckpt"
    start_step = 0
    for segment in range(2):  # kill the first run, then kill its resumed continuation
        process = start_training(image_root, run_dir, f"train.max_steps={FOREVER}",
                                 resume=segment > 0)
        wait_until(lambda: checkpoint_step(last) > start_step, process)  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.8))
        process.kill()  # SIGKILL: no handler, no cleanup
        code, _, err = finish(process)
        assert code == -signal.SIGKILL, err
        # The checkpoint on disk after the kill always loads (atomic writes).
        step = load_training_checkpoint(last)["vaekit"]["batches_seen"]
        assert step > start_step and step % 10 == 0
        # run.json is written when training starts, so even a killed run records itself.
        assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
        start_step = step

    final = start_step + 17
    assert main(["train", "--resume", str(run_dir), f"--train.max_steps={final}"]) == 0
    straight = straight_run(image_root, tmp_path / "straight", final)
    assert_same_weights(run_weights(run_dir), straight.model.state_dict())
    assert json.loads((run_dir / "run.json").read_text())["steps"] == final
    assert temp_files(run_dir) == []  # left by a kill inside a write, removed on resume
    # The merged log continues the same curve: rows that a killed segment logged after its
    # last checkpoint are replaced by those of the segment that redid those steps. (A kill in
    # the milliseconds between a checkpoint and the next flush of the log can lose the row of
    # the checkpoint's own step, step 10k - 1; nothing else.)
    curve, expected = loss_curve(run_dir), dict(loss_curve(tmp_path / "straight"))
    steps = [s for s, _ in curve]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert dict(curve) == pytest.approx({s: expected[s] for s in steps}, abs=1e-5)
    lost = set(expected) - set(steps)
    assert len(lost) <= 2 and all(s % 10 == 9 for s in lost), lost


class _Crash(Exception):
    pass


class _CrashAfter(L.Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer, module, *args) -> None:
        if module.batches_seen == self.at:
            raise _Crash(f"crash after batch {self.at}")


def log_rows(run_dir: Path) -> list[tuple[int, str, float]]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return sorted((int(r["step"]), key, float(r[key])) for r in csv.DictReader(handle)
                      for key in ("train/loss", "val/loss") if r.get(key))


def test_crashes_then_resumes_give_the_uninterrupted_weights_and_log(image_root, tmp_path):
    """Each crash leaves the last periodic checkpoint, taken after the last batch of an epoch
    (5 batches an epoch here): Lightning restarts such checkpoints in a special way, and a second
    resume used to shift the validation schedule and the logged steps by one."""
    run_dir = tmp_path / "run"
    config = load_experiment(None, overrides(image_root, run_dir, "train.max_steps=57"))
    for crash_at, resumed in ((23, False), (43, True)):
        with pytest.raises(_Crash):
            train(load_experiment(run_dir / "config.yaml") if resumed else config,
                  resume=resumed, callbacks=[_CrashAfter(crash_at)])
        assert checkpoint_step(run_dir / "checkpoints" / "last.ckpt") == crash_at - 3
    resumed = train(load_experiment(run_dir / "config.yaml"), resume=True)
    straight = straight_run(image_root, tmp_path / "straight", 57)
    assert_same_weights(resumed.model.state_dict(), straight.model.state_dict())
    assert log_rows(run_dir) == log_rows(tmp_path / "straight")


def test_resume_removes_temp_files_that_a_kill_left(image_root, tmp_path):
    run_dir = tmp_path / "run"
    straight_run(image_root, run_dir, 3)
    stale = [run_dir / "checkpoints" / ".last.ckpt.x1y2z3.tmp",
             run_dir / "model" / ".model.safetensors.abc123.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = run_dir / "checkpoints" / "notes.tmp"  # not ours: left alone
    keep.write_text("mine")
    resume(run_dir, 6)
    assert not any(path.exists() for path in stale) and keep.exists()


# ------------------------------------------------------------------------------------- Ctrl-C
@pytest.mark.slow
def test_ctrl_c_saves_exits_130_with_one_line_and_resumes_exactly(image_root, tmp_path):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    process = start_training(image_root, run_dir, f"train.max_steps={FOREVER}")
    wait_until(lambda: checkpoint_step(last) > 0, process)
    time.sleep(random.Random(7).uniform(0.0, 0.5))
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process)
    assert code == 130, err
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("vaekit")]
    assert len(ours) == 1 and ours[0] == err.strip().splitlines()[-1], err
    match = re.fullmatch(r"vaekit train: interrupted at step (\d+) of \d+; saved '(.+)'; "
                         r"resume with: vaekit train --resume (.+)", ours[0])
    assert match, ours[0]
    step = int(match[1])
    assert Path(match[2]) == last and Path(match[3]) == run_dir
    # The checkpoint is of the step it stopped at, not of the last periodic save.
    assert checkpoint_step(last) == step
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "interrupted" and meta["steps"] == step

    resumed = resume(run_dir, step + 13)
    straight = straight_run(image_root, tmp_path / "straight", step + 13)
    assert_same_weights(resumed.model.state_dict(), straight.model.state_dict())


class _SendSigint(L.Callback):
    """Deliver SIGINT to this process (``times`` in a row) after training batch ``at``."""

    def __init__(self, at: int, times: int = 1) -> None:
        self.at, self.times = at, times

    def on_train_batch_end(self, trainer, module, *args) -> None:
        if module.batches_seen == self.at:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


def test_ctrl_c_in_the_middle_of_a_step_finishes_it_and_resumes_exactly(
        image_root, tmp_path, monkeypatch, default_sigint):
    from vaekit.models.vae import VAE

    original = VAE.loss

    def loss_then_ctrl_c(self, x, ctx=None, group="model"):
        terms = original(self, x, ctx, group)
        if ctx.step == 23:  # between the forward pass and the update
            signal.raise_signal(signal.SIGINT)
        return terms

    monkeypatch.setattr(VAE, "loss", loss_then_ctrl_c)
    config = load_experiment(None, overrides(image_root, tmp_path / "run", "train.max_steps=40"))
    with pytest.raises(TrainingInterrupted, match="interrupted at step 24 of 40") as info:
        train(config)
    assert info.value.steps == 24 and checkpoint_step(info.value.checkpoint) == 24
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    monkeypatch.setattr(VAE, "loss", original)
    resumed = resume(tmp_path / "run", 40)
    straight = straight_run(image_root, tmp_path / "straight", 40)
    assert_same_weights(resumed.model.state_dict(), straight.model.state_dict())


def test_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(image_root, tmp_path,
                                                                   default_sigint):
    config = load_experiment(None, overrides(image_root, tmp_path / "run", "train.max_steps=40"))
    with pytest.raises(TrainingInterrupted, match="without saving") as info:
        train(config, callbacks=[_SendSigint(at=15, times=2)])
    assert info.value.checkpoint is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # No checkpoint from inside the aborted step: the periodic one (step 10) is what resumes.
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt"]
    assert checkpoint_step(checkpoints / "last.ckpt") == 10
    resumed = resume(tmp_path / "run", 40)
    straight = straight_run(image_root, tmp_path / "straight", 40)
    assert_same_weights(resumed.model.state_dict(), straight.model.state_dict())


def test_a_callers_own_sigint_handler_is_left_alone_and_restored(image_root, tmp_path):
    def mine(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, mine)
    try:
        config = load_experiment(None, overrides(image_root, tmp_path / "run",
                                                 "train.max_steps=40"))
        # Lightning turns the KeyboardInterrupt into sys.exit(1); train() reports it as such.
        with pytest.raises(TrainingInterrupted, match="at step 15 without saving"):
            train(config, callbacks=[_SendSigint(at=15)])
        assert signal.getsignal(signal.SIGINT) is mine  # not Lightning's SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert checkpoint_step(tmp_path / "run" / "checkpoints" / "last.ckpt") == 10


def test_ctrl_c_from_the_cli_in_process_is_status_130_and_one_line(
        image_root, tmp_path, capsys, monkeypatch, default_sigint):
    def train_with_ctrl_c(config, **kwargs):
        return train(config, callbacks=[_SendSigint(at=5)], **kwargs)

    monkeypatch.setattr("vaekit.training.train", train_with_ctrl_c)  # what the CLI calls
    args = [f"--{o}" for o in overrides(image_root, tmp_path / "run", "train.max_steps=40")]
    assert main(["train", *args]) == 130
    err = capsys.readouterr().err.strip()
    # (the signal comes after this batch's stop check: the run stops after the next one)
    assert err.startswith("vaekit train: interrupted at step 6 of 40; saved")
    assert len(err.splitlines()) == 1


# ------------------------------------------------------------------------- atomic checkpoints
@pytest.mark.parametrize("crash", [_Crash, KeyboardInterrupt])
def test_a_crash_inside_a_checkpoint_write_keeps_the_old_file(tmp_path, monkeypatch, crash):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.full((1000,), 1.0)}, "step": 1}, path)
    before = path.read_bytes()
    real_save = torch.save

    def save_half_then_crash(obj, target, *args, **kwargs):
        real_save(obj, target, *args, **kwargs)
        with open(target, "r+b") as handle:  # the bytes written so far: half the file
            handle.truncate(os.path.getsize(target) // 2)
        raise crash("killed mid-write")

    monkeypatch.setattr(torch, "save", save_half_then_crash)
    with pytest.raises(crash):
        io.save_checkpoint({"state_dict": {"w": torch.full((1000,), 2.0)}, "step": 2}, path)
    assert path.read_bytes() == before
    assert load_training_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temp file left


def test_atomic_write_gives_the_file_a_normal_mode(tmp_path):
    atomic_write(tmp_path / "a.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
    (tmp_path / "b.bin").write_bytes(b"x")  # mode from the umask, as for any new file
    assert (tmp_path / "a.bin").stat().st_mode == (tmp_path / "b.bin").stat().st_mode


_WRITER = textwrap.dedent("""
    import sys, torch
    from vaekit.checkpoint import atomic_write
    path, i = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    while True:
        i += 1
        state = {"state_dict": {"w": torch.full((1 << 20,), float(i))}, "i": i}  # 4 MB
        atomic_write(__import__("pathlib").Path(path), lambda tmp: torch.save(state, tmp))
""")


@pytest.mark.slow
def test_sigkill_while_writing_large_checkpoints_never_leaves_a_corrupt_file(tmp_path):
    rng = random.Random(3)
    path = tmp_path / "last.ckpt"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    count = 0
    for _ in range(3):
        process = subprocess.Popen([sys.executable, str(script), str(path), str(count)],
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        before = count
        deadline = time.monotonic() + 60
        while count <= before + 1 and time.monotonic() < deadline:  # at least two writes
            time.sleep(0.01)
            if path.is_file():
                count = int(load_training_checkpoint(path)["i"])
        time.sleep(rng.uniform(0.0, 0.3))
        process.kill()
        process.wait()
        checkpoint = load_training_checkpoint(path)  # always a whole file
        weights = checkpoint["state_dict"]["w"]
        assert weights.numel() == 1 << 20 and bool((weights == checkpoint["i"]).all())
        count = int(checkpoint["i"])
    assert count > 3


# -------------------------------------------------------------------- resuming the wrong model
def test_resume_with_another_model_is_refused_before_the_run_is_touched(image_root, tmp_path,
                                                                        capsys):
    run_dir = tmp_path / "run"
    straight_run(image_root, run_dir, 12)
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert main(["train", "--resume", str(run_dir), "--model.latent_dim=5",
                 "--train.max_steps=20"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "holds a different model than the config describes" in err
    assert "model.decoder.0.weight (32, 4) vs (32, 5)" in err
    # Nothing changed: config.yaml still describes the checkpoint, no new checkpoint appeared.
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == files
    resumed = resume(run_dir, 20)
    assert resumed.steps == 20


@pytest.mark.parametrize("payload", [{"weights": torch.zeros(3)}, torch.zeros(3), [1, 2]],
                         ids=["dict-without-state-dict", "tensor", "list"])
def test_resume_from_a_foreign_torch_file_is_a_clear_error(image_root, tmp_path, payload):
    run_dir = tmp_path / "run"
    straight_run(image_root, run_dir, 3)
    torch.save(payload, run_dir / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match="not a vaekit training checkpoint .* without a "
                                              "'state_dict'"):
        resume(run_dir, 6)
