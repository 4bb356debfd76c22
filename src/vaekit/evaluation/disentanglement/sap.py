"""Separated Attribute Predictability (SAP) score.

Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations" (ICLR, arXiv:1711.00848), Section 3, as implemented in
disentanglement_lib (Locatello et al. 2019, ``evaluation/metrics/sap_score.py``). A score matrix
``(D, K)`` rates how well each single code dimension predicts each factor:

- discrete factors (``continuous_factors=False``, the default of disentanglement_lib's study):
  the test accuracy of a ``LinearSVC(C=0.01, class_weight="balanced")`` trained on the one code
  dimension;
- continuous factors: the squared correlation ``cov(z_i, y_j)^2 / (var z_i var y_j)``, 0 where
  ``var z_i <= 1e-12``.

The SAP score is the mean over factors of the gap between the two best code dimensions.

Deviations from disentanglement_lib, only where it would fail or return NaN/Inf:

- a factor constant in the training sample cannot be classified (``LinearSVC`` raises there):
  every code dimension then gets the accuracy of predicting that constant, so its gap is 0;
  likewise a factor with zero variance gets correlation 0 instead of NaN;
- with a single code dimension the second-best score is taken as 0 (disentanglement_lib raises);
- ``LinearSVC`` gets ``random_state=seed`` so repeated runs are identical (disentanglement_lib
  leaves it unset; with sklearn's default ``dual="auto"`` the primal solver is used here anyway,
  which is deterministic).

Random numbers come from ``np.random.default_rng(seed)`` instead of ``np.random.RandomState``.
The encoder batch size defaults to 256 instead of 16; it does not change the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.svm import LinearSVC

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import (
    RepresentationFn,
    check_arrays,
    mean_representation,
    sample_codes,
)
from vaekit.registry import METRICS


def sap_score_matrix(
    factors: np.ndarray,
    codes: np.ndarray,
    factors_test: np.ndarray | None = None,
    codes_test: np.ndarray | None = None,
    *,
    continuous_factors: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """The SAP score matrix ``(D, K)``; the test arrays are needed for discrete factors."""
    factors, codes = check_arrays(factors, codes)
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    if continuous_factors:
        for i in range(codes.shape[1]):
            for j in range(factors.shape[1]):
                cov = np.cov(codes[:, i], factors[:, j].astype(np.float64), ddof=1)
                var_code, var_factor = cov[0, 0], cov[1, 1]
                if var_code > 1e-12 and var_factor > 0:
                    scores[i, j] = cov[0, 1] ** 2 / (var_code * var_factor)
        return scores

    if factors_test is None or codes_test is None:
        raise ValueError("the discrete SAP score needs factors_test and codes_test")
    factors_test, codes_test = check_arrays(factors_test, codes_test)
    if factors_test.shape[1] != factors.shape[1] or codes_test.shape[1] != codes.shape[1]:
        raise ValueError("train and test arrays have different numbers of factors or codes")
    for j in range(factors.shape[1]):
        classes = np.unique(factors[:, j])
        if len(classes) < 2:
            # Nothing to learn: every dimension "predicts" the only class seen in training.
            scores[:, j] = np.mean(factors_test[:, j] == classes[0])
            continue
        for i in range(codes.shape[1]):
            classifier = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
            classifier.fit(codes[:, i:i + 1], factors[:, j])
            scores[i, j] = np.mean(classifier.predict(codes_test[:, i:i + 1]) == factors_test[:, j])
    return scores


def avg_diff_top_two(matrix: np.ndarray) -> float:
    """Mean over columns of the gap between the largest and second-largest entry (0 if one row)."""
    ordered = np.sort(np.asarray(matrix, dtype=np.float64), axis=0)
    second = ordered[-2] if len(ordered) > 1 else np.zeros(ordered.shape[1])
    return float(np.mean(ordered[-1] - second))


def sap(
    factors: np.ndarray,
    codes: np.ndarray,
    factors_test: np.ndarray | None = None,
    codes_test: np.ndarray | None = None,
    *,
    continuous_factors: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """SAP score of ``codes`` ``(N, D)`` for ``factors`` ``(N, K)``: ``{"SAP_score": float}``.

    The discrete variant trains on ``(factors, codes)`` and scores on the test arrays; the
    continuous one uses the training arrays only.
    """
    matrix = sap_score_matrix(factors, codes, factors_test, codes_test,
                              continuous_factors=continuous_factors, seed=seed)
    return {"SAP_score": avg_diff_top_two(matrix)}


def compute_sap(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    num_test: int = 5000,
    continuous_factors: bool = False,
    batch_size: int = 256,
) -> dict[str, Any]:
    """SAP score on random points of ``dataset`` (disentanglement_lib's study defaults).

    The test points are drawn (and encoded) even in the continuous variant, as disentanglement_lib
    does.
    ``batch_size`` only sets how many observations go through ``represent`` at once (all
    factors are drawn first, so it does not change the result); it defaults to 256 instead of
    disentanglement_lib's 16, which is several times slower on CPU for the same numbers.
    """
    rng = np.random.default_rng(seed)
    factors, codes = sample_codes(dataset, represent, num_train, rng, batch_size)
    factors_test, codes_test = sample_codes(dataset, represent, num_test, rng, batch_size)
    return sap(factors, codes, factors_test, codes_test,
               continuous_factors=continuous_factors, seed=seed)


@METRICS.register("sap")
def sap_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
               ) -> dict[str, Any]:
    """Registered form: SAP score of the posterior means of ``model`` on ``dataset``."""
    return compute_sap(dataset, mean_representation(model), **options)
