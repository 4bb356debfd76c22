"""dSprites (Matthey, Higgins, Hassabis & Lerchner 2017, github.com/deepmind/dsprites-dataset).

737,280 binary 64x64 images of a white sprite on black, one per combination of five factors:

======  ====  ====================================================================
factor  size  values (the release's ``latents_values``)
======  ====  ====================================================================
shape      3  1, 2, 3 = square, ellipse, heart
scale      6  linspace(0.5, 1, 6)
orient.   40  linspace(0, 2 pi, 40) (so index 39 draws the same image as index 0)
posX      32  linspace(0, 1, 32)
posY      32  linspace(0, 1, 32)
======  ====  ====================================================================

The release's sixth factor, ``color``, is the constant 1 (white) and is left out, so item ``i``
here is image ``i`` of the release (same row-major factor order).

:class:`DSprites` does not need the 26 MB file: it renders any factor combination on demand,
vectorised over a batch. The recipe was recovered by fitting the 320 frames of the release's
``dsprites.gif`` (the reference fixture ``dsprites_reference/dsprites_reference_frames.npz``;
the original was drawn as vector shapes with the LOVE engine, see deepmind/dsprites-dataset
issue #2): a pixel is on when its centre lies inside the shape. In pixels of the 64-pixel
canvas, at scale 1:

- centre: ``(16 + 32 * posX, 16 + 32 * posY)``, x along columns, y along rows (downwards);
- square: side 19.2 (0.3 of the canvas);
- ellipse: semi-axes 12.766 (along x) and 7.213;
- heart: the classic curve ``x = 16 sin^3 t``, ``y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t``
  (as quoted from that issue by reimplementations), point down, stretched by 0.59966 in x
  (width 19.2, like the square) and 0.66217 in y, the curve's origin 1.4366 above the centre
  of rotation;
- scale multiplies the sprite's size about its centre; orientation turns it counter-clockwise as
  displayed (row 0 at the top).

Fit on the reference fixture: 314 of the 320 gif frames reproduced exactly, none off by more than
4 pixels (mean 0.05); the 43 frames recovered from the repository's notebook: mean 0.37, max 5.
The real file, when you have it, is read by :meth:`DSprites.from_npz`.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.errors import DataError
from vaekit.registry import DATASETS

NPZ_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPE_NAMES = ("square", "ellipse", "heart")

# Geometry in pixels of the 64-pixel canvas at scale 1 (fitted, see the module docstring).
_CANVAS = 64
_CENTRE_MIN, _CENTRE_SPAN = 16.0, 32.0
_SQUARE_HALF = 9.6
_ELLIPSE_RX, _ELLIPSE_RY = 12.766, 7.213
_HEART_KX, _HEART_KY, _HEART_DY = 0.59966, 0.66217, -1.4366
# The farthest any sprite pixel lies from the sprite's centre: the square's corner, 9.6 * sqrt 2.
_MAX_RADIUS = 13.6
# Shape tests run in float32 (twice as fast as float64 on CPU); over every 7th image of the
# dataset this flips 1 pixel in 105,326 images compared with float64.
_DTYPE = torch.float32


def factor_values() -> list[np.ndarray]:
    """The release's ``latents_values`` of each factor, without ``color`` (always 1)."""
    return [
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    ]


