"""Writing model outputs of any data shape: images, 1-D sequences, tabular vectors.

:func:`save_examples` picks the form from the data and the file name:

- ``.npy`` / ``.csv`` (any data): the numbers themselves. ``.npy`` keeps the shape
  ``(N, *data_shape)`` (or ``(groups, N, *data_shape)`` for originals + reconstructions); ``.csv``
  has one example per row, flattened, after the columns ``group`` and ``index``;
- images ``(C, H, W)`` with 1 or 3 channels: a PNG grid;
- sequences ``(C, L)``: a PNG of line plots, one panel per example, one line per channel (and
  per group, e.g. original vs reconstruction);
- anything else as a picture is an error that names the numeric formats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import ShapeError
from vaekit.viz.grid import save_image_grid

NUMERIC_SUFFIXES = (".npy", ".csv")


def is_numeric_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in NUMERIC_SUFFIXES


def is_image_shape(data_shape: Sequence[int]) -> bool:
    return len(data_shape) == 3 and int(data_shape[0]) in (1, 3)


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_numeric(groups: Sequence[torch.Tensor], path: str | Path,
                 names: Sequence[str] | None = None) -> Path:
    """Write groups of examples ``(N, *shape)`` as ``.npy`` or ``.csv`` (see the module doc)."""
    path = _prepare(path)
    arrays = [g.detach().float().cpu().numpy() for g in groups]
    if path.suffix.lower() == ".npy":
        np.save(path, arrays[0] if len(arrays) == 1 else np.stack(arrays))
        return path
    names = list(names or [str(i) for i in range(len(arrays))])
    width = int(np.prod(arrays[0].shape[1:]))
    header = ",".join(["group", "index", *[f"v{i}" for i in range(width)]])
    lines = [header]
    for name, array in zip(names, arrays):
        for i, row in enumerate(array.reshape(len(array), -1)):
            lines.append(",".join([name, str(i), *(f"{v:.6g}" for v in row)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def save_sequence_plot(groups: Sequence[torch.Tensor], path: str | Path,
                       names: Sequence[str] | None = None, ncol: int | None = None) -> Path:
    """Line plots of sequences ``(N, C, L)``: a panel per example; groups share the panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(groups[0])
    ncol = ncol or min(n, 4)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.2 * nrow), squeeze=False)
    names = list(names or [None] * len(groups))
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        for group, name, style in zip(groups, names, ("-", "--", ":", "-.")):
            sequence = group[i].detach().float().cpu().numpy()
            for c, channel in enumerate(sequence):
                label = name if c == 0 else None
                ax.plot(channel, style, color=f"C{c}", linewidth=1, label=label)
        ax.set_title(f"example {i}", fontsize=8)
        ax.tick_params(labelsize=7)
    if any(names):
        axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    path = _prepare(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_examples(groups: Sequence[torch.Tensor], path: str | Path,
                  names: Sequence[str] | None = None, nrow: int | None = None,
                  padding: int = 2) -> Path:
    """Write groups of examples of one shape (e.g. [samples] or [originals, reconstructions])
    in the form that suits the data and the file name (see the module docstring). Image groups
    are stacked as rows of a grid with ``nrow`` images per row."""
    shape = tuple(groups[0].shape[1:])
    if is_numeric_path(path):
        return save_numeric(groups, path, names)
    if is_image_shape(shape):
        return save_image_grid(torch.cat(list(groups)), path, nrow=nrow or len(groups[0]),
                               padding=padding)
    if len(shape) == 2:
        return save_sequence_plot(groups, path, names)
    raise ShapeError(
        f"examples of shape {shape} are not images or sequences and cannot be drawn; write "
        f"the numbers instead with a file name ending in {' or '.join(NUMERIC_SUFFIXES)} "
        "(e.g. --out samples.csv)"
    )
