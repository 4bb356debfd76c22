"""Shared fixtures: a tiny registered dataset for engine tests, the real-data root and its
sub-folders (skipped, with the reason, only when absent)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.data.base import ArrayImageDataset
from vaekit.registry import DATASETS

# One thread: the tests use tiny tensors, and on a shared 2-core machine OpenMP's spinning
# threads make them many times slower.
torch.set_num_threads(1)


@DATASETS.register("test_blobs")
def _test_blobs(split: str = "train", n: int = 256, size: int = 8) -> ArrayImageDataset:
    """Binary 8x8 images of a filled square at a random place (structure a VAE can learn)."""
    rng = np.random.default_rng({"train": 0, "test": 1}.get(split, 2))
    images = np.zeros((n, 1, size, size), dtype=np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, size - 2, (n, 2))):
        images[i, 0, r:r + 3, c:c + 3] = 1
    return ArrayImageDataset(images, binary=True, name="test_blobs")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder (VAEKIT_DATA, default ../shared/data); skips if it is absent."""
    from vaekit.data.paths import data_root

    root = data_root().resolve()
    if not root.is_dir():
        pytest.skip(f"real data folder {root} is absent (set VAEKIT_DATA)")
    os.environ.setdefault("VAEKIT_DATA", str(root))
    return root


@pytest.fixture
def real_data(shared_data: Path) -> Callable[[str], Path]:
    """``real_data("mnist")`` -> the real ``mnist/`` folder; skips if that folder is absent."""

    def get(name: str) -> Path:
        folder = shared_data / name
        if not folder.is_dir():
            pytest.skip(f"real data folder {folder} is absent (set VAEKIT_DATA to a folder "
                        f"holding {name}/)")
        return folder

    return get
