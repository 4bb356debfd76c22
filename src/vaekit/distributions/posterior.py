"""Posterior heads: encoder features -> q(z|x) as a torch.distributions object."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, Normal


class DiagonalGaussianHead(nn.Module):
    """q(z|x) = N(mu, diag(sigma^2)) from features ``(..., 2 * D)`` = [mu, pre-sigma].

    sigma = softplus(pre) + min_std: smooth and bounded away from zero, which avoids the
    exp(logvar) overflow that makes early training diverge with large inputs.
    """

    def __init__(self, latent_dim: int, min_std: float = 1e-4) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.min_std = min_std

    def forward(self, features: torch.Tensor) -> Independent:
        mu, pre_std = features.chunk(2, dim=-1)
        std = F.softplus(pre_std) + self.min_std
        return Independent(Normal(mu, std), 1)
