"""Multiply Importance Weighted Autoencoder (MIWAE).

Rainforth, Kosiorek, Le, Maddison, Igl, Wood & Teh (2018), "Tighter Variational Bounds are Not
Necessarily Better", ICML, section 4. Trains encoder and decoder on the average of M independent
K-sample IWAE bounds (:func:`vaekit.losses.tighter_bounds.miwae_bound`)::

    MIWAE(M, K) = (1/M) sum_m log (1/K) sum_k p(x, z_mk) / q(z_mk | x),   z_mk ~ q(z|x)

M = 1 is the IWAE of Burda et al. (2016) and K = 1 the VAE with M samples. For a fixed budget of
M * K samples, raising M trades bound tightness (better for the decoder) for a higher
signal-to-noise ratio of the encoder's gradient, the paper's point.

Defaults: ``num_groups = 8`` (M) and ``num_samples = 8`` (K): the (M, K) = (8, 8) split of the
paper's budget of 64 samples per example (the values were not checked against the paper's
text). Like ``iwae``, the loss has no KL term, so the trainer's KL schedule and free bits do not
apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.losses.tighter_bounds import miwae_loss
from vaekit.models.base import LossContext
from vaekit.models.iwae import IWAE, IWAEConfig
from vaekit.registry import MODELS


@dataclass
class MIWAEConfig(IWAEConfig):
    config_type: ClassVar[str] = "miwae"

    num_groups: int = 8  # M: independent IWAE bounds averaged
    num_samples: int = 8  # K: importance samples per bound

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_groups >= 1, f"model.num_groups must be >= 1, got {self.num_groups}")


@MODELS.register("miwae")
class MIWAE(IWAE):
    """Maximises MIWAE(M, K); an IWAE generalisation (M = 1 is IWAE with K samples)."""

    config_class: ClassVar[type] = MIWAEConfig

    def grouped_log_weights(self, x: torch.Tensor) -> torch.Tensor:
        """log w ``(M, K, B)`` for M * K reparameterised samples of q(z|x)."""
        m, k = self.config.num_groups, self.config.num_samples
        return self.log_weights(x, m * k).reshape(m, k, -1)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        return miwae_loss(self.grouped_log_weights(x))
