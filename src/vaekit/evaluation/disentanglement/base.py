"""Shared plumbing of the disentanglement metrics.

Every metric works from plain arrays (``factors`` int ``(N, K)``, ``codes`` float ``(N, D)``) so
any representation can be scored, and also from a ground-truth-factor dataset plus an encoder,
following disentanglement_lib (Locatello et al. 2019): the representation function maps a batch
of observations to codes (by default the means of q(z|x)), and points are sampled with a seeded
``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset

# observations (B, C, H, W) float tensor -> codes (B, D) numpy array
RepresentationFn = Callable[[torch.Tensor], np.ndarray]


def mean_representation(model: torch.nn.Module) -> RepresentationFn:
    """The representation disentanglement_lib scores: the mean of q(z|x)."""

    @torch.no_grad()
    def represent(x: torch.Tensor) -> np.ndarray:
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            return model.encode(x.to(device)).mean.cpu().numpy()
        finally:
            model.train(was_training)

    return represent


def sample_codes(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` random factor draws and their codes: ``(factors (N, K), codes (N, D))``."""
    factors = dataset.sample_factors(num_points, rng)
    codes = [represent(dataset.render(factors[i:i + batch_size]))
             for i in range(0, num_points, batch_size)]
    return factors, np.concatenate(codes, axis=0)


def check_arrays(factors: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return (factors as int64 (N, K), codes as float64 (N, D))."""
    factors, codes = np.asarray(factors), np.asarray(codes, dtype=np.float64)
    if factors.ndim == 1:
        factors = factors[:, None]
    if codes.ndim == 1:
        codes = codes[:, None]
    if factors.ndim != 2 or codes.ndim != 2 or len(factors) != len(codes):
        raise ValueError(
            f"expected factors (N, K) and codes (N, D) with the same N, got {factors.shape} "
            f"and {codes.shape}"
        )
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or Inf")
    if not np.issubdtype(factors.dtype, np.integer):
        if not np.all(np.mod(factors, 1) == 0):
            raise ValueError("factors must be integer class indices (N, K)")
    return factors.astype(np.int64), codes
