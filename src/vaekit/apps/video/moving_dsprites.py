"""Moving dSprites: clips of one dSprites shape whose factors change over time.

Each clip keeps the shape (square, ellipse, heart) and changes the other four dSprites factors
(Matthey et al. 2017) frame by frame, in index units of the dataset's grids:

* position x and y (32 values each) move with a velocity drawn from ``{-max_speed..max_speed}``
  and bounce off the edges with a *new random* speed, as in Stochastic Moving MNIST;
* orientation (40 values over 2 pi) turns by a constant step drawn from ``{-2..2}`` per frame;
* scale (6 values) goes up or down by one every ``scale_period`` frames, turning at the ends.

Frames are rendered by :class:`vaekit.data.dsprites.DSprites` (procedural, 64x64, {0, 1}).
``factors(i)`` gives the ``(T, 5)`` factor indices of clip ``i`` (the ground truth for probing
what a video model's latents encode); every clip is a function of ``(seed, split, index)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vaekit.apps.video.moving_mnist import bouncing_trajectory
from vaekit.data.base import is_count
from vaekit.data.dsprites import FACTOR_NAMES, FACTOR_SIZES, DSprites
from vaekit.errors import DataError
from vaekit.registry import DATASETS

_SPLIT_CODE = {"train": 0, "test": 1}


class MovingDSprites(Dataset):
    """Clips ``(seq_len, 1, S, S)`` float32 in {0, 1}; see the module docstring."""

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES

    def __init__(self, *, num_sequences: int = 100_000, seq_len: int = 15, max_speed: int = 2,
                 scale_period: int = 3, render_size: int = 64, seed: int = 0,
                 split: str = "train") -> None:
        for key, value, least in (("num_sequences", num_sequences, 1), ("seq_len", seq_len, 1),
                                  ("max_speed", max_speed, 0), ("scale_period", scale_period, 1)):
            if not is_count(value, least):
                raise DataError(f"moving_dsprites: {key} must be an integer >= {least}, got "
                                f"{value!r}")
        if split not in _SPLIT_CODE:
            raise DataError(f"moving_dsprites: unknown split '{split}'; valid splits: train, "
                            "test")
        if not is_count(seed, 0):
            raise DataError(f"moving_dsprites: seed must be a non-negative integer, got {seed!r}")
        self.renderer = DSprites(render_size)
        self.num_sequences, self.seq_len, self.max_speed = num_sequences, seq_len, max_speed
        self.scale_period, self.seed, self.split = scale_period, int(seed), split

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.renderer.data_shape

    def __len__(self) -> int:
        return self.num_sequences

    def factors(self, index: int) -> np.ndarray:
        """Factor indices ``(seq_len, 5)`` [shape, scale, orientation, posX, posY] of a clip."""
        if not 0 <= index < self.num_sequences:
            raise IndexError(f"moving_dsprites: index {index} out of range "
                             f"0..{self.num_sequences - 1}")
        rng = np.random.default_rng([self.seed, _SPLIT_CODE[self.split], index])
        t = np.arange(self.seq_len)
        shape = np.full(self.seq_len, rng.integers(0, FACTOR_SIZES[0]))
        # Scale: a triangle wave over 0..5 starting at a random phase and direction.
        period = 2 * (FACTOR_SIZES[1] - 1)
        phase = rng.integers(0, period)
        wave = (phase + t // self.scale_period) % period
        scale = np.where(wave < FACTOR_SIZES[1], wave, period - wave)
        spin = rng.integers(-2, 3)
        orientation = (rng.integers(0, FACTOR_SIZES[2]) + spin * t) % FACTOR_SIZES[2]
        pos = bouncing_trajectory(rng, self.seq_len, FACTOR_SIZES[3] - 1, self.max_speed,
                                  deterministic=False)  # (T, 2): (x, y) grid indices
        return np.stack([shape, scale, orientation, pos[:, 0], pos[:, 1]], axis=1)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.renderer.render(self.factors(int(index)))

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        return [self[i] for i in indices]


@DATASETS.register("moving_dsprites")
def moving_dsprites(split: str = "train", num_sequences: int = 100_000, seq_len: int = 15,
                    max_speed: int = 2, scale_period: int = 3, render_size: int = 64,
                    seed: int = 0) -> MovingDSprites:
    """Moving dSprites clips (procedural, nothing to download); see
    :mod:`vaekit.apps.video.moving_dsprites`."""
    return MovingDSprites(num_sequences=num_sequences, seq_len=seq_len, max_speed=max_speed,
                          scale_period=scale_period, render_size=render_size, seed=seed,
                          split=split)
