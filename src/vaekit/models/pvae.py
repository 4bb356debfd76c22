"""Poincaré-ball VAE (P-VAE).

Mathieu, Le Lan, Maddison, Tomioka & Teh (2019), "Continuous Hierarchical Representations with
Poincaré Variational Auto-Encoders", NeurIPS. The latent space is the Poincaré ball of curvature
``-c`` in ``latent_dim`` dimensions; posterior and prior are wrapped normals
(:mod:`vaekit.distributions.poincare`)::

    q(z|x) = N^W(z | exp_0(e_mu(x)), diag(sigma(x)^2))      p(z) = N^W(z | 0, prior_scale^2 I)

The encoder's mean output is mapped onto the ball with the exponential map at the origin and
``sigma = softplus(.) + 1e-4`` (the authors' ``EncWrapped``, github.com/emilemathieu/pvae,
``models/architectures.py``). The decoder is fed the log map at the origin of z, the authors'
``DecWrapped`` (their gyroplane decoder ``DecGeo`` is not implemented); any input to
``decode`` is first projected into the ball, so the decoder is defined on all of R^D. The KL
term has no closed form and is the single-sample Monte-Carlo estimate ``log q(z|x) - log p(z)``
(the K = 1 ELBO); both densities are with respect to the Riemannian volume, which
cancels in the difference.

Defaults from the authors' code (``main.py``): curvature ``c = 1`` and a unit prior scale (their
MNIST runs sweep c in {0.1, 0.2, 0.7, 1.4}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch.distributions import Distribution

from vaekit.config import check
from vaekit.distributions.poincare import PoincareBall, WrappedNormal
from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS

_MIN_SCALE = 1e-4


@dataclass
class PVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "pvae"

    curvature: float = 1.0  # c: the ball has sectional curvature -c
    prior_scale: float = 1.0  # sigma of the wrapped-normal prior at the origin

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.curvature > 0, f"model.curvature must be positive, got {self.curvature}")
        check(self.prior_scale > 0, f"model.prior_scale must be positive, got {self.prior_scale}")
        check(self.prior == "standard_normal",
              "model.prior: the pvae prior is the wrapped normal at the origin of the ball "
              f"(set model.prior_scale); leave model.prior unset (got '{self.prior}')")


@MODELS.register("pvae")
class PVAE(BaseVAE):
    """Maximises ``E_q[log p(x|z) + log p(z) - log q(z|x)]`` on the Poincaré ball."""

    config_class: ClassVar[type] = PVAEConfig

    def __init__(self, config: PVAEConfig) -> None:
        super().__init__(config)
        self.ball = PoincareBall(config.curvature)

    def encode(self, x: torch.Tensor) -> WrappedNormal:
        """q(z|x), batch shape ``(B,)``, event shape ``(D,)``; ``.mean`` is the location."""
        tangent_mean, pre_scale = self.encoder(x).chunk(2, dim=-1)
        loc = self.ball.expmap0(tangent_mean)
        return WrappedNormal(loc, F.softplus(pre_scale) + _MIN_SCALE, self.ball)

    def prior(self) -> WrappedNormal:
        ref = next(self.parameters())
        zeros = torch.zeros(self.latent_dim, device=ref.device, dtype=ref.dtype)
        return WrappedNormal(zeros, torch.full_like(zeros, self.config.prior_scale), self.ball)

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x|z) from the decoder applied to ``log_0(z)`` (z projected into the ball)."""
        return super().decode(self.ball.logmap0(self.ball.project(z)))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        pz = self.prior()
        device = generator.device if generator is not None else pz.loc.device
        eps = torch.randn((n, self.latent_dim), generator=generator, device=device,
                          dtype=pz.loc.dtype)
        return pz.from_noise(eps.to(pz.loc.device))

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z = qz_x.rsample()
        terms = elbo_loss(x, qz_x, self.prior(), self.decode(z), z, kl_weight=ctx.kl_weight,
                          free_bits=ctx.free_bits)
        # How far into the ball the codes sit (hierarchies use the distance from the origin).
        terms["radius"] = self.ball.dist(torch.zeros_like(z), z).detach().mean()
        return terms
