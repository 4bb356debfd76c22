"""Distances between two sets of feature vectors: Fréchet distance, KID, precision/recall.

All three compare a set of *real* features with a set of *generated* ones (rows are examples,
columns are feature dimensions); which feature extractor produced them is up to the caller. In
vaekit the features usually come from :class:`~vaekit.evaluation.generation.classifier.
FeatureClassifier`, a small classifier trained on the data set itself, so the numbers are **not**
Inception FID/KID and cannot be compared with published values; they rank models evaluated with
the same classifier and the same number of samples.

* :func:`frechet_distance`: Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter (2017), "GANs
  Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS: the
  Fréchet (2-Wasserstein) distance between Gaussians fitted to the two sets,
  ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. Biased upwards for small sets:
  compare numbers only at equal sample sizes.
* :func:`kernel_distance`: Bińkowski, Sutherland, Arbel & Gretton (2018), "Demystifying MMD
  GANs", ICLR: the unbiased estimate of MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets (KID). Unbiased, so it can be
  slightly negative when the two sets come from the same distribution.
* :func:`precision_recall`: Kynkäänniemi, Karras, Laine, Lehtinen & Aila (2019), "Improved
  Precision and Recall Metric for Assessing Generative Models", NeurIPS: each set's manifold is
  the union of balls around its points reaching the k-th nearest neighbour; precision is the
  fraction of generated points inside the real manifold (fidelity), recall the fraction of real
  points inside the generated manifold (coverage).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg
import torch

# Float64 elements of one (rows x reference) distance block: 2**23 = 64 MB.
_BLOCK_BUDGET = 2**23
_SLACK = 1e-10


def _as_features(feats: np.ndarray | torch.Tensor, name: str, min_rows: int = 2) -> np.ndarray:
    if isinstance(feats, torch.Tensor):
        feats = feats.detach().cpu().numpy()
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (N, F), got {feats.shape}")
    if len(feats) < min_rows:
        raise ValueError(f"{name}: need at least {min_rows} feature vectors, got {len(feats)}")
    if not np.isfinite(feats).all():
        raise ValueError(f"{name}: features contain NaN or Inf values")
    return feats


def _check_same_dim(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")


# ------------------------------------------------------------------------- Fréchet distance
def feature_statistics(feats: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(F,)`` and unbiased covariance ``(F, F)`` (float64) of features ``(N, F)``."""
    feats = _as_features(feats, "feats")
    return feats.mean(axis=0), np.atleast_2d(np.cov(feats, rowvar=False))


