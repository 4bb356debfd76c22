"""Training curves from a Lightning ``CSVLogger`` ``metrics.csv``, drawn headless.

Lightning writes one row per logging call with every column it has ever seen, leaving the
others empty (training rows lack ``val/*`` values and vice versa), and adds columns as they
first appear; a metric logged with ``on_step`` and ``on_epoch`` becomes ``name_step`` and
``name_epoch``. So each column is read on its own, keeping only rows where it has a finite
value, and columns are grouped by metric name so ``train/elbo`` and ``val/elbo`` share a plot.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: select the file backend before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vaekit.errors import DataError  # noqa: E402

_INDEX_COLUMNS = ("step", "epoch")
_SPLIT_PREFIXES = ("train", "val", "valid", "validation", "test")


def _to_float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def read_metrics_csv(path: str | Path, x: str = "step") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{column: (x values, metric values)}`` for every numeric metric column.

    Rows where the metric (or the ``x`` column) is empty, non-numeric, NaN or infinite are
    dropped per column; the index columns ``step`` and ``epoch`` are not metrics. Without an
    ``x`` column the row number is used.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"metrics file not found: '{path}'")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns: list[str] = []
    for row in rows:  # columns in order of first appearance (robust to ragged rows)
        columns += [c for c in row if c is not None and c not in columns]
    xs = np.array([_to_float(row.get(x)) if x in columns else float(i)
                   for i, row in enumerate(rows)])
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column in columns:
        if column in _INDEX_COLUMNS or column == x:
            continue
        ys = np.array([_to_float(row.get(column)) for row in rows])
        keep = np.isfinite(ys) & np.isfinite(xs)
        if keep.any():
            order = np.argsort(xs[keep], kind="stable")
            out[column] = (xs[keep][order], ys[keep][order])
    return out


def metric_group(column: str) -> str:
    """``val/elbo_epoch`` -> ``elbo``: the name shared by a metric's train/val/step/epoch
    columns, so they are drawn on one subplot."""
    prefix, _, rest = column.partition("/")
    name = rest if rest and prefix.lower() in _SPLIT_PREFIXES else column
    for suffix in ("_step", "_epoch"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def plot_training_curves(
    metrics_csv: str | Path,
    path: str | Path,
    metrics: Sequence[str] | None = None,
    x: str = "step",
    ncols: int = 3,
) -> Path:
    """Plot every metric of ``metrics_csv`` against ``x`` in a grid of subplots; write ``path``.

    ``metrics`` restricts the plot to these columns or group names (``"elbo"`` selects
    ``train/elbo`` and ``val/elbo``). Raises :class:`~vaekit.errors.DataError` when the file
    is missing or no metric has a numeric value. Returns the path.
    """
    series = read_metrics_csv(metrics_csv, x)
    if metrics is not None:
        wanted = set(metrics)
        series = {c: v for c, v in series.items() if c in wanted or metric_group(c) in wanted}
    if not series:
        raise DataError(f"'{metrics_csv}' has no numeric metric values to plot")
    groups: dict[str, list[str]] = {}
    for column in series:
        groups.setdefault(metric_group(column), []).append(column)

    ncols = max(1, min(ncols, len(groups)))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.2 * nrows), squeeze=False)
    try:
        for ax, (group, columns) in zip(axes.flat, groups.items()):
            for column in columns:
                steps, values = series[column]
                # Markers keep sparse series (one value per epoch) visible.
                ax.plot(steps, values, label=column, marker="o" if len(steps) < 30 else None,
                        markersize=3)
            ax.set_title(group)
            ax.set_xlabel(x)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
        for ax in axes.flat[len(groups):]:
            ax.set_visible(False)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)  # pyplot keeps figures alive until closed
    return path
