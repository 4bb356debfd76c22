"""Importance Weighted Autoencoder.

Burda, Grosse & Salakhutdinov (2016), "Importance Weighted Autoencoders", ICLR. Trains on the
K-sample bound log (1/K) sum_k w_k, which is tighter than the ELBO for K > 1 and equals it for
K = 1 (in expectation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.losses.iwae import iwae_loss, log_importance_weights
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class IWAEConfig(VAEConfig):
    config_type: ClassVar[str] = "iwae"

    num_samples: int = 5  # K

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_samples >= 1, f"model.num_samples must be >= 1, got {self.num_samples}")


@MODELS.register("iwae")
class IWAE(BaseVAE):
    config_class: ClassVar[type] = IWAEConfig

    def log_weights(self, x: torch.Tensor, num_samples: int) -> torch.Tensor:
        """log w ``(K, B)`` for K reparameterised samples of q(z|x)."""
        qz_x = self.encode(x)
        z = qz_x.rsample((num_samples,))  # (K, B, D)
        return log_importance_weights(self.decode(z).log_prob(x), self.prior().log_prob(z),
                                      qz_x.log_prob(z))

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        return iwae_loss(self.log_weights(x, self.config.num_samples))
