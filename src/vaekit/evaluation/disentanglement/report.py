"""``vaekit evaluate --disentanglement``: the metric suite plus figures that say what each latent
dimension captures.

    out_dir/metrics.json        every metric, KL per dim, the MI matrix, the dimension labels
    out_dir/report.md           the metric table and a table of latent dimensions
    out_dir/mi_heatmap.png      normalised MI between latent dims (rows) and factors (columns)
    out_dir/traversal.png/.gif  one row per dim, ordered by KL, labelled with its factor
    out_dir/latent_scatter.png  the two highest-KL dims, coloured by each factor
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.errors import DataError
from vaekit.evaluation.disentanglement.base import mean_representation, sample_codes
from vaekit.evaluation.disentanglement.utils import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
)
from vaekit.evaluation.latents import kl_per_dimension
from vaekit.models.base import BaseVAE
from vaekit.registry import METRICS
from vaekit.viz.disentanglement import label_dimensions, plot_latent_scatter, plot_mi_heatmap
from vaekit.viz.traversal import save_traversal

SUITE = ("mig", "dci", "sap", "modularity_explicitness", "irs", "factor_vae_score",
         "beta_vae_score", "mig_chen")
# A dim is labelled with a factor only if it is active in the sense of Burda et al. (2016),
# Var_x(E_q[z_d]) > 0.01, and carries a non-negligible KL: borderline dims with ~0.01 nats
# pass the variance test but encode nothing a traversal could show.
ACTIVE_VARIANCE = 0.01
ACTIVE_KL_NATS = 0.05


def normalised_mi(factors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(D, K) mutual information of the 20-bin discretised codes with each factor, divided by
    the factor's entropy (the matrix MIG is computed from)."""
    entropy = discrete_entropy(factors)
    mi = discrete_mutual_info(histogram_discretize(codes), factors)
    return mi / np.where(entropy > 0, entropy, 1.0)


def disentanglement_report(
    model: BaseVAE,
    dataset: GroundTruthDataset,
    out_dir: str | Path,
    *,
    metrics: Sequence[str] = SUITE,
    metric_options: dict[str, dict[str, Any]] | None = None,
    num_points: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score ``model`` on ``dataset`` with ``metrics`` and write the report to ``out_dir``."""
    if not isinstance(dataset, GroundTruthDataset):
        raise DataError(
            f"{type(dataset).__name__} has no ground-truth factors; disentanglement needs a "
            "dataset such as dsprites, color_dsprites, noisy_dsprites or procedural_shapes3d"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    names = list(dataset.factor_names)
    factors, codes = sample_codes(dataset, mean_representation(model), num_points,
                                  np.random.default_rng(seed))
    mi = normalised_mi(factors, codes)
    images = dataset.render(factors[:1000])
    kl = kl_per_dimension(model, images)
    active = (codes.var(axis=0) > ACTIVE_VARIANCE) & (np.asarray(kl) > ACTIVE_KL_NATS)
    labels = label_dimensions(mi, names, active)

    results: dict[str, Any] = {"model_type": model.config.config_type, "seed": seed,
                               "factor_names": names}
    for name in metrics:
        start = time.perf_counter()
        results[name] = METRICS.get(name)(model, dataset, seed=seed,
                                          **(metric_options or {}).get(name, {}))
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
    results.update(kl_per_dim=[float(v) for v in kl], active_dims=active.tolist(),
                   dim_labels=labels, mutual_info=mi.round(4).tolist())
    (out / "metrics.json").write_text(json.dumps(results, indent=2, default=_jsonable) + "\n")

    plot_mi_heatmap(mi, names, out / "mi_heatmap.png")
    order = np.argsort(-np.asarray(kl))
    plot_latent_scatter(codes, factors, names, [int(order[0]), int(order[1])],
                        out / "latent_scatter.png")
    save_traversal(model, images[:1], out / "traversal.png", gif_path=out / "traversal.gif",
                   kl_per_dim=kl, dim_names=labels)
    (out / "report.md").write_text(_markdown(results, mi, names))
    return results


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def headline_scores(results: dict[str, Any]) -> dict[str, float]:
    """One number per metric, the one papers report (eval accuracy, test scores, ...)."""
    picks = {
        "beta_vae_score": "eval_accuracy", "factor_vae_score": "eval_accuracy",
        "mig": "discrete_mig", "sap": "SAP_score", "irs": "IRS", "mig_chen": "mig",
        "dci": "disentanglement",
    }
    scores = {}
    for metric, key in picks.items():
        if metric in results and key in results[metric]:
            scores[metric] = float(results[metric][key])
    if "dci" in results:
        scores["dci_completeness"] = float(results["dci"]["completeness"])
        scores["dci_informativeness"] = float(results["dci"]["informativeness_test"])
    if "modularity_explicitness" in results:
        scores["modularity"] = float(results["modularity_explicitness"]["modularity_score"])
        scores["explicitness"] = float(
            results["modularity_explicitness"]["explicitness_score_test"])
    return scores


def _markdown(results: dict[str, Any], mi: np.ndarray, names: list[str]) -> str:
    lines = [f"# Disentanglement report: {results['model_type']}", "",
             "| metric | score |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in headline_scores(results).items()]
    lines += ["", "| dim | KL (nats) | captures | " + " | ".join(names) + " |",
              "|---|---|---|" + "---|" * len(names)]
    for d, (kl, label) in enumerate(zip(results["kl_per_dim"], results["dim_labels"])):
        lines.append(f"| z{d} | {kl:.2f} | {label} | "
                     + " | ".join(f"{v:.2f}" for v in mi[d]) + " |")
    lines += ["", "![MI heatmap](mi_heatmap.png)", "", "![traversal](traversal.png)", "",
              "![latent scatter](latent_scatter.png)", ""]
    return "\n".join(lines)
