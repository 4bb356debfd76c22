"""KL divergence between posterior and prior: analytic where torch knows it, else Monte Carlo."""

from __future__ import annotations

import torch
from torch.distributions import Distribution, Independent, kl_divergence


def has_analytic_kl(q: Distribution, p: Distribution) -> bool:
    try:
        kl_divergence(q, p)
    except NotImplementedError:
        return False
    return True


def kl(q: Distribution, p: Distribution, z: torch.Tensor | None = None) -> torch.Tensor:
    """KL(q || p) per example: analytic via ``kl_divergence``, or the single-sample Monte-Carlo
    estimate log q(z) - log p(z) at the sample ``z`` (which must then be given, drawn from q)."""
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        if z is None:
            raise ValueError(
                f"no analytic KL for {type(q).__name__} || {type(p).__name__}: pass a sample z ~ q "
                "for the Monte-Carlo estimate"
            ) from None
        return q.log_prob(z) - p.log_prob(z)


def kl_per_dim(q: Distribution, p: Distribution) -> torch.Tensor | None:
    """KL per latent dimension ``(..., D)`` for factorised q and p, or None if not factorised."""
    if isinstance(q, Independent) and isinstance(p, Independent):
        try:
            return kl_divergence(q.base_dist, p.base_dist)
        except NotImplementedError:
            return None
    return None