def _heart_inside(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whether sprite-frame points (pixels at scale 1, y downwards) lie inside the heart.

    Exact for the parametric curve: ``x = 16 sin^3 t`` takes every value of (-16, 16) at exactly
    two ``t`` (``t`` and ``pi - t``), so a vertical line meets the outline twice, at heights
    ``P(c) +- Q(c)`` with ``c = |cos t|`` (cos kt written as Chebyshev polynomials of c).
    """
    xn = (x / (16.0 * _HEART_KX)).abs()
    c = (1.0 - xn.pow(2.0 / 3.0)).clamp_min(0.0).sqrt()  # |cos t| from |sin t| = xn^(1/3)
    c2 = c * c
    even = 4.0 - 2.0 * c2 - 8.0 * c2 * c2   # -5 cos 2t - cos 4t
    odd = c * (19.0 - 8.0 * c2)             # 13 cos t - 2 cos 3t, >= 0 on [0, 1]
    height = (_HEART_DY - y) / _HEART_KY    # the curve's own y axis points up
    return (xn <= 1.0) & ((height - even).abs() <= odd)


@DATASETS.register("dsprites")
class DSprites(GroundTruthDataset):
    """dSprites rendered procedurally: items are float32 ``(1, 64, 64)`` images in {0, 1}.

    ``render_size``: output resolution. 64 reproduces the release; other sizes draw the same
    vector shapes on a finer or coarser pixel grid (they are not in the release).
    """

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES

    def __init__(self, render_size: int = 64) -> None:
        if not isinstance(render_size, (int, np.integer)) or not 8 <= render_size <= 1024:
            raise DataError(f"dsprites: render_size must be an integer in [8, 1024], "
                            f"got {render_size!r} (64 is the original dataset)")
        self.render_size = int(render_size)
        self._values = factor_values()
        k = self.render_size / _CANVAS
        # Each sprite is drawn in a square window around its centre, not on the whole canvas:
        # 4x less work at 64 px. Half-width >= the sprite's radius + 1 pixel of slack.
        self._window = min(self.render_size, 2 * (math.ceil(_MAX_RADIUS * k) + 1))

    def factor_values(self) -> list[np.ndarray]:
        return [v.copy() for v in self._values]

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (1, self.render_size, self.render_size)

    def _check_factors(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
            raise DataError(f"dsprites: factors must have shape (n, {len(FACTOR_SIZES)}) "
                            f"[{', '.join(FACTOR_NAMES)}], got {factors.shape}")
        if not np.issubdtype(factors.dtype, np.integer):
            raise DataError(f"dsprites: factors are class indices (integers), got {factors.dtype}")
        bad = (factors < 0) | (factors >= np.asarray(FACTOR_SIZES))
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise DataError(f"dsprites: factor {FACTOR_NAMES[col]} = {factors[row, col]} (row "
                            f"{row}) is out of range 0..{FACTOR_SIZES[col] - 1}")
        return factors.astype(np.int64, copy=False)

    def render(self, factors: np.ndarray) -> torch.Tensor:
        """Images ``(n, 1, S, S)`` float32 in {0, 1} for factor indices ``(n, 5)``."""
        factors = self._check_factors(factors)
        n, size, win = len(factors), self.render_size, self._window
        out = torch.zeros(n, size * size, dtype=torch.float32)
        if n == 0:
            return out.view(n, 1, size, size)
        scale = torch.from_numpy(self._values[1][factors[:, 1]])
        angle = torch.from_numpy(self._values[2][factors[:, 2]])
        cx = _CENTRE_MIN + _CENTRE_SPAN * torch.from_numpy(self._values[3][factors[:, 3]])
        cy = _CENTRE_MIN + _CENTRE_SPAN * torch.from_numpy(self._values[4][factors[:, 4]])
        k = size / _CANVAS  # output pixels per canvas pixel
        # Window origin in output pixels; a sprite always lies inside the canvas, so the clamp
        # only slides the window inwards and never cuts the sprite.
        x0 = torch.round(cx * k - win / 2).clamp(0, size - win).long()
        y0 = torch.round(cy * k - win / 2).clamp(0, size - win).long()
        steps = torch.arange(win)
        inside = torch.empty(n, win, win, dtype=torch.bool)
        shape = torch.from_numpy(factors[:, 0])
        for code, test in enumerate((self._square, self._ellipse, _heart_inside)):
            rows = torch.nonzero(shape == code).squeeze(1)
            if len(rows) == 0:
                continue
            # Pixel centres relative to the sprite's centre, in canvas pixels.
            dx = ((x0[rows, None] + steps + 0.5) / k - cx[rows, None]).to(_DTYPE)[:, None, :]
            dy = ((y0[rows, None] + steps + 0.5) / k - cy[rows, None]).to(_DTYPE)[:, :, None]
            cos = (torch.cos(angle[rows]) / scale[rows]).to(_DTYPE)[:, None, None]
            sin = (torch.sin(angle[rows]) / scale[rows]).to(_DTYPE)[:, None, None]
            # Into the sprite's frame at scale 1: turn by -angle on screen (y down), unscale.
            inside[rows] = test(cos * dx - sin * dy, sin * dx + cos * dy)
        flat = ((y0[:, None] + steps) * size)[:, :, None] + (x0[:, None] + steps)[:, None, :]
        out.scatter_(1, flat.view(n, -1), inside.view(n, -1).float())
        return out.view(n, 1, size, size)

    @staticmethod
    def _square(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u.abs() <= _SQUARE_HALF) & (v.abs() <= _SQUARE_HALF)

    @staticmethod
    def _ellipse(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u / _ELLIPSE_RX).square() + (v / _ELLIPSE_RY).square() <= 1.0

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> DSpritesArray:
        """The release's images from ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``.

        Only the plain arrays are read (``allow_pickle=False``; the pickled ``metadata`` is
        skipped). Images are kept bit-packed (377 MB instead of 3 GB) and read in chunks.
        """
        return DSpritesArray(path)


class DSpritesArray(DSprites):
    """dSprites served from the release's npz file instead of being rendered."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(render_size=_CANVAS)
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise DataError(f"dsprites: file not found: '{self.path}'. Download {NPZ_NAME} with "
                            "vaekit.data.download.download_dsprites(dest).")
        count = int(np.prod(FACTOR_SIZES))
        self.packed = read_packed_npz_images(self.path, "imgs", count, (_CANVAS, _CANVAS))
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                classes = archive["latents_classes"]
        except (KeyError, ValueError, OSError, EOFError, RuntimeError, NotImplementedError,
                zlib.error, zipfile.BadZipFile) as err:
            raise DataError(f"dsprites: cannot read 'latents_classes' from '{self.path}': "
                            f"{err}") from err
        expected = self.index_to_factors(np.arange(count))
        if classes.shape != (count, 6) or not np.array_equal(classes[:, 1:], expected):
            raise DataError(f"dsprites: '{self.path}' is not the dSprites release: its "
                            "latents_classes are not the full factor grid in row-major order")

    def render(self, factors: np.ndarray) -> torch.Tensor:
        index = self.factors_to_index(self._check_factors(factors))
        bits = np.unpackbits(self.packed[index], axis=-1)
        return torch.from_numpy(bits).float().unsqueeze(1)


def read_packed_npz_images(path: Path, key: str, count: int,
                           image_shape: tuple[int, int]) -> np.ndarray:
    """Member ``key`` of an npz as ``np.packbits`` rows ``(count, H, W // 8)``, read in chunks.

    The array must be a plain (non-object) 0/1 array of shape ``(count, H, W)``; anything else is
    a :class:`DataError` naming the file.
    """
    height, width = image_shape
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as stream:
            version = np.lib.format.read_magic(stream)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(stream)
            if dtype.hasobject or fortran or dtype.itemsize != 1:
                raise DataError(f"'{path}': '{key}' must be a C-ordered uint8 array, got {dtype}")
            if tuple(shape) != (count, height, width):
                raise DataError(f"'{path}': '{key}' has shape {tuple(shape)}, expected "
                                f"{(count, height, width)}")
            packed = np.empty((count, height, width // 8), dtype=np.uint8)
            chunk = 16384
            for start in range(0, count, chunk):
                stop = min(start + chunk, count)
                raw = stream.read((stop - start) * height * width)
                if len(raw) != (stop - start) * height * width:
                    got = start + len(raw) // (height * width)
                    raise DataError(f"'{path}': '{key}' is truncated ({got} of {count} images)")
                block = np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width)
                if block.max(initial=0) > 1:
                    raise DataError(f"'{path}': '{key}' must hold 0/1 pixels")
                packed[start:stop] = np.packbits(block, axis=-1)
    except DataError:
        raise
    except KeyError as err:
        raise DataError(f"'{path}' has no array '{key}'") from err
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError, NotImplementedError,
            zlib.error) as err:  # (what a damaged or encrypted zip member raises)
        raise DataError(f"'{path}' is not a readable npz file: {err}") from err
    return packed
