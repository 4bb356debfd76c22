"""Priors p(z) as modules that return a torch.distributions object."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Independent, Normal

from vaekit.registry import PRIORS


@PRIORS.register("standard_normal")
class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I) over ``latent_dim`` dimensions (event shape ``(D,)``)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        # Buffers follow the module's device and dtype; they are not saved (they are constants).
        self.register_buffer("loc", torch.zeros(latent_dim), persistent=False)
        self.register_buffer("scale", torch.ones(latent_dim), persistent=False)

    def forward(self) -> Independent:
        return Independent(Normal(self.loc, self.scale), 1)
