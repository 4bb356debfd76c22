"""Interventional Robustness Score (IRS).

Suter, Miladinović, Schölkopf & Bauer 2019, "Robustly Disentangled Causal Mechanisms: Validating
Deep Representations for Interventional Robustness" (ICML, arXiv:1811.00007), in the scalable
estimate of disentanglement_lib (Locatello et al. 2019, ``evaluation/metrics/irs.py``):

- the factors are discretised like codes (20-bin histogram per factor, so factors with more than
  20 values are merged into 20 bins) and constant code dimensions are dropped;
- for factor ``j`` and each of its values ``v``, the deviation of code ``i`` is the
  ``diff_quantile`` quantile (0.99) of ``|z_i - E[z_i | y_j = v]|`` over the points with
  ``y_j = v``; these are averaged over the values of ``y_j`` and divided by the code's largest
  deviation from its mean, ``max |z_i - E z_i|``;
- ``IRS_ij = 1 - normalised deviation``, each code's score is ``max_j IRS_ij`` and the IRS is the
  average of the code scores weighted by their largest deviations.

Deviation from disentanglement_lib: its ``num_active_dims`` is ``np.sum(active_mus)``, the sum
of the active codes' values rather than their number (a bug); here it is the number of
non-constant code dimensions. Random numbers come from ``np.random.default_rng(seed)``.
The encoder batch size defaults to 256 instead of 16; it does not change the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import (
    RepresentationFn,
    check_arrays,
    mean_representation,
    sample_codes,
)
from vaekit.evaluation.disentanglement.utils import DEFAULT_NUM_BINS, histogram_discretize
from vaekit.registry import METRICS


def irs_scores(
    factors: np.ndarray, codes: np.ndarray, diff_quantile: float = 0.99
) -> dict[str, Any]:
    """The IRS estimate for discrete ``factors`` ``(N, K)`` and non-constant ``codes`` ``(N, D)``.

    The counterpart of disentanglement_lib's ``scalable_disentanglement_score`` (which assumes
    independent, uniformly sampled factors). Returns ``avg_score`` (the IRS), and per code
    dimension ``disentanglement_scores``, ``parents`` (the factor of the best score) and
    ``max_deviations``, plus the ``(D, K)`` ``irs_matrix``.
    """
    factors, codes = np.asarray(factors), np.asarray(codes, dtype=np.float64)
    num_codes, num_factors = codes.shape[1], factors.shape[1]
    max_deviations = np.max(np.abs(codes - codes.mean(axis=0)), axis=0)
    deviations = np.zeros((num_codes, num_factors))
    for j in range(num_factors):
        values = np.unique(factors[:, j])
        for value in values:
            group = codes[factors[:, j] == value]
            # Spread of the codes while y_j is held at `value`: a high quantile of the absolute
            # differences to E[z | y_j = value] (the maximum, i.e. quantile 1, in the paper).
            spread = np.abs(group - group.mean(axis=0))
            deviations[:, j] += np.percentile(spread, q=diff_quantile * 100, axis=0)
        deviations[:, j] /= len(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        irs_matrix = 1.0 - deviations / max_deviations[:, None]
    scores = irs_matrix.max(axis=1)
    if np.sum(max_deviations) > 0:
        avg_score = float(np.average(scores, weights=max_deviations))
    else:
        avg_score = float(np.mean(scores))
    return {
        "avg_score": avg_score,
        "disentanglement_scores": scores,
        "parents": irs_matrix.argmax(axis=1),
        "irs_matrix": irs_matrix,
        "max_deviations": max_deviations,
    }


def irs(
    factors: np.ndarray,
    codes: np.ndarray,
    diff_quantile: float = 0.99,
    num_bins: int = DEFAULT_NUM_BINS,
) -> dict[str, Any]:
    """IRS of ``codes`` ``(N, D)`` for integer ``factors`` ``(N, K)``.

    Returns ``{"IRS": float, "num_active_dims": int, "disentanglement_scores": [per active
    dimension]}``; the IRS is 0 when every code dimension is constant.
    """
    factors, codes = check_arrays(factors, codes)
    factors_discrete = histogram_discretize(factors, num_bins)
    active = codes.var(axis=0) > 0
    if not active.any():
        return {"IRS": 0.0, "num_active_dims": 0, "disentanglement_scores": []}
    result = irs_scores(factors_discrete, codes[:, active], diff_quantile)
    return {
        "IRS": result["avg_score"],
        "num_active_dims": int(active.sum()),
        "disentanglement_scores": result["disentanglement_scores"].tolist(),
    }


def compute_irs(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    diff_quantile: float = 0.99,
    num_bins: int = DEFAULT_NUM_BINS,
    batch_size: int = 256,
) -> dict[str, Any]:
    """IRS on ``num_train`` random points of ``dataset`` (disentanglement_lib's defaults).

    ``batch_size`` only sets how many observations go through ``represent`` at once (all
    factors are drawn first, so it does not change the result); it defaults to 256 instead of
    disentanglement_lib's 16, which is several times slower on CPU for the same numbers.
    """
    rng = np.random.default_rng(seed)
    factors, codes = sample_codes(dataset, represent, num_train, rng, batch_size)
    return irs(factors, codes, diff_quantile=diff_quantile, num_bins=num_bins)


@METRICS.register("irs")
def irs_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
               ) -> dict[str, Any]:
    """Registered form: IRS of the posterior means of ``model`` on ``dataset``."""
    return compute_irs(dataset, mean_representation(model), **options)
