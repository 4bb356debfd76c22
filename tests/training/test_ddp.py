"""Multi-process training through Lightning's DDP on CPU (gloo), launched with torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {tests!r})
    import conftest  # registers the test dataset
    from vaekit.cli.main import main
    sys.exit(main(sys.argv[1:]))
''')

ARGS = ["train", "--model.type=vae", "--model.network=mlp", "--model.latent_dim=4",
        "--model.network_options={hidden: [32]}", "--data.name=test_blobs",
        "--data.val_size=32", "--data.options={n: 512}", "--train.max_steps=40",
        "--train.batch_size=16", "--train.lr=3e-3", "--train.val_every=40",
        "--train.val_batches=2", "--train.progress_bar=false", "--train.loggers=[csv]"]


def run(tmp_path: Path, name: str, launcher: list[str], extra: list[str]) -> dict:
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).resolve().parents[1])))
    run_dir = tmp_path / name
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29531"}
    proc = subprocess.run([*launcher, str(script), *ARGS, f"--run_dir={run_dir}", *extra],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "run.json").read_text())


@pytest.mark.slow
def test_two_process_ddp_matches_single_process_in_loss_scale(tmp_path):
    single = run(tmp_path, "single", [sys.executable], ["--train.threads=1"])
    ddp = run(tmp_path, "ddp",
              [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master_port=29531"],
              ["--train.devices=2", "--train.strategy=ddp", "--train.threads=1"])
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["steps"] == single["steps"] == 40
    a, b = single["final_metrics"]["val/loss"], ddp["final_metrics"]["val/loss"]
    # Per-example losses: same scale whatever the number of processes (2 processes see twice
    # the data per step, so they may be a little lower, not 2x apart).
    assert 0.8 < b / a < 1.2, (a, b)
