"""Fixtures for the dataset tests: the real-data sub-folders, skipped only when absent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


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
