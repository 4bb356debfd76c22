"""Hyperspherical VAE (S-VAE).

Davidson, Falorsi, De Cao, Kipf & Tomczak (2018), "Hyperspherical Variational Auto-Encoders",
UAI. The latent space is the unit sphere S^{D-1} in R^D (``latent_dim = D``): the posterior is a
von Mises-Fisher ``q(z|x) = vMF(mu(x), kappa(x))`` and the prior the uniform distribution on the
sphere, so the KL term is analytic (paper Appendix; :mod:`vaekit.distributions.von_mises_fisher`)
and only the reconstruction term is sampled, with Wood's rejection sampler reparameterised as in
the paper (its reparameterisation section, after Naesseth et al. 2017).

As in the authors' code (github.com/nicola-decao/s-vae-pytorch, ``examples/mnist.py``) the
encoder emits D + 1 features: the mean direction is the first D normalised to unit length, the
concentration ``kappa = softplus(last) + 1`` (the +1 keeps the posterior away from the uniform
limit, where the mean direction's gradient vanishes). The decoder takes z in R^D.

Gradient with respect to kappa: by default the reparameterisation term ``g_rep`` alone, as in
the authors' code; ``score_correction=True`` adds the score-function term ``g_cor`` of the
paper's gradient ``g_rep + g_cor`` (Naesseth et al. 2017), which makes the gradient of the
reconstruction term unbiased at the price of more variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from vaekit.config import check
from vaekit.distributions.von_mises_fisher import HypersphericalUniform, VonMisesFisher
from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class SVAEConfig(VAEConfig):
    """``latent_dim`` is the ambient dimension D of the sphere S^{D-1} (at least 2)."""

    config_type: ClassVar[str] = "svae"

    score_correction: bool = False  # add g_cor to g_rep; the authors' code omits it

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.latent_dim >= 2,
              f"model.latent_dim must be >= 2 for a sphere S^(D-1), got {self.latent_dim}")
        check(self.prior == "standard_normal",
              "model.prior: the svae prior is the uniform distribution on the sphere; leave "
              f"model.prior unset (got '{self.prior}')")


@MODELS.register("svae")
class SVAE(BaseVAE):
    """Maximises ``E_vMF[log p(x|z)] - KL(vMF(mu, kappa) || U(S^{D-1}))``."""

    config_class: ClassVar[type] = SVAEConfig

    def encoder_features(self) -> int:
        return self.config.latent_dim + 1

    def encode(self, x: torch.Tensor) -> VonMisesFisher:
        """q(z|x) = vMF(mu, kappa), batch shape ``(B,)``, event shape ``(D,)``."""
        features = self.encoder(x)
        loc = F.normalize(features[..., :-1], dim=-1)
        kappa = F.softplus(features[..., -1]) + 1.0
        return VonMisesFisher(loc, kappa)

    def prior(self) -> HypersphericalUniform:
        ref = next(self.parameters())
        return HypersphericalUniform(self.latent_dim, device=ref.device, dtype=ref.dtype)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.prior().sample((n,), generator=generator)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z = qz_x.rsample()
        px_z = self.decode(z)
        terms = elbo_loss(x, qz_x, self.prior(), px_z, z, kl_weight=ctx.kl_weight,
                          free_bits=ctx.free_bits)
        if self.config.score_correction and torch.is_grad_enabled():
            terms["loss"] = terms["loss"] + _score_correction(qz_x, z, -px_z.log_prob(x))
        terms["kappa"] = qz_x.concentration.detach().mean()
        return terms

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z = mu(x)): the mode of q(z|x) (its mean lies inside the ball)."""
        return self.likelihood.mean_image(self.decode(self.encode(x).mode))


def _score_correction(qz_x: VonMisesFisher, z: torch.Tensor, recon: torch.Tensor
                      ) -> torch.Tensor:
    """Zero-valued surrogate whose gradient is g_cor for the loss ``E[recon]``."""
    log_ratio = qz_x.rejection_log_ratio(z)
    return (recon.detach() * (log_ratio - log_ratio.detach())).mean()
