"""beta-VAE with controlled capacity increase.

Burgess et al. (2018), "Understanding disentangling in beta-VAE", NeurIPS workshop (eq. 8):
minimise ``recon + gamma * |KL - C|`` where the target capacity C grows linearly from
``capacity_start`` to ``capacity_max`` nats over ``capacity_steps`` steps, so the code gains
information gradually and factors are learned one after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.losses.elbo import capacity_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class AnnealedVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "annealed_vae"

    gamma: float = 1000.0  # the paper's dSprites setting
    capacity_start: float = 0.0
    capacity_max: float = 25.0  # nats
    capacity_steps: int = 100_000

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.gamma >= 0, f"model.gamma must be >= 0, got {self.gamma}")
        check(self.capacity_steps > 0, "model.capacity_steps must be positive")
        check(self.capacity_max >= self.capacity_start >= 0,
              "model.capacity_max must be >= model.capacity_start >= 0")


@MODELS.register("annealed_vae")
class AnnealedVAE(BaseVAE):
    config_class: ClassVar[type] = AnnealedVAEConfig

    def capacity(self, step: int) -> float:
        c = self.config
        fraction = min(max(step, 0) / c.capacity_steps, 1.0)
        return c.capacity_start + fraction * (c.capacity_max - c.capacity_start)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z = qz_x.rsample()
        return capacity_loss(x, qz_x, self.prior(), self.decode(z), z,
                             capacity=self.capacity(ctx.step), gamma=self.config.gamma)