def _sqrtm(matrix: np.ndarray) -> tuple[np.ndarray, bool]:
    """scipy's matrix square root and whether it is trustworthy (finite, not flagged singular)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(matrix)
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    return root, bool(np.isfinite(root).all()) and not singular


def frechet_distance_from_stats(
    mu_a: np.ndarray,
    sigma_a: np.ndarray,
    mu_b: np.ndarray,
    sigma_b: np.ndarray,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between two
    Gaussians (Heusel et al. 2017, as computed by their reference implementation).

    When ``S_a S_b`` is singular or its square root is not finite, ``eps * I`` is added to both
    covariances and the root recomputed; a complex root whose diagonal has an imaginary part
    above 1e-3 raises ``ValueError``, smaller imaginary parts (round-off) are dropped. The result
    is clipped at 0 (it is a squared distance; tiny negative values are round-off).
    """
    mu_a = np.atleast_1d(np.asarray(mu_a, np.float64))
    mu_b = np.atleast_1d(np.asarray(mu_b, np.float64))
    sigma_a = np.atleast_2d(np.asarray(sigma_a, np.float64))
    sigma_b = np.atleast_2d(np.asarray(sigma_b, np.float64))
    if mu_a.shape != mu_b.shape or mu_a.ndim != 1:
        raise ValueError(f"means must be vectors of one length, got {mu_a.shape}, {mu_b.shape}")
    dim = mu_a.shape[0]
    if sigma_a.shape != (dim, dim) or sigma_b.shape != (dim, dim):
        raise ValueError(f"covariances must be ({dim}, {dim}), got {sigma_a.shape}, "
                         f"{sigma_b.shape}")
    diff = mu_a - mu_b
    covmean, ok = _sqrtm(sigma_a @ sigma_b)
    if not ok:
        offset = np.eye(dim) * eps
        covmean, ok = _sqrtm((sigma_a + offset) @ (sigma_b + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("the matrix square root of the covariance product is not finite, "
                             "even with eps added to the diagonals")
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > 1e-3:
            raise ValueError(f"the covariance product's square root has imaginary component "
                             f"{max_imag:.3g}; the covariances are badly conditioned")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return max(float(value), 0.0)


def frechet_distance(
    feats_a: np.ndarray | torch.Tensor, feats_b: np.ndarray | torch.Tensor, eps: float = 1e-6
) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(N, F)`` and ``(M, F)``
    (Heusel et al. 2017); 0 for a set with itself. See :func:`frechet_distance_from_stats`."""
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    _check_same_dim(a, b)
    return frechet_distance_from_stats(*feature_statistics(a), *feature_statistics(b), eps=eps)


# ---------------------------------------------------------------------------------- KID
class KernelDistance(NamedTuple):
    """Result of :func:`kernel_distance`; unpacks as ``mean, std = kernel_distance(...)``."""

    mean: float
    std: float


def _polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Bińkowski et al. 2018, eq. 2)."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    n = y.shape[0]
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())


def kernel_distance(
    feats_a: np.ndarray | torch.Tensor,
    feats_b: np.ndarray | torch.Tensor,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KernelDistance:
    """Kernel Inception Distance estimator (Bińkowski et al. 2018) on arbitrary features.

    ``subsets`` times, ``subset_size`` rows are drawn without replacement from each set
    (``subset_size`` is capped at the smaller set's size) and the unbiased MMD^2 with the cubic
    polynomial kernel is computed; returns the mean and standard deviation over the subsets.
    Seeded with ``seed`` (a numpy generator), so repeated calls give the same numbers.
    """
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    _check_same_dim(a, b)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    size = min(int(subset_size), len(a), len(b))
    if size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        values[i] = _polynomial_mmd2(x, y)
    return KernelDistance(float(values.mean()), float(values.std()))


# ------------------------------------------------------------------- precision and recall
class PrecisionRecall(NamedTuple):
    """Result of :func:`precision_recall`; unpacks as ``precision, recall = ...``."""

    precision: float
    recall: float


def _squared_norms(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(dim=1)


def _blocks(n_rows: int, n_cols: int):
    step = max(1, _BLOCK_BUDGET // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _squared_distances(
    x: torch.Tensor, x_norms: torch.Tensor, y: torch.Tensor, y_norms: torch.Tensor
) -> torch.Tensor:
    return (x_norms[:, None] + y_norms[None, :] - 2.0 * (x @ y.T)).clamp_min_(0.0)


def _knn_squared_radii(feats: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of every row to its k-th nearest other row, block by block."""
    norms = _squared_norms(feats)
    radii = torch.empty(len(feats), dtype=feats.dtype)
    for rows in _blocks(len(feats), len(feats)):
        d2 = _squared_distances(feats[rows], norms[rows], feats, norms)
        # The smallest entry of each row is the point itself (distance 0): take the (k+1)-th.
        # (topk is much faster than kthvalue on CPU.)
        radii[rows] = d2.topk(k + 1, dim=1, largest=False).values[:, k]
    return radii


def _fraction_inside(
    queries: torch.Tensor, reference: torch.Tensor, reference_radii: torch.Tensor
) -> float:
    """Fraction of ``queries`` within the k-NN ball of at least one ``reference`` point."""
    q_norms, r_norms = _squared_norms(queries), _squared_norms(reference)
    # Round-off slack, relative to the squared norms, so that a duplicate of a reference point
    # counts as inside even when that point's radius is 0: d2 <= r2 + 1e-10 (|q|^2 + |r|^2).
    thresholds = reference_radii + _SLACK * r_norms
    inside = 0
    for rows in _blocks(len(queries), len(reference)):
        d2 = _squared_distances(queries[rows], q_norms[rows], reference, r_norms)
        d2.sub_(thresholds[None, :])
        inside += int((d2 <= _SLACK * q_norms[rows, None]).any(dim=1).sum())
    return inside / len(queries)


def precision_recall(
    real_feats: np.ndarray | torch.Tensor, fake_feats: np.ndarray | torch.Tensor, k: int = 3
) -> PrecisionRecall:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    ``precision``: fraction of generated points inside the real manifold (the union of balls
    around real points, each with the radius of its k-th nearest real neighbour); ``recall``:
    fraction of real points inside the generated manifold. Both are in [0, 1]. Distances are
    computed exactly (float64) in blocks of bounded memory, so 10k x 10k sets need about 64 MB
    at a time. The paper uses k = 3.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    real = torch.from_numpy(_as_features(real_feats, "real_feats", min_rows=k + 1))
    fake = torch.from_numpy(_as_features(fake_feats, "fake_feats", min_rows=k + 1))
    _check_same_dim(real.numpy(), fake.numpy())
    real_radii = _knn_squared_radii(real, k)
    fake_radii = _knn_squared_radii(fake, k)
    return PrecisionRecall(
        precision=_fraction_inside(fake, real, real_radii),
        recall=_fraction_inside(real, fake, fake_radii),
    )
