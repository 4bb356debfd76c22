"""Variational autoencoder.

Kingma & Welling (2014), "Auto-Encoding Variational Bayes", ICLR. One reparameterised sample
per example, analytic KL to the prior where torch.distributions knows it.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@MODELS.register("vae")
class VAE(BaseVAE):
    """Maximises the ELBO  E_q[log p(x|z)] - KL(q(z|x) || p(z))."""

    config_class: ClassVar[type] = VAEConfig

    def beta(self) -> float:
        return 1.0

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z = qz_x.rsample()
        return elbo_loss(x, qz_x, self.prior(), self.decode(z), z, beta=self.beta(),
                         kl_weight=ctx.kl_weight, free_bits=ctx.free_bits)

