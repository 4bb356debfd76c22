"""Combination Importance Weighted Autoencoder (CIWAE).

Rainforth, Kosiorek, Le, Maddison, Igl, Wood & Teh (2018), "Tighter Variational Bounds are Not
Necessarily Better", ICML, section 4. Trains encoder and decoder on a convex combination of the
K-sample ELBO estimate and the K-sample IWAE bound of the same K weights
(:func:`vaekit.losses.tighter_bounds.ciwae_bound`)::

    CIWAE_beta = beta * (1/K) sum_k log w_k + (1 - beta) * log (1/K) sum_k w_k

beta = 0 is the IWAE of Burda et al. (2016), beta = 1 the VAE with K samples; the ELBO part
keeps the encoder's gradient signal-to-noise ratio from vanishing as K grows.

Defaults: ``beta = 0.5`` (also pythae's) and ``num_samples = 64``, the paper's budget of 64
samples per example (the values were not checked against the paper's text). Like ``iwae``, the
loss has no separate KL term, so the trainer's KL schedule and free bits do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.losses.tighter_bounds import ciwae_loss
from vaekit.models.base import LossContext
from vaekit.models.iwae import IWAE, IWAEConfig
from vaekit.registry import MODELS


@dataclass
class CIWAEConfig(IWAEConfig):
    config_type: ClassVar[str] = "ciwae"

    num_samples: int = 64  # K
    beta: float = 0.5  # weight of the ELBO; 1 - beta weights the IWAE bound

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0.0 <= self.beta <= 1.0, f"model.beta must be in [0, 1], got {self.beta}")


@MODELS.register("ciwae")
class CIWAE(IWAE):
    """Maximises ``beta * ELBO_K + (1 - beta) * IWAE_K`` on one set of K samples."""

    config_class: ClassVar[type] = CIWAEConfig

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        return ciwae_loss(self.log_weights(x, self.config.num_samples), self.config.beta)
