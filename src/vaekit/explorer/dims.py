"""Which latent dimensions get a slider, in what order, and what each is labelled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.viz.traversal import order_by_kl

# The threshold of the disentanglement report (ACTIVE_KL_NATS): dims below it encode nothing a
# slider could show.
KL_THRESHOLD = 0.05
# A slider per dimension stops being usable long before a VQ-VAE's thousands of latents.
MAX_SLIDERS = 64


@dataclass(frozen=True)
class Slider:
    """One slider of the page: the latent dimension it sets, its label, its KL (nats) if known."""

    dim: int
    label: str
    kl: float | None = None


def active_dimensions(kl_per_dim: Sequence[float] | np.ndarray | None, latent_dim: int,
                      threshold: float = KL_THRESHOLD) -> list[int]:
    """Dimensions with mean KL above ``threshold``, highest first; every dimension (in index
    order) when the KL is unknown, and when none passes (an untrained or collapsed model
    would otherwise show no slider at all)."""
    if kl_per_dim is None:
        return list(range(latent_dim))
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    if kl.shape != (latent_dim,):
        raise ValueError(f"kl_per_dim needs {latent_dim} values, got shape {kl.shape}")
    active = [d for d in order_by_kl(kl) if kl[d] > threshold]
    return active or list(range(latent_dim))


def read_dimension_labels(path: str | Path, latent_dim: int) -> list[str] | None:
    """Per-dimension factor labels (``dim_labels``) from the JSON that ``vaekit evaluate
    --disentanglement`` wrote to ``RUN_DIR/disentanglement/``, or None.

    ``path`` is a run directory or its ``model/`` directory. Files that are unreadable or whose
    labels do not fit ``latent_dim`` are ignored: labels are a nicety, not a requirement.
    """
    path = Path(path)
    for folder in (path / "disentanglement", path.parent / "disentanglement"):
        for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                labels = json.loads(file.read_text()).get("dim_labels")
            except (OSError, ValueError, AttributeError):
                continue
            if (isinstance(labels, list) and len(labels) == latent_dim
                    and all(isinstance(label, str) for label in labels)):
                return labels
    return None


def make_sliders(latent_dim: int, kl_per_dim: Sequence[float] | np.ndarray | None = None,
                 labels: Sequence[str] | None = None, threshold: float = KL_THRESHOLD,
                 max_sliders: int = MAX_SLIDERS) -> list[Slider]:
    """Sliders for the active dimensions (at most ``max_sliders``), labelled ``z3 · shape``
    when ``labels`` (one per latent) are given, else ``dim 3``."""
    if labels is not None and len(labels) != latent_dim:
        raise ValueError(f"labels needs {latent_dim} entries, got {len(labels)}")
    dims = active_dimensions(kl_per_dim, latent_dim, threshold)[:max_sliders]
    return [Slider(dim=d, label=f"z{d} · {labels[d]}" if labels else f"dim {d}",
                   kl=None if kl_per_dim is None else float(kl_per_dim[d]))
            for d in dims]
