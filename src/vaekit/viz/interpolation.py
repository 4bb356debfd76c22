"""Linear interpolation between the posterior means of two inputs.

Smooth, plausible in-between images indicate that the decoder is well behaved between codes the
encoder produces (Bowman et al. 2016, "Generating sentences from a continuous space", used the
same probe for text VAEs).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vaekit.evaluation.likelihood import as_batch, evaluating
from vaekit.viz.grid import make_grid, save_gif, save_image_grid

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def interpolate(model: BaseVAE, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10
                ) -> torch.Tensor:
    """Decoded images ``(B, steps, C, H, W)`` along ``(1 - t) mu_a + t mu_b``, t in [0, 1].

    ``x_a`` and ``x_b`` are single examples or batches of pairs; the endpoints are the
    reconstructions of ``x_a`` and ``x_b`` at their posterior means.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    with evaluating(model):
        x_a, x_b = as_batch(model, x_a), as_batch(model, x_b)
        if len(x_a) != len(x_b):
            raise ValueError(f"x_a and x_b hold {len(x_a)} and {len(x_b)} examples")
        mu_a, mu_b = model.encode(x_a).mean, model.encode(x_b).mean  # (B, D)
        t = torch.linspace(0.0, 1.0, steps, dtype=mu_a.dtype, device=mu_a.device)[None, :, None]
        z = (1 - t) * mu_a[:, None] + t * mu_b[:, None]  # (B, steps, D)
        return model.likelihood.mean_image(model.decode(z)).cpu()


def save_interpolations(
    model: BaseVAE,
    x_a: torch.Tensor,
    x_b: torch.Tensor,
    path: str | Path,
    steps: int = 10,
    gif_path: str | Path | None = None,
    padding: int = 2,
    duration_ms: int = 150,
) -> Path:
    """Write a PNG grid with one row per pair and ``steps`` columns, and optionally an animated
    GIF with ``steps`` frames (frame t shows every pair at step t). Returns the PNG path."""
    images = interpolate(model, x_a, x_b, steps)  # (B, steps, C, H, W)
    pairs = images.shape[0]
    out = save_image_grid(images.flatten(0, 1), path, nrow=steps, padding=padding)
    if gif_path is not None:
        ncol = math.ceil(math.sqrt(pairs))
        frames = [make_grid(images[:, t], nrow=ncol, padding=padding) for t in range(steps)]
        save_gif(frames, gif_path, duration_ms=duration_ms)
    return out
