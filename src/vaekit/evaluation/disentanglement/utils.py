"""Discretisation and discrete information measures shared by several metrics.

These follow ``evaluation/metrics/utils.py`` of disentanglement_lib (Locatello et al. 2019,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled Representations",
ICML), which MIG, Modularity and IRS build on. Unlike disentanglement_lib, arrays here are laid
out ``(num_points, num_dims)`` (one row per sample), like the rest of vaekit.

All information quantities are in nats (natural logarithm), as sklearn's ``mutual_info_score``
returns them; the metrics only use ratios, so the base does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import mutual_info_score

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import RepresentationFn

# disentanglement_lib's metric configs set ``discretizer.num_bins = 20``.
DEFAULT_NUM_BINS = 20


def histogram_discretize(values: np.ndarray, num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """Discretise each column of ``values`` ``(N, D)`` into ``num_bins`` equal-width bins.

    Matches disentanglement_lib's ``_histogram_discretize``: the bin edges are those of
    ``np.histogram(column, num_bins)`` (equal width between the column's min and max) and a value
    gets the number of left edges at or below it (``np.digitize`` against all edges but the
    last), so labels run from 1 to ``num_bins`` and the maximum falls in the last bin. A constant
    column becomes one constant label. Returns int64 labels ``(N, D)``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"expected values of shape (N, D), got {values.shape}")
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    labels = np.empty(values.shape, dtype=np.int64)
    for d in range(values.shape[1]):
        edges = np.histogram(values[:, d], bins=num_bins)[1]
        labels[:, d] = np.digitize(values[:, d], edges[:-1])
    return labels


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information ``(D, K)`` between each discrete code column and each factor column.

    ``codes`` ``(N, D)`` and ``factors`` ``(N, K)`` hold discrete labels (e.g. the output of
    :func:`histogram_discretize`); entry ``[i, j]`` is the plug-in estimate I(code_i; factor_j)
    of sklearn's ``mutual_info_score``, as in disentanglement_lib's ``discrete_mutual_info``.
    """
    codes, factors = _as_2d(codes), _as_2d(factors)
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors differ in length: {len(codes)} vs {len(factors)}")
    mi = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            mi[i, j] = mutual_info_score(factors[:, j], codes[:, i])
    return mi


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Plug-in entropy ``(K,)`` of each discrete column of ``factors`` ``(N, K)``, as I(y; y)."""
    factors = _as_2d(factors)
    return np.array([mutual_info_score(factors[:, j], factors[:, j])
                     for j in range(factors.shape[1])])


def normalize_columns(
    data: np.ndarray, mean: np.ndarray | None = None, std: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise the columns of ``data`` ``(N, D)``; returns ``(normalised, mean, std)``.

    Like disentanglement_lib's ``normalize_data`` (population std, ``ddof=0``), except that a
    zero std is replaced by 1 so that a constant column becomes zeros instead of NaN/Inf.
    """
    data = np.asarray(data, dtype=np.float64)
    mean = data.mean(axis=0) if mean is None else mean
    if std is None:
        std = data.std(axis=0)
        std = np.where(std > 0, std, 1.0)
    return (data - mean) / std, mean, std


def _as_2d(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    return array[:, None] if array.ndim == 1 else array


def represent_factor_batches(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    batches: Sequence[np.ndarray],
    max_images_per_call: int = 1024,
) -> list[np.ndarray]:
    """Codes of the observations of each factor batch in ``batches`` (one array per batch).

    The interventional metrics need thousands of small batches (64 observations each); rendering
    and encoding several of them per call is much faster than one call per batch and gives the
    same codes, since the batches are drawn before any encoding.
    """
    codes: list[np.ndarray] = []
    start = 0
    while start < len(batches):
        stop, size = start, 0
        while stop < len(batches) and (stop == start or size + len(batches[stop])
                                       <= max_images_per_call):
            size += len(batches[stop])
            stop += 1
        joined = represent(dataset.render(np.concatenate(batches[start:stop], axis=0)))
        joined = np.asarray(joined, dtype=np.float64).reshape(size, -1)
        codes.extend(np.split(joined, np.cumsum([len(b) for b in batches[start:stop - 1]])))
        start = stop
    return codes
