"""Image grids and animations as plain uint8 arrays, written with Pillow (no display needed).

Layout (the same arithmetic as ``torchvision.utils.make_grid``): ``N`` images of ``h x w`` in
``ncol = min(nrow, N)`` columns and ``ceil(N / ncol)`` rows, with ``padding`` pixels between
images and around the border, so the grid is
``(rows * (h + padding) + padding) x (ncol * (w + padding) + padding)`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaekit.errors import ShapeError

ImagesLike = torch.Tensor | np.ndarray


def _as_nchw(images: ImagesLike) -> np.ndarray:
    """Float array ``(N, C, H, W)`` with C in {1, 3}; ``(N, H, W)`` is taken as grey."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ShapeError(
            f"expected images (N, C, H, W) with 1 or 3 channels, got shape {array.shape}"
        )
    if len(array) == 0:
        raise ShapeError("no images to draw")
    return array


def to_uint8(images: ImagesLike) -> np.ndarray:
    """Values in [0, 1] -> uint8 0..255 (clipped, rounded; NaN becomes 0)."""
    array = np.nan_to_num(np.asarray(images, dtype=np.float32), nan=0.0)
    return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)


def grid_size(n: int, height: int, width: int, nrow: int, padding: int) -> tuple[int, int]:
    """(height, width) in pixels of the grid of ``n`` images of ``height x width``."""
    ncol = max(1, min(nrow, n))
    rows = math.ceil(n / ncol)
    return rows * (height + padding) + padding, ncol * (width + padding) + padding


def make_grid(
    images: ImagesLike, nrow: int = 8, padding: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile ``images`` ``(N, C, H, W)`` in [0, 1] into one uint8 RGB array ``(H', W', 3)``.

    ``nrow`` is the number of images per row (as in torchvision); grey images are repeated over
    the three colour channels; ``pad_value`` (in [0, 1], white by default) fills the padding.
    """
    if nrow < 1 or padding < 0:
        raise ValueError(f"need nrow >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    array = _as_nchw(images)
    n, c, h, w = array.shape
    if c == 1:
        array = np.repeat(array, 3, axis=1)
    tiles = to_uint8(array).transpose(0, 2, 3, 1)  # (N, H, W, 3)
    height, width = grid_size(n, h, w, nrow, padding)
    ncol = min(nrow, n)
    grid = np.full((height, width, 3), to_uint8(pad_value), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top = padding + (i // ncol) * (h + padding)
        left = padding + (i % ncol) * (w + padding)
        grid[top : top + h, left : left + w] = tile
    return grid


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_array(array: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 ``(H, W, 3)`` array as an image (format from the suffix; PNG is lossless)."""
    path = _prepare(path)
    Image.fromarray(array).save(path)
    return path


def save_image_grid(
    images: ImagesLike, path: str | Path, nrow: int = 8, padding: int = 2,
    pad_value: float = 1.0,
) -> Path:
    """:func:`make_grid` written to ``path`` (PNG); returns the path."""
    return save_array(make_grid(images, nrow, padding, pad_value), path)


def save_gif(frames: Sequence[np.ndarray], path: str | Path, duration_ms: int = 200,
             loop: int = 0) -> Path:
    """Write uint8 ``(H, W, 3)`` frames as an animated GIF (``loop=0``: forever).

    Pillow merges consecutive frames that are pixel-identical (lengthening the first), so the
    file can hold fewer frames than given when the animation has a still phase.
    """
    if len(frames) == 0:
        raise ShapeError("no frames to write")
    path = _prepare(path)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms,
                   loop=loop)
    return path
