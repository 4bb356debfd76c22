"""Colour and noisy dSprites (Locatello et al. 2019, as in google-research/disentanglement_lib).

Both are 3-channel versions of :class:`~vaekit.data.dsprites.DSprites` with the same five factors
(shape, scale, orientation, posX, posY) and the same sprite masks, drawn by a wrapped ``DSprites``
(procedural by default, or the release's file via ``DSprites.from_npz``):

- ``color_dsprites``, :class:`ColorDSprites`: the sprite takes an RGB colour drawn uniformly from
  ``[0.5, 1]^3``, on black. As in disentanglement_lib's ``ColorDSprites`` the colour is nuisance
  noise, not a factor: it is drawn per observation and is independent of the factors.
- ``noisy_dsprites``, :class:`NoisyDSprites`: the black background is replaced by uniform noise
  in ``[0, 1]^3`` (independent per pixel and channel); the sprite stays white. disentanglement_lib
  computes ``min(sprite + noise, 1)``, which is the same thing for a {0, 1} sprite.

Randomness. disentanglement_lib draws a fresh colour / noise every time an observation is
sampled. Here it is instead a fixed function of the item's index and the dataset's ``seed``:
item ``i`` uses ``numpy.random.default_rng([seed, i])``. So rendering the same factors twice
gives the same image, whatever the batch, its order, or the number of DataLoader workers, and a
run is reproducible from its seed. Across the dataset the colours / noise are still uniform and
independent of the factors; what differs from the reference is only that revisiting an index
does not redraw them (each image of the 737,280 has one colour, like a stored dataset would).
A different ``seed`` gives a different, equally valid draw.
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.data.dsprites import FACTOR_NAMES, FACTOR_SIZES, DSprites
from vaekit.errors import DataError
from vaekit.registry import DATASETS

COLOR_LOW, COLOR_HIGH = 0.5, 1.0


class _DSpritesVariant(GroundTruthDataset):
    """dSprites masks from a wrapped :class:`DSprites`, turned into RGB images by :meth:`_paint`.

    ``seed``: non-negative integer; item ``i``'s randomness comes from
    ``np.random.default_rng([seed, i])``. ``render_size``: as for :class:`DSprites` (64 is the
    original). ``sprites``: the dSprites to take masks from, e.g. ``DSprites.from_npz(path)``
    for the release's images (default: a procedural ``DSprites(render_size)``).
    """

    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    name = "dsprites_variant"

    def __init__(self, seed: int = 0, render_size: int = 64,
                 sprites: DSprites | None = None) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DataError(f"{self.name}: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        if sprites is None:
            sprites = DSprites(render_size=render_size)
        elif sprites.render_size != render_size:
            raise DataError(f"{self.name}: render_size={render_size} but the given sprites are "
                            f"rendered at {sprites.render_size}")
        self.sprites = sprites
        self.render_size = sprites.render_size

    def factor_values(self) -> list[np.ndarray]:
        return self.sprites.factor_values()

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (3, self.render_size, self.render_size)

    def generators(self, index: np.ndarray) -> list[np.random.Generator]:
        """The generator of each item index: a function of (seed, index) only."""
        return [np.random.default_rng([self.seed, int(i)]) for i in np.asarray(index).ravel()]

    def render(self, factors: np.ndarray) -> torch.Tensor:
        """Images ``(n, 3, S, S)`` float32 in [0, 1] for factor indices ``(n, 5)``."""
        masks = self.sprites.render(factors)  # validates the factors
        index = self.factors_to_index(np.asarray(factors))
        return self._paint(masks, self.generators(index))

    def sprite_mask(self, factors: np.ndarray) -> torch.Tensor:
        """The wrapped dSprites' mask ``(n, 1, S, S)`` in {0, 1} (no colour, no noise)."""
        return self.sprites.render(factors)

    def _paint(self, masks: torch.Tensor, rngs: list[np.random.Generator]) -> torch.Tensor:
        raise NotImplementedError


@DATASETS.register("color_dsprites")
class ColorDSprites(_DSpritesVariant):
    """dSprites with each sprite in a random colour from ``[0.5, 1]^3`` (not a factor), on black.

    Item ``i``'s colour is ``default_rng([seed, i]).uniform(0.5, 1, 3)``; see the module docstring.
    """

    name = "color_dsprites"

    def colors(self, factors: np.ndarray) -> np.ndarray:
        """The RGB colour ``(n, 3)`` of each item (what :meth:`render` multiplies the mask by)."""
        index = self.factors_to_index(np.asarray(factors))
        return self._colors(self.generators(index))

    @staticmethod
    def _colors(rngs: list[np.random.Generator]) -> np.ndarray:
        colors = [rng.uniform(COLOR_LOW, COLOR_HIGH, 3) for rng in rngs]
        return np.asarray(colors, dtype=np.float32).reshape(len(rngs), 3)

    def _paint(self, masks: torch.Tensor, rngs: list[np.random.Generator]) -> torch.Tensor:
        color = torch.from_numpy(self._colors(rngs))[:, :, None, None]
        return masks * color  # (n, 1, S, S) * (n, 3, 1, 1) -> (n, 3, S, S)


@DATASETS.register("noisy_dsprites")
class NoisyDSprites(_DSpritesVariant):
    """dSprites with a white sprite on uniform ``[0, 1]^3`` noise instead of black.

    Item ``i``'s noise is ``default_rng([seed, i]).random((3, S, S), float32)``; see the module
    docstring.
    """

    name = "noisy_dsprites"

    def _paint(self, masks: torch.Tensor, rngs: list[np.random.Generator]) -> torch.Tensor:
        size = self.render_size
        noise = np.empty((len(rngs), 3, size, size), dtype=np.float32)
        for row, rng in enumerate(rngs):
            rng.random(out=noise[row], dtype=np.float32)
        # max(mask, noise) == min(mask + noise, 1) (disentanglement_lib) for a {0, 1} mask.
        return torch.maximum(masks, torch.from_numpy(noise))
