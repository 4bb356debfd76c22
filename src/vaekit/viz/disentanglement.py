"""Figures that show what each latent dimension captures: an MI heatmap and latent scatters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def label_dimensions(mi: np.ndarray, factor_names: Sequence[str], active: np.ndarray,
                     min_mi: float = 0.05) -> list[str]:
    """For each latent dim, the factor it shares the most (normalised) MI with, or "inactive".

    ``mi`` is (D, K) mutual information normalised by each factor's entropy; a dimension whose
    best MI is below ``min_mi`` is labelled "mixed" (active but tied to no single factor).
    """
    labels = []
    for d in range(mi.shape[0]):
        if not active[d]:
            labels.append("inactive")
        elif mi[d].max() < min_mi:
            labels.append("mixed")
        else:
            labels.append(factor_names[int(mi[d].argmax())])
    return labels


def plot_mi_heatmap(mi: np.ndarray, factor_names: Sequence[str], path: str | Path,
                    title: str = "normalised mutual information I(z_d; v_k) / H(v_k)") -> Path:
    """Heatmap of the (D, K) MI matrix, latent dims as rows, factors as columns, values printed."""
    d, k = mi.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * k, 0.9 + 0.4 * d))
    image = ax.imshow(mi, cmap="viridis", vmin=0.0, vmax=max(1e-6, float(mi.max())),
                      aspect="auto")
    ax.set_xticks(range(k), labels=list(factor_names), rotation=30, ha="right")
    ax.set_yticks(range(d), labels=[f"z{i}" for i in range(d)])
    for (row, col), value in np.ndenumerate(mi):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                color="white" if value < 0.6 * mi.max() else "black")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    return _save(fig, path)


def plot_latent_scatter(codes: np.ndarray, factors: np.ndarray, factor_names: Sequence[str],
                        dims: Sequence[int], path: str | Path, max_points: int = 3000) -> Path:
    """One panel per factor: the codes in the plane of ``dims`` (two latent dims, e.g. the two
    with the highest KL), each point coloured by that factor's value."""
    n = min(len(codes), max_points)
    k = factors.shape[1]
    fig, axes = plt.subplots(1, k, figsize=(2.8 * k, 2.8), squeeze=False)
    for j, ax in enumerate(axes[0]):
        points = ax.scatter(codes[:n, dims[0]], codes[:n, dims[1]], c=factors[:n, j], s=3,
                            cmap="viridis", rasterized=True)
        ax.set_title(factor_names[j], fontsize=9)
        ax.set_xlabel(f"z{dims[0]}", fontsize=8)
        ax.set_ylabel(f"z{dims[1]}", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(points, ax=ax, fraction=0.05)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
