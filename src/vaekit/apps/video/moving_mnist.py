"""Stochastic Moving MNIST (SM-MNIST), generated on the fly from the real MNIST digits.

The recipe of Denton & Fergus (2018), "Stochastic Video Generation with a Learned Prior", ICML,
section 4.1 (and their released data generator): ``num_digits`` MNIST digits, resized to
``digit_size`` x ``digit_size`` (32), move inside a ``size`` x ``size`` (64) frame with a
velocity whose components are drawn from {-4, ..., 4} pixels per frame. When a digit reaches a
wall it bounces off with a *new random* speed away from that wall (from {1, ..., 4} pixels per
frame), which is what makes the future uncertain; overlapping digits are summed and clipped to
1. With ``deterministic=True`` the bounce just reverses the velocity (plain Moving MNIST,
Srivastava et al. 2015).

Every clip is a pure function of ``(seed, split, index)``, so a dataset is reproducible and its
``__len__`` (``num_sequences``) can be as large as wanted at no memory cost: training draws
fresh clips, evaluation fixed ones. The digits come from the real MNIST files in
``$VAEKIT_DATA/mnist`` read with :mod:`vaekit.data.idx` (train digits for ``split="train"``,
test digits for ``split="test"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vaekit.data.base import is_count
from vaekit.data.idx import mnist
from vaekit.errors import DataError
from vaekit.registry import DATASETS

_SPLIT_CODE = {"train": 0, "test": 1}


def resize_digits(digits: np.ndarray, digit_size: int) -> torch.Tensor:
    """uint8 MNIST digits ``(N, 1, 28, 28)`` -> float32 ``(N, digit_size, digit_size)`` in [0, 1]
    (bilinear, as the reference generator's ``transforms.Scale``)."""
    x = torch.from_numpy(np.ascontiguousarray(digits)).float().div_(255.0)
    if digit_size != x.shape[-1]:
        x = F.interpolate(x, size=(digit_size, digit_size), mode="bilinear", align_corners=False,
                          antialias=True)
    return x[:, 0].clamp_(0.0, 1.0)


def bouncing_trajectory(rng: np.random.Generator, seq_len: int, limit: int, max_speed: int,
                        deterministic: bool) -> np.ndarray:
    """Top-left corners ``(seq_len, 2)`` (row, col) of one digit, each in ``[0, limit]``.

    The reference recipe: start uniformly in ``[0, limit]``, velocity in
    ``{-max_speed..max_speed}`` per axis; before drawing each frame, a digit past a wall is put
    back on it and gets a new speed away from it (random in ``{1..max_speed}``, or the reversed
    one when ``deterministic``).
    """
    pos = rng.integers(0, limit + 1, size=2)
    vel = rng.integers(-max_speed, max_speed + 1, size=2)
    out = np.empty((seq_len, 2), dtype=np.int64)
    for t in range(seq_len):
        for axis in range(2):
            if pos[axis] < 0:
                pos[axis] = 0
                vel[axis] = -vel[axis] if deterministic else rng.integers(1, max_speed + 1)
            elif pos[axis] > limit:
                pos[axis] = limit
                vel[axis] = -vel[axis] if deterministic else -rng.integers(1, max_speed + 1)
        out[t] = pos
        pos = pos + vel
    return out


class MovingDigits(Dataset):
    """Clips ``(seq_len, 1, size, size)`` float32 in [0, 1] of digits bouncing in a frame.

    ``digits``: float ``(N, d, d)`` glyphs in [0, 1]; see the module docstring for the motion.
    ``data_shape`` is the shape of one *frame*, ``(1, size, size)`` (video models take the frame
    shape; batches are ``(B, T, C, H, W)``). ``trajectories(i)`` gives the corners of clip ``i``.
    """

    def __init__(self, digits: torch.Tensor, *, num_sequences: int, seq_len: int = 15,
                 num_digits: int = 2, size: int = 64, max_speed: int = 4,
                 deterministic: bool = False, seed: int = 0, split_code: int = 0,
                 name: str = "moving_mnist") -> None:
        for key, value, least in (("num_sequences", num_sequences, 1), ("seq_len", seq_len, 1),
                                  ("num_digits", num_digits, 1), ("size", size, 1),
                                  ("max_speed", max_speed, 0)):
            if not is_count(value, least):
                raise DataError(f"{name}: {key} must be an integer >= {least}, got {value!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise DataError(f"{name}: seed must be a non-negative integer, got {seed!r}")
        if digits.ndim != 3 or digits.shape[1] != digits.shape[2] or len(digits) == 0:
            raise DataError(f"{name}: digits must be a non-empty (N, d, d) array, "
                            f"got {tuple(digits.shape)}")
        if digits.shape[1] > size:
            raise DataError(f"{name}: digits of {digits.shape[1]} px do not fit a {size} px "
                            "frame; raise size or lower digit_size")
        self.digits = digits
        self.num_sequences, self.seq_len, self.num_digits = num_sequences, seq_len, num_digits
        self.size, self.max_speed, self.deterministic = size, max_speed, bool(deterministic)
        self.seed, self.split_code, self.name = int(seed), split_code, name

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (1, self.size, self.size)

    def __len__(self) -> int:
        return self.num_sequences

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.split_code, index])

    def _layout(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Digit indices ``(K,)`` and corners ``(K, T, 2)`` of clip ``index``."""
        if not 0 <= index < self.num_sequences:
            raise IndexError(f"{self.name}: index {index} out of range 0..{self.num_sequences - 1}")
        rng = self._rng(index)
        which = rng.integers(0, len(self.digits), size=self.num_digits)
        limit = self.size - self.digits.shape[1]
        corners = np.stack([bouncing_trajectory(rng, self.seq_len, limit, self.max_speed,
                                                self.deterministic)
                            for _ in range(self.num_digits)])
        return which, corners

    def trajectories(self, index: int) -> np.ndarray:
        """Top-left corners ``(num_digits, seq_len, 2)`` (row, col) of clip ``index``."""
        return self._layout(index)[1]

    def __getitem__(self, index: int) -> torch.Tensor:
        which, corners = self._layout(int(index))
        d = self.digits.shape[1]
        clip = torch.zeros(self.seq_len, 1, self.size, self.size)
        for k, digit in enumerate(which):
            glyph = self.digits[digit]
            for t, (row, col) in enumerate(corners[k]):
                clip[t, 0, row:row + d, col:col + d] += glyph
        return clip.clamp_(max=1.0)

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        return [self[i] for i in indices]


@DATASETS.register("moving_mnist")
def moving_mnist(root: str | None = None, split: str = "train", num_sequences: int = 1_000_000,
                 seq_len: int = 15, num_digits: int = 2, size: int = 64, digit_size: int = 32,
                 max_speed: int = 4, deterministic: bool = False, seed: int = 0,
                 digit_limit: int | None = None) -> MovingDigits:
    """Stochastic Moving MNIST (Denton & Fergus 2018) from the real MNIST digits.

    Clips ``(seq_len, 1, size, size)``; defaults are the paper's recipe (2 digits of 32 px in
    64 x 64 frames, speeds up to 4 px per frame, random bounces). ``split`` picks MNIST's train
    or test digits; ``num_sequences`` is the (virtual) number of clips, each a function of
    ``(seed, split, index)``; ``digit_limit`` keeps the first N digits; ``root`` is the MNIST
    folder (default ``$VAEKIT_DATA/mnist``).
    """
    if split not in _SPLIT_CODE:
        raise DataError(f"moving_mnist: unknown split '{split}'; valid splits: train, test")
    if not is_count(digit_size):
        raise DataError(f"moving_mnist: digit_size must be a positive integer, got {digit_size!r}")
    source = mnist(root=root, split=split, limit=digit_limit)
    digits = resize_digits(source.images.numpy(), digit_size)
    return MovingDigits(digits, num_sequences=num_sequences, seq_len=seq_len,
                        num_digits=num_digits, size=size, max_speed=max_speed,
                        deterministic=deterministic, seed=seed, split_code=_SPLIT_CODE[split],
                        name="moving_mnist")
