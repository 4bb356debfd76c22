"""Modularity and explicitness.

Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings With the F-Statistic Loss"
(NeurIPS, arXiv:1802.05312), Section 3, as implemented in disentanglement_lib (Locatello et al.
2019, ``evaluation/metrics/modularity_explicitness.py``):

- modularity: with ``m`` the ``(D, K)`` mutual information of the 20-bin histogram-discretised
  codes and the factors, each code dimension ``i`` scores
  ``1 - (sum_j m_ij^2 - max_j m_ij^2) / (max_j m_ij^2 (K - 1))`` (0 if it carries no
  information), and modularity is the mean over code dimensions. It asks only whether each
  dimension depends on a single factor, not whether it is informative: a dimension whose MI is
  dominated by one factor scores near 1 however small that MI is, so modularity stays high for
  codes that are pure noise (their tiny plug-in MI estimates are typically dominated by the factor
  with the most values);
- explicitness: per factor, a ``LogisticRegression()`` (sklearn defaults) is fit on all
  standardised code dimensions to predict the factor's class, and scored by the one-vs-rest ROC
  AUC of its predicted probabilities, macro-averaged over classes; the score is the mean over
  factors (on the training and on the test points).

Deviations from disentanglement_lib, only where it would fail or return NaN:

- with a single factor (``K = 1``) the modularity denominator is 0; an informative dimension then
  scores 1 (it trivially depends on one factor) instead of NaN;
- a constant code dimension is standardised to 0 instead of NaN (zero standard deviation);
- the ROC AUC is averaged over the classes the classifier was trained on that have both positives
  and negatives among the scored points (disentanglement_lib raises when the test points lack a
  class, or hold one unseen in training); a factor constant in training gets explicitness 0.5
  (chance), as no classifier can be trained.

``LogisticRegression()`` is used with the current sklearn defaults (lbfgs, multinomial); the
sklearn of 2018-2019 defaulted to liblinear with one-vs-rest, which disentanglement_lib's call
``LogisticRegression()`` then got. Random numbers come from ``np.random.default_rng(seed)``.
The encoder batch size defaults to 256 instead of 16; it does not change the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import (
    RepresentationFn,
    check_arrays,
    mean_representation,
    sample_codes,
)
from vaekit.evaluation.disentanglement.utils import (
    DEFAULT_NUM_BINS,
    discrete_mutual_info,
    histogram_discretize,
    normalize_columns,
)
from vaekit.registry import METRICS


def modularity(mutual_information: np.ndarray) -> float:
    """Modularity (Ridgeway & Mozer 2018) of a ``(D, K)`` code-by-factor MI matrix."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    if squared.ndim != 2:
        raise ValueError(f"expected a (D, K) matrix, got shape {squared.shape}")
    top = squared.max(axis=1)
    rest = squared.sum(axis=1) - top
    num_factors = squared.shape[1]
    score = np.zeros(len(squared))
    informative = top > 0
    if num_factors > 1:
        score[informative] = 1.0 - rest[informative] / (top[informative] * (num_factors - 1))
    else:
        score[informative] = 1.0
    return float(np.mean(score))


def explicitness_per_factor(
    codes_train: np.ndarray,
    factor_train: np.ndarray,
    codes_test: np.ndarray,
    factor_test: np.ndarray,
) -> tuple[float, float]:
    """(train, test) macro one-vs-rest ROC AUC of a logistic regression predicting one factor.

    ``codes_*`` ``(N, D)`` should already be standardised; ``factor_*`` ``(N,)`` are class labels.
    """
    classes = np.unique(factor_train)
    if len(classes) < 2:
        return 0.5, 0.5
    classifier = LogisticRegression().fit(codes_train, factor_train)
    return (_macro_auc(factor_train, classifier.predict_proba(codes_train), classifier.classes_),
            _macro_auc(factor_test, classifier.predict_proba(codes_test), classifier.classes_))


def _macro_auc(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> float:
    # One column per trained class, as MultiLabelBinarizer + roc_auc_score do in the reference
    # when the scored points contain exactly the trained classes.
    onehot = (labels[:, None] == classes[None, :]).astype(np.int64)
    scorable = (onehot.min(axis=0) == 0) & (onehot.max(axis=0) == 1)
    if not scorable.any():
        return 0.5
    return float(roc_auc_score(onehot[:, scorable], probabilities[:, scorable], average="macro"))


def modularity_explicitness(
    factors: np.ndarray,
    codes: np.ndarray,
    factors_test: np.ndarray,
    codes_test: np.ndarray,
    num_bins: int = DEFAULT_NUM_BINS,
) -> dict[str, Any]:
    """Modularity (on the training points) and explicitness (train and test) of ``codes``.

    Returns ``{"modularity_score", "explicitness_score_train", "explicitness_score_test"}``.
    """
    factors, codes = check_arrays(factors, codes)
    factors_test, codes_test = check_arrays(factors_test, codes_test)
    if factors_test.shape[1] != factors.shape[1] or codes_test.shape[1] != codes.shape[1]:
        raise ValueError("train and test arrays have different numbers of factors or codes")
    mi = discrete_mutual_info(histogram_discretize(codes, num_bins), factors)
    # Standardise with the training statistics, also for the test codes.
    codes_norm, mean, std = normalize_columns(codes)
    codes_test_norm, _, _ = normalize_columns(codes_test, mean, std)
    per_factor = np.array([
        explicitness_per_factor(codes_norm, factors[:, j], codes_test_norm, factors_test[:, j])
        for j in range(factors.shape[1])
    ])
    return {
        "modularity_score": modularity(mi),
        "explicitness_score_train": float(np.mean(per_factor[:, 0])),
        "explicitness_score_test": float(np.mean(per_factor[:, 1])),
    }


def compute_modularity_explicitness(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    num_test: int = 5000,
    num_bins: int = DEFAULT_NUM_BINS,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Modularity and explicitness on random points of ``dataset`` (disentanglement_lib defaults).

    ``batch_size`` only sets how many observations go through ``represent`` at once (all
    factors are drawn first, so it does not change the result); it defaults to 256 instead of
    disentanglement_lib's 16, which is several times slower on CPU for the same numbers.
    """
    rng = np.random.default_rng(seed)
    factors, codes = sample_codes(dataset, represent, num_train, rng, batch_size)
    factors_test, codes_test = sample_codes(dataset, represent, num_test, rng, batch_size)
    return modularity_explicitness(factors, codes, factors_test, codes_test, num_bins=num_bins)


@METRICS.register("modularity_explicitness")
def modularity_explicitness_metric(
    model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
) -> dict[str, Any]:
    """Registered form: modularity and explicitness of the posterior means of ``model``."""
    return compute_modularity_explicitness(dataset, mean_representation(model), **options)
