"""Helpers shared by the benchmark scripts (imported as ``common``: they run from here)."""

from __future__ import annotations

import json
from pathlib import Path


def finished_run(run_dir: Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a finished training run of exactly ``steps`` steps (its run.json
    and exported model exist), so a benchmark may score it again instead of retraining."""
    meta = run_dir / "run.json"
    if not (meta.is_file() and (run_dir / "model" / "model.safetensors").is_file()):
        return False
    return json.loads(meta.read_text()).get("steps") == steps
