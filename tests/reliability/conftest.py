"""Fixtures of the reliability suite.

Training subprocesses cannot see the ``test_blobs`` dataset that ``tests/conftest.py`` registers
inside pytest, so runs here train on a tiny folder of PNG files (``image_folder``) that both a
subprocess and the pytest process can load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    """96 binary 8x8 grayscale PNGs: a 3x3 square at a random place."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i, (r, c) in enumerate(rng.integers(0, 6, (96, 2))):
        pixels = np.zeros((8, 8), np.uint8)
        pixels[r:r + 3, c:c + 3] = 255
        Image.fromarray(pixels).save(root / f"{i:03d}.png")
    return root



@pytest.fixture
def default_sigint():
    """Tests that deliver SIGINT to the pytest process need Python's own handler in place (the
    training loop then turns the signal into a clean stop instead of a KeyboardInterrupt that
    would end the test session)."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler in this process")
