"""Originals above their reconstructions, for a quick look at what the code keeps."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vaekit.evaluation.likelihood import as_batch, evaluating
from vaekit.viz.data_files import is_image_shape, is_numeric_path, save_examples
from vaekit.viz.grid import save_image_grid

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def reconstruction_pairs(model: BaseVAE, x: torch.Tensor, ncol: int) -> torch.Tensor:
    """Images ``(2 * rows * ncol, C, H, W)``: for each chunk of ``ncol`` examples a row of
    originals then a row of their reconstructions (mean of p(x | z = E[q(z|x)])); a short last
    chunk is filled with white so each reconstruction stays under its original."""
    with evaluating(model):
        x = as_batch(model, x)
        recon = model.reconstruct(x)
    x = x.clamp(0.0, 1.0)
    rows = []
    for start in range(0, len(x), ncol):
        for part in (x[start : start + ncol], recon[start : start + ncol]):
            fill = part.new_ones((ncol - len(part), *part.shape[1:]))
            rows.append(torch.cat([part, fill]))
    return torch.cat(rows).cpu()


def save_reconstructions(
    model: BaseVAE, x: torch.Tensor, path: str | Path, nrow: int | None = None,
    padding: int = 2,
) -> Path:
    """Write a PNG grid: originals row over reconstructions row, ``nrow`` examples per row
    (default: all of ``x`` in one pair of rows). Returns the path. Sequence data gives line
    plots (original solid, reconstruction dashed); a ``.npy`` / ``.csv`` path, the numbers
    (groups ``original`` and ``reconstruction``)."""
    if not is_image_shape(model.data_shape) or is_numeric_path(path):
        with evaluating(model):
            x = as_batch(model, x)
            recon = model.reconstruct(x)
        return save_examples([x.cpu(), recon.cpu()], path, names=["original", "reconstruction"])
    n = len(x) if x.dim() > len(model.data_shape) else 1
    ncol = max(1, min(nrow or n, n))
    return save_image_grid(reconstruction_pairs(model, x, ncol), path, nrow=ncol, padding=padding)
