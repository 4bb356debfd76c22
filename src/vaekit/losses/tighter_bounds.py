"""The importance-weighted bounds of Rainforth et al. (2018), "Tighter Variational Bounds are Not
Necessarily Better", ICML, section 4.

All three are built from the log weights ``log w = log p(x, z) - log q(z|x)`` of
:func:`vaekit.losses.iwae.log_importance_weights` and the IWAE bound
:func:`vaekit.losses.iwae.iwae_bound` (Burda et al. 2016, eq. 8):

- MIWAE: the average of M independent K-sample IWAE bounds,
  ``(1/M) sum_m log (1/K) sum_k w_{m,k}``; M = 1 is IWAE, K = 1 the M-sample ELBO.
- CIWAE: the convex combination ``beta * ELBO + (1 - beta) * IWAE`` of the K-sample
  ELBO estimate ``(1/K) sum_k log w_k`` and the K-sample IWAE bound on the same weights.
- PIWAE: the encoder is trained on MIWAE(M, K), the decoder on IWAE(M * K) of the same M * K
  weights; the model (:mod:`vaekit.models.piwae`) routes the two terms to the two parameter sets.

The losses return flat dicts of per-example-averaged scalars in nats, ``loss`` being minimised.
"""

from __future__ import annotations

import torch

from vaekit.losses.iwae import iwae_bound


def _check_grouped(log_w: torch.Tensor) -> None:
    if log_w.dim() != 3:
        raise ValueError(
            f"expected grouped log weights of shape (M, K, B), got {tuple(log_w.shape)}"
        )


def miwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """The MIWAE bound per example ``(B,)`` from grouped log weights ``(M, K, B)``: the mean
    over the M groups of each group's K-sample IWAE bound."""
    _check_grouped(log_w)
    return iwae_bound(log_w.transpose(0, 1)).mean(0)  # iwae_bound reduces dim 0: the K axis


def elbo_estimate(log_w: torch.Tensor) -> torch.Tensor:
    """The K-sample Monte-Carlo ELBO per example ``(B,)``: the mean log weight over dim 0."""
    return log_w.mean(0)


def ciwae_bound(log_w: torch.Tensor, beta: float) -> torch.Tensor:
    """The CIWAE bound per example ``(B,)`` from log weights ``(K, B)``:
    ``beta * ELBO_K + (1 - beta) * IWAE_K``; beta = 1 is the ELBO, beta = 0 the IWAE bound."""
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"CIWAE's beta must be in [0, 1], got {beta}")
    return beta * elbo_estimate(log_w) + (1.0 - beta) * iwae_bound(log_w)


def miwae_loss(log_w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Negative MIWAE bound of grouped log weights ``(M, K, B)``, with the IWAE bound of all
    M * K weights and the single-sample ELBO for comparison."""
    bound = miwae_bound(log_w)
    return {
        "loss": -bound.mean(),
        "miwae_bound": bound.mean(),
        "iwae_bound": iwae_bound(log_w.flatten(0, 1)).mean(),
        "elbo": log_w.mean(),
    }


def ciwae_loss(log_w: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    """Negative CIWAE bound of log weights ``(K, B)``, with both of its parts."""
    bound = ciwae_bound(log_w, beta)
    return {
        "loss": -bound.mean(),
        "ciwae_bound": bound.mean(),
        "iwae_bound": iwae_bound(log_w).mean(),
        "elbo": log_w.mean(),
    }

