"""Importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted
Autoencoders", eq. 8): ``log (1/K) sum_k p(x, z_k) / q(z_k | x)`` with ``z_k ~ q(z|x)``."""

from __future__ import annotations

import math

import torch


def log_importance_weights(
    log_px_z: torch.Tensor, log_pz: torch.Tensor, log_qz_x: torch.Tensor
) -> torch.Tensor:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x); all ``(K, B)``."""
    return log_px_z + log_pz - log_qz_x


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """The K-sample bound per example ``(B,)`` from log weights ``(K, B)``."""
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


def iwae_loss(log_w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Negative IWAE bound as the loss, with the single-sample ELBO for comparison."""
    bound = iwae_bound(log_w)
    return {"loss": -bound.mean(), "iwae_bound": bound.mean(), "elbo": log_w.mean()}
