"""FactorVAE.

Kim & Mnih (2018), "Disentangling by Factorising", ICML, eq. 2: the ELBO plus a
total-correlation penalty::

    VAE group:           recon + kl_weight * KL + gamma * TC,   TC ~ mean(logit_0(z) - logit_1(z))
    discriminator group: cross-entropy of D on z ~ q(z) (class 0) vs permuted z (class 1)

The TC = KL(q(z) || prod_j q(z_j)) is estimated by the density-ratio trick with a discriminator
D trained by its own optimiser: for the optimal D, ``log D(z) / (1 - D(z)) = log q(z) /
prod_j q(z_j)``. ``kl_weight`` (warm-up schedules) weights the KL only: the TC penalty is not
part of the ELBO.

Choices and their sources:

- ``gamma = 35``: a dSprites setting inside the range the paper sweeps there (gamma from 10 to
  100; disentanglement_lib sweeps {10, 20, 30, 40, 50, 100}); tune it per dataset. (The exact
  value was not checked against the paper's text.)
- Discriminator: 6 x 1000 leaky-ReLU MLP (appendix A), Adam with lr 1e-4 and betas (0.5, 0.9)
  (appendix A; disentanglement_lib's shared.gin), set through ``optimizer_options``. The VAE
  uses the trainer's optimiser settings; the paper's are lr 1e-4, betas (0.9, 0.999)
  (``train.lr=1e-4``).
- Permuted samples: the paper's training algorithm permutes the codes of a *second* minibatch.
  Like disentanglement_lib, this implementation permutes the same batch's codes, so one forward
  pass serves both optimisers (the VAE group leaves its detached z in ``ctx.cache``); the
  samples are still from prod_j q(z_j) and the estimator's target is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from vaekit.config import check, check_betas
from vaekit.losses.elbo import kl_terms
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.nn.discriminator import FactorDiscriminator, permute_dims
from vaekit.registry import MODELS

DISCRIMINATOR = "discriminator"
Z_CACHE_KEY = "factor_vae.z"  # ctx.cache entry: the VAE pass's detached z, for the discriminator


@dataclass
class FactorVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "factor_vae"

    gamma: float = 35.0  # weight of the TC penalty
    discriminator_hidden: int = 1000  # appendix A
    discriminator_layers: int = 6
    discriminator_lr: float = 1e-4  # appendix A
    discriminator_betas: tuple[float, float] = (0.5, 0.9)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.gamma >= 0, f"model.gamma must be >= 0, got {self.gamma}")
        check(self.discriminator_hidden > 0 and self.discriminator_layers > 0,
              "model.discriminator_hidden and model.discriminator_layers must be positive")
        check(self.discriminator_lr > 0, "model.discriminator_lr must be positive")
        self.discriminator_betas = check_betas("model.discriminator_betas",
                                               self.discriminator_betas)


@MODELS.register("factor_vae")
class FactorVAE(BaseVAE):
    config_class: ClassVar[type] = FactorVAEConfig

    def __init__(self, config: FactorVAEConfig) -> None:
        super().__init__(config)
        self.discriminator = FactorDiscriminator(
            config.latent_dim, config.discriminator_hidden, config.discriminator_layers
        )

    # ---------------------------------------------------------------------- optimisation
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminator.parameters()}
        return {
            "model": [p for p in self.parameters() if p.requires_grad and id(p) not in disc],
            DISCRIMINATOR: [p for p in self.discriminator.parameters() if p.requires_grad],
        }

    def optimizer_options(self, group: str) -> dict[str, Any]:
        if group == DISCRIMINATOR:
            return {"lr": self.config.discriminator_lr,
                    "betas": tuple(self.config.discriminator_betas)}
        return {}

    # ------------------------------------------------------------------------------ losses
    def frozen_discriminator_logits(self, z: torch.Tensor) -> torch.Tensor:
        """D(z) with D's parameters detached: the VAE's TC gradient reaches the encoder but
        never touches (or leaves .grad on) the discriminator."""
        params = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        return functional_call(self.discriminator, params, (z,))

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == DISCRIMINATOR:
            return self.discriminator_loss(x, ctx)
        qz_x = self.encode(x)
        z = qz_x.rsample()
        recon = -self.decode(z).log_prob(x)
        kl_example, kl_objective = kl_terms(qz_x, self.prior(), z, ctx.free_bits)
        tc = FactorDiscriminator.log_ratio(self.frozen_discriminator_logits(z)).mean()
        ctx.cache[Z_CACHE_KEY] = z.detach()  # the discriminator's real samples, this step
        return {
            "loss": recon.mean() + ctx.kl_weight * kl_objective + self.config.gamma * tc,
            "elbo": -(recon + kl_example).mean(),
            "recon": recon.mean(),
            "kl": kl_example.mean(),
            "tc": tc,
        }

    def discriminator_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """Cross-entropy of D on the VAE pass's z (class 0) and its permutation (class 1)."""
        z = ctx.cache.get(Z_CACHE_KEY)
        if z is None:  # called on its own (no VAE pass this step): encode the batch here
            with torch.no_grad():
                z = self.encode(x).sample()
        z_perm = permute_dims(z)
        logits = self.discriminator(torch.cat([z, z_perm]))
        labels = torch.cat([torch.zeros(len(z), dtype=torch.long, device=z.device),
                            torch.ones(len(z_perm), dtype=torch.long, device=z.device)])
        # Equal batches of both classes: the mean is 0.5 * (CE_real + CE_permuted), as in the
        # paper's discriminator objective.
        disc_loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(-1) == labels).float().mean()
        tc = FactorDiscriminator.log_ratio(logits[: len(z)]).mean().detach()
        return {"loss": disc_loss, "disc_loss": disc_loss.detach(), "disc_accuracy": accuracy,
                "tc": tc}
