"""A report folder for a trained run: metrics (JSON + Markdown) and figures (PNG, GIF).

    report/metrics.json        ELBO, IWAE NLL (nats, bits/dim), active units, KL per dim, recon
    report/report.md           the same as a table, with the figures linked
    report/curves.png          training/validation curves from logs/metrics.csv
    report/reconstructions.png originals over reconstructions
    report/samples.png         decoded prior samples
    report/traversal.png/.gif  one row per latent dimension, ordered by KL
    report/interpolation.png/.gif
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from vaekit.evaluation.report import evaluate_model
from vaekit.models.base import BaseVAE
from vaekit.viz.curves import plot_training_curves
from vaekit.viz.interpolation import save_interpolations
from vaekit.viz.reconstructions import save_reconstructions
from vaekit.viz.samples import save_samples
from vaekit.viz.traversal import save_traversal


def first_examples(data: Dataset, n: int) -> torch.Tensor:
    items = [data[i] for i in range(min(n, len(data)))]
    items = [item[0] if isinstance(item, (tuple, list)) else item for item in items]
    return torch.stack(items)


def write_report(
    model: BaseVAE,
    data: Dataset,
    out_dir: str | Path,
    *,
    metrics_csv: str | Path | None = None,
    num_importance_samples: int = 500,
    max_examples: int | None = 1000,
    extra: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``data`` and write the figures; returns the metrics dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    metrics = evaluate_model(model, data, num_importance_samples=num_importance_samples,
                             max_examples=max_examples, seed=seed)
    metrics.update(extra or {})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    x = first_examples(data, 16)
    figures = {
        "reconstructions": save_reconstructions(model, x, out / "reconstructions.png"),
        "samples": save_samples(model, 64, out / "samples.png", seed=seed),
        "traversal": save_traversal(model, x[:1], out / "traversal.png",
                                    gif_path=out / "traversal.gif",
                                    kl_per_dim=metrics.get("kl_per_dim")),
        "interpolation": save_interpolations(model, x[:1], x[1:2], out / "interpolation.png",
                                             gif_path=out / "interpolation.gif"),
    }
    if metrics_csv is not None and Path(metrics_csv).is_file():
        figures["curves"] = plot_training_curves(metrics_csv, out / "curves.png")
    (out / "report.md").write_text(_markdown(metrics, figures))
    return metrics


def _markdown(metrics: dict[str, Any], figures: dict[str, Path]) -> str:
    lines = ["# vaekit report", "", "| metric | value |", "|---|---|"]
    for key, value in metrics.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, list):
            value = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
        lines.append(f"| {key} | {value} |")
    lines.append("")
    for name, path in figures.items():
        lines += [f"## {name}", "", f"![{name}]({Path(path).name})", ""]
    return "\n".join(lines)
