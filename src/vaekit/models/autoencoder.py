"""Plain (deterministic) autoencoder: the baseline of the zoo.

The encoder gives a point code z = E(x); the decoder gives the configured likelihood p(x|z) and
the loss is the reconstruction NLL ``-log p(x | E(x))`` alone (nats per example). There is no
regulariser on the codes, so nothing makes the aggregate of codes look like any fixed density.

Generic tools see the same probabilistic pieces as for every other model:

- ``encode(x)`` is ``Independent(Normal(E(x), POSTERIOR_STD))``, a near point mass (std 1e-4)
  so samplers, latent traversals and ``reconstruct`` work unchanged (its mean is the code);
- ``prior()`` is the configured prior (standard normal by default) so ``sample`` works.

Prior samples of a plain autoencoder are poor: the codes of the data occupy some region of
latent space of their own choosing, and N(0, I) draws mostly land elsewhere. That is the point
of ex-post density estimation: fit a density to the codes after training and decode its samples
(:class:`vaekit.samplers.GaussianMixtureSampler`; Ghosh et al. 2020, sec. 4). Likewise the
importance-sampled "likelihood" of this model (``log_importance_weights`` with this posterior and
the N(0, I) prior) is a valid but very loose lower bound on ``log p(x)`` of a generative model
the training never fitted; do not compare it with a VAE's.

:class:`Autoencoder` is also the base of the other deterministic models (WAE-MMD, RAE-L2,
RAE-GP and the adversarial autoencoder), which add a regulariser to :meth:`Autoencoder.loss`.
References: Hinton & Salakhutdinov (2006), "Reducing the Dimensionality of Data with Neural
Networks", Science; as a baseline in Ghosh et al. (2020), "From Variational to Deterministic
Autoencoders", ICLR, Table 1 ("AE").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.distributions import Distribution, Independent, Normal

from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS

# Standard deviation of the near point-mass posterior generic tools see (the smallest std
# DiagonalGaussianHead gives a VAE, so "deterministic" looks the same in both).
POSTERIOR_STD = 1e-4


@dataclass
class AutoencoderConfig(VAEConfig):
    """Autoencoder settings; ``prior`` is only used to draw (poor) samples."""

    config_type: ClassVar[str] = "autoencoder"


@MODELS.register("autoencoder")
class Autoencoder(BaseVAE):
    """z = E(x) (deterministic); minimises ``-log p(x | z)``."""

    config_class: ClassVar[type] = AutoencoderConfig

    # Trained without a likelihood bound: importance-sampled NLL numbers of this model (and of
    # its subclasses) are loose bounds, not comparable with a VAE's (module docstring).
    defines_likelihood: ClassVar[bool] = False

    def encoder_features(self) -> int:
        return self.config.latent_dim  # the code itself; no scale to predict

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The point code ``E(x)`` ``(B, D)``, differentiable."""
        return self.encoder(x)

    def encode(self, x: torch.Tensor) -> Distribution:
        """A near point mass at the code: ``Independent(Normal(E(x), POSTERIOR_STD), 1)``."""
        mu = self.encoder(x)
        return Independent(Normal(mu, torch.full_like(mu, POSTERIOR_STD)), 1)

    def reconstruction(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(code ``z (B, D)``, reconstruction NLL ``-log p(x|z)`` per example ``(B,)``)."""
        z = self.code(x)
        return z, -self.decode(z).log_prob(x)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        _, recon = self.reconstruction(x)
        return {"loss": recon.mean(), "recon": recon.mean()}
