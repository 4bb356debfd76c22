"""Helpers shared by the benchmark scripts (imported as ``common``: they run from here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch


def finished_run(run_dir: Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a finished training run of exactly ``steps`` steps (its run.json
    and exported model exist), so a benchmark may score it again instead of retraining."""
    meta = run_dir / "run.json"
    if not (meta.is_file() and (run_dir / "model" / "model.safetensors").is_file()):
        return False
    return json.loads(meta.read_text()).get("steps") == steps


class RealImages:
    """A 'sampler' that hands out real images (a seeded random subset of ``dataset``), for the
    reference row of sample-quality tables: real training images against the test images.

    Each call returns the next ``n`` images: sample_quality asks for its images a batch at a
    time, and handing out the same first batch again would fill the set with duplicates.
    """

    def __init__(self, dataset, n: int, seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(dataset))[:n]
        self.images = torch.stack([dataset[int(i)] for i in order])
        self.next = 0

    def sample(self, n: int, generator=None) -> torch.Tensor:
        start, self.next = self.next, self.next + n
        return self.images[start:start + n]
