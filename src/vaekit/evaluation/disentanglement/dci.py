"""DCI: Disentanglement, Completeness and Informativeness.

Eastwood & Williams 2018, "A Framework for the Quantitative Evaluation of Disentangled
Representations" (ICLR), in the form of disentanglement_lib (Locatello et al. 2019,
``evaluation/metrics/dci.py``):

1. for every factor ``k`` a ``GradientBoostingClassifier()`` (scikit-learn defaults: 100 stages,
   learning rate 0.1, depth-3 regression trees on the negative gradient of the multinomial log
   loss) predicts the factor from the codes; its impurity-based ``feature_importances_`` form
   column ``k`` of the importance matrix ``R`` ``(D codes, K factors)``;
2. disentanglement: for each code ``d``, ``1 - H_K(R[d] / sum R[d])`` (entropy in base ``K``),
   averaged with weights ``sum R[d] / sum R``;
3. completeness: for each factor ``k``, ``1 - H_D(R[:, k] / sum R[:, k])`` (base ``D``),
   averaged with weights ``sum R[:, k] / sum R`` (every column of ``R`` sums to 1, so this is the
   plain mean unless a factor got no importance at all);
4. informativeness: the mean over factors of the classifiers' accuracy on the training and on the
   test points (``informativeness_train``, ``informativeness_test``).

Entropies add ``1e-11`` to every importance, as disentanglement_lib does. Default sizes: 10,000
training and 5,000 test points.

``fast=True`` swaps step 1 for :func:`hist_gbt_importance`: the same boosting algorithm (same
loss, stages, learning rate, depth, leaf values and importance definition), but split thresholds
are restricted to at most 255 bins per code (equal-count bins with edges moved into gaps between
values, see :func:`_bin_edges`), as in LightGBM (Ke et al. 2017) and scikit-learn's
``HistGradientBoostingClassifier``, and the ``K`` trees of a stage are grown together from
histograms. On codes with at most 255 distinct values per dimension it grows the reference's
trees (up to ties between equally good splits and rounding); on continuous codes the coarser
thresholds fit the training points a little less closely. ``benchmarks/dci_speed.py`` measured,
at the default sizes on dSprites' five factors with 10 codes of four kinds (factors plus noise,
partly mixed, randomly mixed, PCA of the images), on 2 shared CPU cores: 240-260 s per
evaluation for the reference path, 14-20 s for the fast one (14x in total), and differences of
at most 0.018 in disentanglement, 0.013 in completeness, 0.013 in test informativeness and 0.040
in training informativeness (always lower: the binned trees fit the training points less). For
scale, the reference's disentanglement moved by 0.009 between two draws of the points. See
``benchmarks/results/dci_speed.json``. On noisier codes the gap is larger:
``benchmarks/metric_speed.py`` (10 codes mixing neighbouring factors with noise, against
disentanglement_lib itself) measured 0.032 in disentanglement, 0.031 in completeness and 0.054
in training informativeness (test informativeness 0.0005), again always lower; use the
reference path where the second decimal matters.

Deviations from disentanglement_lib:

- the classifiers get ``random_state=seed`` (disentanglement_lib leaves it unset; sklearn's trees
  then break ties between equally good splits at random), so repeated runs are identical;
- a factor with a single value in the training points cannot be fitted (sklearn raises): it gets
  zero importance and the accuracy of predicting that value;
- with a single factor (or a single code) the base-1 entropy is undefined (disentanglement_lib
  returns NaN): per-code disentanglement (per-factor completeness) is then 1;
- random numbers come from ``np.random.default_rng(seed)``, not ``np.random.RandomState``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import torch
from sklearn.ensemble import GradientBoostingClassifier

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import (
    RepresentationFn,
    check_arrays,
    mean_representation,
    sample_codes,
)
from vaekit.registry import METRICS

# The GradientBoostingClassifier defaults that disentanglement_lib relies on.
NUM_STAGES = 100
LEARNING_RATE = 0.1
MAX_DEPTH = 3
# Histogram resolution of the fast path (HistGradientBoostingClassifier's max_bins).
MAX_BINS = 255
_EPS = float(np.finfo(np.float64).eps)
# Size of the fast path's largest work arrays (float64 elements): bounds its memory, and a few
# MB keeps them near the CPU caches.
_MAX_WORK_ELEMENTS = 1_000_000


# -------------------------------------------------------------------------- the scores
def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of ``p`` normalised along ``axis``, in base ``p.shape[axis]`` (as scipy's)."""
    p = p + 1e-11  # disentanglement_lib's smoothing, so all-zero rows are uniform
    p = p / p.sum(axis=axis, keepdims=True)
    base = p.shape[axis]
    if base == 1:
        return np.zeros(np.delete(p.shape, axis))  # one outcome: zero entropy, not 0/0
    return -(p * np.log(p)).sum(axis=axis) / np.log(base)


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean over codes of ``1 - H_K`` (Eastwood & Williams 2018, eq. 2)."""
    importance = np.asarray(importance, dtype=np.float64)
    per_code = 1.0 - _normalised_entropy(importance, axis=1)
    total = importance.sum()
    weights = importance.sum(axis=1) / total if total > 0 else np.full(len(importance),
                                                                        1 / len(importance))
    return float(np.sum(per_code * weights))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean over factors of ``1 - H_D`` (Eastwood & Williams 2018, eq. 3)."""
    importance = np.asarray(importance, dtype=np.float64)
    per_factor = 1.0 - _normalised_entropy(importance, axis=0)
    total = importance.sum()
    k = importance.shape[1]
    weights = importance.sum(axis=0) / total if total > 0 else np.full(k, 1 / k)
    return float(np.sum(per_factor * weights))


