"""Latent traversals: vary one latent dimension at a time around an input's code.

The standard qualitative probe of disentanglement (Higgins et al. 2017, "beta-VAE", fig. 1-2):
start from the posterior mean of an input, set dimension d to each value in a range (the prior
is N(0, I), so +-2.5 covers almost all of its mass) and decode. Rows are ordered by the mean KL
of their dimension, highest first, so the dimensions that carry information come first and
collapsed ones (KL ~ 0, rows that do not change) sink to the bottom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from vaekit.errors import ShapeError
from vaekit.evaluation.latents import kl_per_dimension
from vaekit.evaluation.likelihood import as_batch, evaluating
from vaekit.viz.data_files import is_image_shape, is_numeric_path, save_numeric
from vaekit.viz.grid import make_grid, save_gif

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


def default_values(num_values: int = 9, limit: float = 2.5) -> torch.Tensor:
    """``linspace(-limit, limit, num_values)``; an odd count includes the prior mean 0."""
    return torch.linspace(-limit, limit, num_values)


def latent_traversal(
    model: BaseVAE,
    x: torch.Tensor,
    dims: Sequence[int] | None = None,
    values: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Decoded images ``(len(dims), len(values), C, H, W)``.

    Row i sets latent ``dims[i]`` of the posterior mean of ``x`` (the first example if ``x`` is
    a batch) to each of ``values`` (absolute values, not offsets), all other dimensions kept.
    ``dims`` defaults to every dimension in index order, ``values`` to :func:`default_values`.
    """
    dims = list(range(model.latent_dim)) if dims is None else [int(d) for d in dims]
    for d in dims:
        if not 0 <= d < model.latent_dim:
            raise ValueError(f"latent dim {d} out of range for latent_dim={model.latent_dim}")
    values = default_values() if values is None else torch.as_tensor(values)
    with evaluating(model):
        mu = model.encode(as_batch(model, x)[:1]).mean[0]  # (D,)
        z = mu.expand(len(dims), len(values), -1).clone()
        values = values.to(mu)
        for row, d in enumerate(dims):
            z[row, :, d] = values
        return model.likelihood.mean_image(model.decode(z)).cpu()


def order_by_kl(kl_per_dim: Sequence[float] | np.ndarray) -> list[int]:
    """Dimension indices by decreasing KL (ties keep index order)."""
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    return [int(d) for d in np.argsort(-kl, kind="stable")]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:  # scalable built-in font (Pillow >= 10.1 with FreeType)
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def label_rows(grid: np.ndarray, labels: Sequence[str], row_height: int, padding: int
               ) -> np.ndarray:
    """Prepend a white panel to ``grid`` with ``labels[i]`` centred on image row i."""
    font = _font(max(8, min(16, row_height // 2)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [probe.textbbox((0, 0), text, font=font)[2] for text in labels]
    margin = 4
    panel_width = int(max(widths, default=0)) + 2 * margin
    canvas = Image.new("RGB", (panel_width + grid.shape[1], grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (panel_width, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(labels):
        centre = padding + i * (row_height + padding) + row_height / 2
        draw.text((margin, centre), text, fill=(0, 0, 0), font=font, anchor="lm")
    return np.asarray(canvas)


def save_traversal(
    model: BaseVAE,
    x: torch.Tensor,
    path: str | Path,
    gif_path: str | Path | None = None,
    kl_per_dim: Sequence[float] | np.ndarray | None = None,
    values: Sequence[float] | torch.Tensor | None = None,
    padding: int = 2,
    duration_ms: int = 150,
    dim_names: Sequence[str] | None = None,
) -> Path:
    """Write a labelled PNG with one row per latent dimension, highest KL first.

    ``dim_names`` (one per latent) adds what each dimension captures to its row label, e.g. the
    ground-truth factor it is most informative about, or "inactive".

    ``kl_per_dim`` (nats, one per latent) sets the order and the labels; when omitted it is the
    mean KL over ``x`` (so pass a batch for a representative order; the traversal itself starts
    from ``x[0]``). Each row is labelled ``z<d>  <KL> nats``. With ``gif_path`` an animated GIF is
    also written whose frame j shows every dimension (in the same order) at ``values[j]``.
    Returns the PNG path; :func:`order_by_kl` gives the row order. Data that are not images
    (vectors, sequences) are written as numbers to a ``.npy`` / ``.csv`` path (one group per
    dimension, ``z<d>``).
    """
    if kl_per_dim is None:
        kl_per_dim = kl_per_dimension(model, x)
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    if kl.shape != (model.latent_dim,):
        raise ValueError(f"kl_per_dim needs {model.latent_dim} values, got shape {kl.shape}")
    order = order_by_kl(kl)
    images = latent_traversal(model, x, order, values)  # (D, n, C, H, W)
    if not is_image_shape(model.data_shape) or is_numeric_path(path):
        return _save_numeric_traversal(images, order, model.data_shape, path)
    n, height = images.shape[1], images.shape[3]
    grid = make_grid(images.flatten(0, 1), nrow=n, padding=padding)
    labels = [f"z{d}  {kl[d]:.2f} nats" + (f"  {dim_names[d]}" if dim_names else "")
              for d in order]
    canvas = label_rows(grid, labels, height, padding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
    if gif_path is not None:
        ncol = math.ceil(math.sqrt(len(order)))
        frames = [make_grid(images[:, j], nrow=ncol, padding=padding) for j in range(n)]
        save_gif(frames, gif_path, duration_ms=duration_ms)
    return path



def _save_numeric_traversal(decoded: torch.Tensor, order: Sequence[int],
                            data_shape: tuple[int, ...], path: str | Path) -> Path:
    if not is_numeric_path(path):
        raise ShapeError(
            f"latent traversals are drawn as images, and this model's data have shape "
            f"{tuple(data_shape)}; write the decoded values instead with a file name ending in "
            ".npy or .csv (e.g. --out traversal.csv)"
        )
    return save_numeric(list(decoded), path, names=[f"z{d}" for d in order])
