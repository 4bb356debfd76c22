"""Samples from the generative model: means of p(x|z) for z drawn from the prior."""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vaekit.errors import ConfigError
from vaekit.evaluation.likelihood import evaluating
from vaekit.viz.data_files import is_image_shape, is_numeric_path, save_examples
from vaekit.viz.grid import save_image_grid

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def save_samples(
    model: BaseVAE, n: int, path: str | Path, seed: int | None = 0, nrow: int | None = None,
    padding: int = 2, temperature: float | None = None,
) -> Path:
    """Write a PNG grid of ``n`` samples (a near-square grid unless ``nrow`` is given); for
    sequence data a PNG of line plots, and for any data the numbers when ``path`` ends in
    ``.npy`` or ``.csv`` (:func:`vaekit.viz.data_files.save_examples`).

    The images are the means of p(x|z), not draws from it: pixel noise from the likelihood hides
    what the decoder has learned. ``seed`` makes the latents reproducible (None: global RNG).
    ``temperature`` scales the prior's spread, for models whose ``sample`` takes one
    (hierarchical VAE, VQ-VAE); None keeps the model's default.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    options = {}
    if temperature is not None:
        if "temperature" not in inspect.signature(model.sample).parameters:
            raise ConfigError(f"{type(model).__name__} samples without a temperature; "
                              "leave out --temperature")
        options["temperature"] = float(temperature)
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    with evaluating(model):
        images = model.sample(n, generator=generator, **options).cpu()
    if not is_image_shape(images.shape[1:]) or is_numeric_path(path):
        return save_examples([images], path, names=["sample"])
    return save_image_grid(images, path, nrow=nrow or math.ceil(math.sqrt(n)), padding=padding)