# ------------------------------------------------------------------- reference importance
def gbt_importance(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """disentanglement_lib's ``compute_importance_gbt``: one sklearn ``GradientBoostingClassifier``
    with default settings per factor.

    Returns ``(importance (D, K), train accuracy (K,), test accuracy (K,))``.
    """
    num_codes, num_factors = train_codes.shape[1], train_factors.shape[1]
    importance = np.zeros((num_codes, num_factors))
    acc_train, acc_test = np.zeros(num_factors), np.zeros(num_factors)
    for k in range(num_factors):
        y_train, y_test = train_factors[:, k], test_factors[:, k]
        if len(np.unique(y_train)) < 2:
            acc_train[k], acc_test[k] = 1.0, float(np.mean(y_test == y_train[0]))
            continue
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(train_codes, y_train)
        importance[:, k] = np.abs(model.feature_importances_)
        acc_train[k] = np.mean(model.predict(train_codes) == y_train)
        acc_test[k] = np.mean(model.predict(test_codes) == y_test)
    return importance, acc_train, acc_test


# ------------------------------------------------------------------------ fast importance
def _bin_edges(codes: np.ndarray, max_bins: int) -> list[np.ndarray]:
    """Per code dimension, the thresholds between bins.

    Up to ``max_bins`` distinct values each get a bin, with edges at the midpoints between
    them: the candidate splits of the exact trees. Otherwise the sorted values are cut into
    ``max_bins - 1`` runs of equal length, and each run gets one edge, in its widest gap between
    neighbouring values: bins of roughly equal counts, as with HistGradientBoosting's quantile
    edges. Quantile edges cut through gaps at random, so two clusters of codes (the codes of a
    well-separated factor) could share a bin and no binned split could separate them; this way
    every gap wider than the spacing around it gets an edge.
    """
    edges = []
    for column in codes.T:
        distinct = np.unique(column)
        if len(distinct) <= max_bins:
            edges.append((distinct[:-1] + distinct[1:]) / 2)
            continue
        ordered = np.sort(column)
        gaps = np.diff(ordered)  # gaps[j] lies between ordered[j] and ordered[j + 1]
        # max_bins - 1 runs of consecutive gaps, tiling all of them: one edge each
        bounds = np.rint(np.linspace(0, len(gaps), max_bins)).astype(int)
        cuts = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if hi > lo:
                j = lo + int(np.argmax(gaps[lo:hi]))
                if gaps[j] > 0:  # never an edge between equal values
                    cuts.append((ordered[j] + ordered[j + 1]) / 2)
        edges.append(np.unique(np.asarray(cuts, dtype=np.float64)))
    return edges


def _apply_bins(codes: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Bin indices ``(N, D)``; a value equal to an edge goes to the lower bin (``x <= t``)."""
    # uint8 when it fits: the trees gather from these arrays at every level
    dtype = np.uint8 if max(len(cuts) for cuts in edges) < 256 else np.int64
    return np.stack([np.searchsorted(cuts, codes[:, d], side="left")
                     for d, cuts in enumerate(edges)], axis=1).astype(dtype)


def _boost_binned(
    xb_train: np.ndarray,
    y_train: np.ndarray,
    xb_test: np.ndarray,
    num_bins: int,
    *,
    num_stages: int = NUM_STAGES,
    learning_rate: float = LEARNING_RATE,
    max_depth: int = MAX_DEPTH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Friedman's gradient boosting with sklearn's classifier settings, on binned codes.

    Mirrors ``GradientBoostingClassifier`` (sklearn 1.x): prior log-odds start; each stage fits
    one least-squares regression tree per class (one in total for two classes) to the negative
    gradient ``y - p`` of the log loss, computed once per stage; leaves take one Newton step,
    ``sum(y - p) / sum(p (1 - p))``, times ``(K - 1) / K`` for ``K > 2`` classes; splits maximise
    the squared-error reduction with at least one sample per side; a node is a leaf at
    ``max_depth``, when its targets are constant or when no split separates its samples. The
    importance of a feature is its total squared-error reduction over all trees, normalised to
    sum 1 (sklearn's per-tree scaling by the root's sample count is the same for every tree and
    cancels).

    The trees of a stage are grown together, level by level: the (count, gradient-sum)
    histograms of every node are one sparse-one-hot matrix product, only for left children
    (right = parent - left), so the cost per stage is a few passes over ``N x D x classes``.

    Returns ``(importance (D,), train predictions, test predictions)`` (labels of ``y_train``).
    """
    n, num_codes = xb_train.shape
    classes, y_idx = np.unique(y_train, return_inverse=True)
    num_classes = len(classes)
    if num_classes < 2:
        return (np.zeros(num_codes), np.full(n, classes[0]),
                np.full(len(xb_test), classes[0]))
    binary = num_classes == 2
    num_trees = 1 if binary else num_classes  # trees per stage
    prior = np.clip(np.bincount(y_idx, minlength=num_classes) / n, _EPS, 1 - _EPS)
    if binary:
        target = (y_idx == 1).astype(np.float64)[:, None]
        raw_init = np.log(prior[1:] / prior[:1])
    else:
        target = np.zeros((n, num_classes))
        target[np.arange(n), y_idx] = 1.0
        raw_init = np.log(prior)
    raw = np.tile(raw_init, (n, 1))
    raw_test = np.tile(raw_init, (len(xb_test), 1))
    leaf_factor = 1.0 if binary else (num_classes - 1) / num_classes

    nb = num_bins
    # row of each (code, bin) pair in the histograms, per sample (n, D)
    flat_bins = (np.arange(num_codes) * nb)[None, :] + xb_train.astype(np.int64)
    one_hot_t = scipy.sparse.csr_array(
        (np.ones(n * num_codes), (flat_bins.ravel(), np.repeat(np.arange(n), num_codes))),
        shape=(num_codes * nb, n),
    )
    root_counts = np.bincount(flat_bins.ravel(), minlength=num_codes * nb).astype(np.float64)
    importance = np.zeros(num_codes)
    # Trees of a stage are independent given the stage's gradients: grow them in groups so the
    # dense work arrays (samples x tree slots, and histograms: trees x nodes x codes x bins)
    # stay near _MAX_WORK_ELEMENTS.
    per_tree = max(n * 2 ** max_depth, 2 ** (max_depth - 1) * num_codes * nb)
    group = max(1, _MAX_WORK_ELEMENTS // per_tree)

    for _ in range(num_stages):
        if binary:
            prob = 1.0 / (1.0 + np.exp(-raw))
        else:
            prob = np.exp(raw - raw.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
        residual = target - prob  # negative gradient of the log loss
        hessian = prob * (1.0 - prob)
        for c0 in range(0, num_trees, group):
            cols = slice(c0, min(c0 + group, num_trees))
            leaf_train, leaf_test, values = _grow_trees(
                residual[:, cols], hessian[:, cols], xb_train, xb_test, one_hot_t, root_counts,
                nb, max_depth, importance,
            )
            values *= leaf_factor
            c = np.arange(values.shape[0])
            raw[:, cols] += learning_rate * values[c, leaf_train]
            raw_test[:, cols] += learning_rate * values[c, leaf_test]

    total = importance.sum()
    importance = importance / total if total > 0 else importance

    def predict(r: np.ndarray) -> np.ndarray:
        # sklearn: class 1 where the log-odds are >= 0; otherwise the largest score
        return classes[(r[:, 0] >= 0).astype(int)] if binary else classes[np.argmax(r, axis=1)]

    return importance, predict(raw), predict(raw_test)


def _grow_trees(
    residual: np.ndarray,
    hessian: np.ndarray,
    xb_train: np.ndarray,
    xb_test: np.ndarray,
    one_hot_t: scipy.sparse.csr_array,
    root_counts: np.ndarray,
    nb: int,
    max_depth: int,
    importance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grow one depth-``max_depth`` least-squares tree per column of ``residual``, together.

    Trees are complete binary trees: a node that stays a leaf sends all its samples left, which
    leaves the partition (and so the fitted function) unchanged. Adds each split's squared-error
    reduction to ``importance`` in place. Returns the leaf of every training and test sample
    per tree ``(n, C)`` and the Newton leaf values ``(C, 2 ** max_depth)`` (without sklearn's
    ``(K - 1) / K`` factor).
    """
    n, num_codes = xb_train.shape
    num_trees = residual.shape[1]
    c_index = np.arange(num_trees)
    node = np.zeros((n, num_trees), dtype=np.int64)
    node_test = np.zeros((len(xb_test), num_trees), dtype=np.int64)
    # flat positions of row i in (n, D) and (n, columns) arrays: np.take on flat indices is
    # several times faster than 2-D fancy indexing here
    row_train = (np.arange(n) * num_codes)[:, None]
    row_test = (np.arange(len(xb_test)) * num_codes)[:, None]
    parent_sum = parent_count = None
    for depth in range(max_depth):
        width = 2 ** depth  # nodes per tree at this depth
        if depth == 0:
            hist_sum = (one_hot_t @ residual).T.reshape(num_trees, 1, num_codes, nb)
            hist_count = np.broadcast_to(root_counts.reshape(1, 1, num_codes, nb),
                                         hist_sum.shape)
        else:
            # Histograms of left children (even nodes) from one product; right = parent - left.
            # A sample's column is its parent's slot, with weight 0 when it went right.
            half = width // 2
            columns = 2 * num_trees * half
            is_left = (node & 1) == 0
            slot = (np.arange(n) * columns)[:, None] + (c_index * half + (node >> 1))
            weights = np.zeros(n * columns)
            np.put(weights, slot, np.where(is_left, residual, 0.0))
            np.put(weights, slot + num_trees * half, is_left)
            hist = (one_hot_t @ weights.reshape(n, columns)).T
            hist = hist.reshape(2, num_trees, half, num_codes, nb)
            hist_sum = np.empty((num_trees, width, num_codes, nb))
            hist_count = np.empty((num_trees, width, num_codes, nb))
            hist_sum[:, 0::2] = hist[0]
            np.subtract(parent_sum, hist[0], out=hist_sum[:, 1::2])
            hist_count[:, 0::2] = hist[1]
            np.subtract(parent_count, hist[1], out=hist_count[:, 1::2])
        parent_sum, parent_count = hist_sum, hist_count

        node_sum = hist_sum[:, :, 0, :].sum(axis=-1)  # (C, width)
        node_count = hist_count[:, :, 0, :].sum(axis=-1)
        # Split "bin <= b". Its squared-error reduction (sklearn's impurity improvement times
        # the node's count) is SL^2/NL + SR^2/NR - S^2/N; the last term is the same for every
        # split of a node, so it is subtracted for the best split only.
        left_sum = np.cumsum(hist_sum, axis=-1)
        left_count = np.cumsum(hist_count, axis=-1)
        right_sum = np.subtract(node_sum[:, :, None, None], left_sum)
        right_count = np.subtract(node_count[:, :, None, None], left_count)
        valid = left_count > 0.5  # a sample on each side (sklearn's min_samples_leaf=1)
        valid &= right_count > 0.5
        np.maximum(left_count, 1.0, out=left_count)
        np.maximum(right_count, 1.0, out=right_count)
        gain = np.square(left_sum, out=left_sum)
        gain /= left_count
        np.square(right_sum, out=right_sum)
        right_sum /= right_count
        gain += right_sum
        # valid gains are >= S^2/N >= 0; invalid ones become -1 (multiplying is much faster
        # than masked assignment)
        gain *= valid
        gain -= ~valid
        gain = gain.reshape(num_trees, width, num_codes * nb)
        best = np.argmax(gain, axis=-1)  # the first of equal gains
        best_gain = np.take_along_axis(gain, best[..., None], axis=-1)[..., 0]
        flat_node = (c_index * width + node).ravel()
        node_sq = np.bincount(flat_node, weights=(residual * residual).ravel(),
                              minlength=num_trees * width).reshape(num_trees, width)
        with np.errstate(divide="ignore", invalid="ignore"):
            best_gain -= node_sum ** 2 / node_count
            impurity = node_sq / node_count - (node_sum / node_count) ** 2
        # sklearn's leaves: no split with a sample on each side, or constant targets
        split = valid.reshape(num_trees, width, -1)[c_index[:, None], np.arange(width), best]
        split &= impurity > _EPS
        feature = np.where(split, best // nb, 0)
        threshold = np.where(split, best % nb, nb)  # no split: every bin goes left
        np.add.at(importance, feature[split], best_gain[split])

        for nodes, xb, rows in ((node, xb_train, row_train), (node_test, xb_test, row_test)):
            at = c_index * width + nodes
            goes_right = np.take(xb, rows + np.take(feature, at)) > np.take(threshold, at)
            nodes *= 2
            nodes += goes_right

    num_leaves = 2 ** max_depth
    flat_leaf = (c_index * num_leaves + node).ravel()
    numerator = np.bincount(flat_leaf, weights=residual.ravel(), minlength=num_trees * num_leaves)
    denominator = np.bincount(flat_leaf, weights=hessian.ravel(),
                              minlength=num_trees * num_leaves)
    # sklearn's _safe_divide: no update where the hessian vanishes
    safe = np.abs(denominator) >= 1e-150
    values = np.zeros_like(numerator)
    values[safe] = numerator[safe] / denominator[safe]
    return node, node_test, values.reshape(num_trees, num_leaves)


def hist_gbt_importance(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    *,
    max_bins: int = MAX_BINS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fast path: :func:`gbt_importance` with codes binned into at most ``max_bins``
    bins (deterministic: ties between equally good splits go to the first code and bin).

    Codes are rounded to float32 first, as sklearn's trees do.
    """
    train32 = train_codes.astype(np.float32)
    edges = _bin_edges(train32, max_bins)
    num_bins = max(len(cuts) for cuts in edges) + 1
    xb_train = _apply_bins(train32, edges)
    xb_test = _apply_bins(test_codes.astype(np.float32), edges)
    num_codes, num_factors = train_codes.shape[1], train_factors.shape[1]
    importance = np.zeros((num_codes, num_factors))
    acc_train, acc_test = np.zeros(num_factors), np.zeros(num_factors)
    for k in range(num_factors):
        importance[:, k], pred_train, pred_test = _boost_binned(
            xb_train, train_factors[:, k], xb_test, num_bins)
        acc_train[k] = np.mean(pred_train == train_factors[:, k])
        acc_test[k] = np.mean(pred_test == test_factors[:, k])
    return importance, acc_train, acc_test


# ------------------------------------------------------------------------------- the API
def dci(
    train_factors: np.ndarray,
    train_codes: np.ndarray,
    test_factors: np.ndarray,
    test_codes: np.ndarray,
    *,
    fast: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """DCI scores of codes ``(N, D)`` for integer factors ``(N, K)``, train and test split.

    ``fast=False`` (default) is disentanglement_lib's computation; ``fast=True`` the binned
    boosting of :func:`hist_gbt_importance`. Returns ``{"disentanglement", "completeness",
    "informativeness_train", "informativeness_test", "importance_matrix"}``, the last a
    ``D x K`` nested list (codes x factors).
    """
    train_factors, train_codes = check_arrays(train_factors, train_codes)
    test_factors, test_codes = check_arrays(test_factors, test_codes)
    if train_codes.shape[1] != test_codes.shape[1] or \
            train_factors.shape[1] != test_factors.shape[1]:
        raise ValueError(
            f"train and test disagree: codes {train_codes.shape[1]} vs {test_codes.shape[1]} "
            f"dims, factors {train_factors.shape[1]} vs {test_factors.shape[1]}"
        )
    if fast:
        importance, acc_train, acc_test = hist_gbt_importance(
            train_factors, train_codes, test_factors, test_codes)
    else:
        importance, acc_train, acc_test = gbt_importance(
            train_factors, train_codes, test_factors, test_codes, seed=seed)
    return {
        "disentanglement": disentanglement(importance),
        "completeness": completeness(importance),
        "informativeness_train": float(np.mean(acc_train)),
        "informativeness_test": float(np.mean(acc_test)),
        "importance_matrix": importance.tolist(),
    }


def compute_dci(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    num_test: int = 5000,
    batch_size: int = 16,
    fast: bool = False,
) -> dict[str, Any]:
    """DCI on ``num_train`` + ``num_test`` random points of ``dataset`` (disentanglement_lib's
    sizes); see :func:`dci`.

    ``batch_size`` only sets how many observations go through ``represent`` at once; the factors
    are all drawn first, so it does not change the result.
    """
    rng = np.random.default_rng(seed)
    train_factors, train_codes = sample_codes(dataset, represent, num_train, rng, batch_size)
    test_factors, test_codes = sample_codes(dataset, represent, num_test, rng, batch_size)
    return dci(train_factors, train_codes, test_factors, test_codes, fast=fast, seed=seed)


@METRICS.register("dci")
def dci_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
               ) -> dict[str, Any]:
    """Registered form: DCI of the posterior means of ``model`` on ``dataset``."""
    return compute_dci(dataset, mean_representation(model), **options)
