"""Partially Importance Weighted Autoencoder (PIWAE).

Rainforth, Kosiorek, Le, Maddison, Igl, Wood & Teh (2018), "Tighter Variational Bounds are Not
Necessarily Better", ICML, section 4. Tighter bounds help the generative network but lower the
signal-to-noise ratio of the inference network's gradient, so PIWAE gives each its own target,
on the same M * K samples z ~ q(z|x):

    encoder group (phi): maximise MIWAE(M, K)  (mean of M K-sample IWAE bounds)
    decoder group (theta): maximise IWAE(M * K)

Two optimiser groups, stepped by the trainer in this order every batch (the FactorVAE pattern):
``encoder`` (encoder network and posterior head) and ``decoder`` (decoder, likelihood and any
prior parameters). The encoder pass leaves its detached samples and their log q(z|x) in
``ctx.cache``; the decoder pass re-scores them under the decoder, so its gradient reaches theta
only and the two updates use the same draws, as in the paper. M = 1 is IWAE(K) for both.
Validation scores the first group, so ``val/loss`` is -MIWAE (``val/iwae_bound`` is logged too).

Defaults: ``num_groups = 8`` (M) and ``num_samples = 8`` (K), the paper's (M, K) = (8, 8) split of
64 samples per example (the values were not checked against the paper's text). Like ``iwae``, the
losses have no KL term, so the trainer's KL schedule and free bits do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from vaekit.config import check
from vaekit.losses.iwae import iwae_bound, log_importance_weights
from vaekit.losses.tighter_bounds import miwae_bound, miwae_loss
from vaekit.models.base import LossContext
from vaekit.models.iwae import IWAE, IWAEConfig
from vaekit.registry import MODELS

ENCODER = "encoder"
DECODER = "decoder"
SAMPLES_CACHE_KEY = "piwae.samples"  # ctx.cache entry: the encoder pass's detached (z, log q)


@dataclass
class PIWAEConfig(IWAEConfig):
    config_type: ClassVar[str] = "piwae"

    num_groups: int = 8  # M: the encoder's MIWAE groups
    num_samples: int = 8  # K: samples per group; the decoder's IWAE uses all M * K

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_groups >= 1, f"model.num_groups must be >= 1, got {self.num_groups}")


@MODELS.register("piwae")
class PIWAE(IWAE):
    """Encoder on MIWAE(M, K), decoder on IWAE(M * K), with two optimisers."""

    config_class: ClassVar[type] = PIWAEConfig

    # ---------------------------------------------------------------------- optimisation
    def inference_parameters(self) -> list[nn.Parameter]:
        """phi: the parameters of q(z|x)."""
        return [*self.encoder.parameters(), *self.posterior_head.parameters()]

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        phi = {id(p) for p in self.inference_parameters()}
        return {
            ENCODER: [p for p in self.inference_parameters() if p.requires_grad],
            DECODER: [p for p in self.parameters() if p.requires_grad and id(p) not in phi],
        }

    # ------------------------------------------------------------------------------ losses
    @property
    def total_samples(self) -> int:
        return self.config.num_groups * self.config.num_samples

    def log_joint(self, x: torch.Tensor, z: torch.Tensor, log_qz_x: torch.Tensor
                  ) -> torch.Tensor:
        """log w ``(M * K, B)`` of samples ``z`` with their log q(z|x)."""
        return log_importance_weights(self.decode(z).log_prob(x), self.prior().log_prob(z),
                                      log_qz_x)

    def grouped(self, log_w: torch.Tensor) -> torch.Tensor:
        return log_w.reshape(self.config.num_groups, self.config.num_samples, -1)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = ENCODER
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == ENCODER:
            return self.encoder_loss(x, ctx)
        if group == DECODER:
            return self.decoder_loss(x, ctx)
        raise ValueError(f"piwae has the optimiser groups '{ENCODER}' and '{DECODER}', "
                         f"not '{group}'")

    def encoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """-MIWAE(M, K) with reparameterised samples (its gradient also reaches the decoder's
        parameters, but the decoder's optimiser clears that before its own step)."""
        qz_x = self.encode(x)
        z = qz_x.rsample((self.total_samples,))  # (M * K, B, D)
        log_qz_x = qz_x.log_prob(z)
        ctx.cache[SAMPLES_CACHE_KEY] = (z.detach(), log_qz_x.detach())
        return miwae_loss(self.grouped(self.log_joint(x, z, log_qz_x)))

    def decoder_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """-IWAE(M * K) of the encoder pass's samples, held fixed: the gradient is theta's."""
        cached = ctx.cache.get(SAMPLES_CACHE_KEY)
        if cached is None:  # called on its own (no encoder pass this step): draw here
            with torch.no_grad():
                qz_x = self.encode(x)
                z = qz_x.sample((self.total_samples,))
                cached = (z, qz_x.log_prob(z))
        log_w = self.log_joint(x, *cached)
        bound = iwae_bound(log_w)
        return {
            "loss": -bound.mean(),
            "iwae_bound": bound.mean().detach(),
            "miwae_bound": miwae_bound(self.grouped(log_w)).mean().detach(),
            "elbo": log_w.mean().detach(),
        }
