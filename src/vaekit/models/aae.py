"""Adversarial autoencoder (AAE).

Makhzani, Shlens, Jaitly, Goodfellow & Frey (2016), "Adversarial Autoencoders", ICLR workshop,
sec. 2: an autoencoder whose aggregate posterior q(z) is matched to the prior p(z) by a GAN in
latent space. Each training step has two phases, here two optimiser groups stepped in order::

    model:         -log p(x|z) + adversarial_weight * (-log D(z)),   z = E(x)
    discriminator: -log D(z_p) - log(1 - D(z)),   z_p ~ p(z) ("real"), z the batch's codes

The encoder is the GAN's generator. Its adversarial loss is the usual non-saturating one
(``-log D(z)`` rather than ``log(1 - D(z))``, Goodfellow et al. 2014, sec. 3), and it reaches the
encoder through a copy of D with detached parameters, so the model group never leaves gradients
on the discriminator. The model group leaves its detached codes in ``ctx.cache`` for the
discriminator group, so one encoder pass serves both. ``disc_accuracy`` (discriminator group) is
the fraction of prior draws and codes it classifies correctly: near 0.5 when q(z) matches p(z).

Choices and their sources:

- ``posterior = "deterministic"``, the first of the three posteriors the paper discusses
  (sec. 2.1: deterministic, Gaussian, "universal approximator"; as we read it, the one its
  experiments mostly use). ``"gaussian"`` trains with a reparameterised draw from a Gaussian
  q(z|x) instead, pythae's default.
- Discriminator: two hidden layers of 1000 ReLU units (the paper's MNIST networks), one logit.
  Both groups use the trainer's Adam settings unless ``discriminator_lr`` /
  ``discriminator_betas`` are set (the paper used SGD with momentum).
- ``adversarial_weight = 1``: the paper alternates a reconstruction and a regularisation phase of
  equal standing, which one summed loss with weight 1 approximates (pythae uses 0.5).

Samples from the prior decode to plausible images once q(z) matches p(z); reconstructions,
``encode`` and ``sample`` behave as for :class:`~vaekit.models.autoencoder.Autoencoder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution
from torch.func import functional_call

from vaekit.config import check, check_betas
from vaekit.models.autoencoder import Autoencoder, AutoencoderConfig
from vaekit.models.base import LossContext, discriminator_adam_options
from vaekit.registry import MODELS

DISCRIMINATOR = "discriminator"
Z_CACHE_KEY = "aae.z"  # ctx.cache entry: the model pass's detached codes, for the discriminator


@dataclass
class AAEConfig(AutoencoderConfig):
    config_type: ClassVar[str] = "aae"

    posterior: Literal["deterministic", "gaussian"] = "deterministic"
    adversarial_weight: float = 1.0
    discriminator_hidden: int = 1000
    discriminator_layers: int = 2
    discriminator_lr: float | None = None  # None: the trainer's train.lr
    discriminator_betas: tuple[float, float] | None = None  # None: the trainer's train.betas

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.adversarial_weight >= 0,
              f"model.adversarial_weight must be >= 0, got {self.adversarial_weight}")
        check(self.discriminator_hidden > 0 and self.discriminator_layers > 0,
              "model.discriminator_hidden and model.discriminator_layers must be positive")
        check(self.discriminator_lr is None or self.discriminator_lr > 0,
              f"model.discriminator_lr must be positive (or null), got {self.discriminator_lr}")
        if self.discriminator_betas is not None:
            self.discriminator_betas = check_betas("model.discriminator_betas",
                                                   self.discriminator_betas)


def latent_discriminator(latent_dim: int, hidden: int, layers: int) -> nn.Sequential:
    """MLP ``z (B, D) -> logit (B,)`` of "z was drawn from the prior"."""
    modules: list[nn.Module] = []
    width = latent_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    modules += [nn.Linear(width, 1), nn.Flatten(0)]
    return nn.Sequential(*modules)


def discriminator_terms(logits_prior: torch.Tensor, logits_codes: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
    """Cross-entropy of D on prior draws (label 1) and codes (label 0), averaged over both
    halves, and its accuracy."""
    logits = torch.cat([logits_prior, logits_codes])
    labels = torch.cat([torch.ones_like(logits_prior), torch.zeros_like(logits_codes)])
    disc_loss = F.binary_cross_entropy_with_logits(logits, labels)
    accuracy = ((logits > 0).to(labels.dtype) == labels).to(logits.dtype).mean()
    return {"loss": disc_loss, "disc_loss": disc_loss.detach(), "disc_accuracy": accuracy}


@MODELS.register("aae")
class AAE(Autoencoder):
    """Autoencoder whose codes are pushed towards p(z) by a latent-space discriminator."""

    config_class: ClassVar[type] = AAEConfig

    def __init__(self, config: AAEConfig) -> None:
        super().__init__(config)
        self.discriminator = latent_discriminator(
            config.latent_dim, config.discriminator_hidden, config.discriminator_layers
        )

    # ---------------------------------------------------------------------- posterior
    @property
    def gaussian_posterior(self) -> bool:
        return self.config.posterior == "gaussian"

    def encoder_features(self) -> int:
        return 2 * self.config.latent_dim if self.gaussian_posterior else self.config.latent_dim

    def encode(self, x: torch.Tensor) -> Distribution:
        if self.gaussian_posterior:
            return self.posterior_head(self.encoder(x))
        return super().encode(x)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The point code: the mean of q(z|x)."""
        return self.encode(x).mean

    def training_code(self, x: torch.Tensor) -> torch.Tensor:
        """z for the training losses: the code, or a reparameterised draw of q(z|x)."""
        qz_x = self.encode(x)
        return qz_x.rsample() if self.gaussian_posterior else qz_x.mean

    # ---------------------------------------------------------------------- optimisation
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminator.parameters()}
        return {
            "model": [p for p in self.parameters() if p.requires_grad and id(p) not in disc],
            DISCRIMINATOR: [p for p in self.discriminator.parameters() if p.requires_grad],
        }

    def optimizer_options(self, group: str) -> dict[str, Any]:
        return discriminator_adam_options(self.config) if group == DISCRIMINATOR else {}

    # ---------------------------------------------------------------------------- losses
    def frozen_discriminator_logits(self, z: torch.Tensor) -> torch.Tensor:
        """D(z) with D's parameters detached: the gradient reaches z only."""
        params = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        return functional_call(self.discriminator, params, (z,))

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        if group == DISCRIMINATOR:
            return self.discriminator_loss(x, ctx)
        z = self.training_code(x)
        recon = -self.decode(z).log_prob(x)
        # Non-saturating generator loss -log D(z) = softplus(-logit).
        adversarial = F.softplus(-self.frozen_discriminator_logits(z)).mean()
        ctx.cache[Z_CACHE_KEY] = z.detach()
        return {"loss": recon.mean() + self.config.adversarial_weight * adversarial,
                "recon": recon.mean(), "adversarial": adversarial}

    def discriminator_loss(self, x: torch.Tensor, ctx: LossContext) -> dict[str, torch.Tensor]:
        """D's cross-entropy on prior draws vs the model pass's codes (or x's codes)."""
        z = ctx.cache.get(Z_CACHE_KEY)
        if z is None:  # called on its own (no model pass this step): encode the batch here
            with torch.no_grad():
                z = self.training_code(x)
        z_prior = self.prior().sample((len(z),)).to(z)
        return discriminator_terms(self.discriminator(z_prior), self.discriminator(z))
