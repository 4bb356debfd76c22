"""Helpers of the reliability suite (imported by its test modules; the fixture that writes
the image folder is in this folder's conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

# Small and fast (about 2-3 ms a step on one CPU thread), checkpointing often so that a kill at
# a random moment often lands near or inside a checkpoint write.
TRAIN_OPTIONS = [
    "model.type=vae", "model.network=mlp", "model.latent_dim=4",
    "model.network_options={hidden: [32]}", "data.name=image_folder", "data.val_size=16",
    "train.batch_size=16", "train.checkpoint_every=10", "train.log_every=5",
    "train.val_every=25", "train.progress_bar=false", "train.loggers=[csv]", "train.threads=1",
]
FOREVER = 10**6  # max_steps of runs that are stopped from outside


def overrides(image_root: Path, run_dir: Path, *extra: str) -> list[str]:
    return [*TRAIN_OPTIONS, f"data.root={image_root}", f"run_dir={run_dir}", *extra]


def start_cli(*args: str) -> subprocess.Popen:
    """``python -m vaekit.cli.main ARGS``; its output goes to temporary files (see
    :func:`finish`). SIGINT is reset to its default: a shell that starts pytest in the
    background ignores SIGINT, and children would inherit that."""
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vaekit.cli.main", *args], env=env, text=True,
        stdout=out, stderr=err, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    process.logs = (out, err)  # type: ignore[attr-defined]
    return process


def start_training(image_root: Path, run_dir: Path, *extra: str,
                   resume: bool = False) -> subprocess.Popen:
    if resume:
        return start_cli("train", "--resume", str(run_dir), *(f"--{o}" for o in extra))
    return start_cli("train", *(f"--{o}" for o in overrides(image_root, run_dir, *extra)))


def finish(process: subprocess.Popen, timeout: float = 180.0) -> tuple[int, str, str]:
    """Wait for ``process``; its exit status, stdout and stderr."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    texts = []
    for log in process.logs:  # type: ignore[attr-defined]
        log.seek(0)
        texts.append(log.read())
        log.close()
    return process.returncode, texts[0], texts[1]


def wait_until(condition: Callable[[], bool], process: subprocess.Popen,
               timeout: float = 180.0) -> None:
    """Poll ``condition`` while ``process`` runs; fail with its output if it ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            code, out, err = finish(process, timeout=0.1)
            pytest.fail(f"process ended ({code}) or timed out before the condition:\n{out}\n{err}")
        time.sleep(0.02)


def checkpoint_step(path: Path) -> int:
    """Training batches done in the training checkpoint ``path``, or -1 if it is unreadable
    (a poll may race a write: it never sees a partial file, but the file may be replaced)."""
    from vaekit.errors import CheckpointError
    from vaekit.training.checkpoint_io import load_training_checkpoint

    try:
        return int(load_training_checkpoint(path)["vaekit"]["batches_seen"])
    except (CheckpointError, FileNotFoundError):
        return -1


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Bit-identical is what CPU runs give; the tolerance only guards exotic BLAS builds."""
    assert a.keys() == b.keys()
    for name in a:
        diff = (a[name] - b[name]).abs().max().item()
        assert diff <= 1e-6, f"{name}: max |difference| {diff}"


def run_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from vaekit.checkpoint import load_pretrained

    return load_pretrained(run_dir / "model").state_dict()


class Hang(BaseException):
    """Raised by :func:`time_limit`; a BaseException so that no ``except Exception`` in the
    library can turn a hang into a documented error."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail a call that takes longer than ``seconds`` (SIGALRM; main thread, POSIX)."""

    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
