"""VAE with a planar/radial normalising-flow posterior (pythae's VAE_LinNF).

Rezende & Mohamed (2015), "Variational Inference with Normalizing Flows", ICML, section 4.2 and
eq. 15 (the flow-based free energy): a sample of the diagonal Gaussian q_0(z_0|x) is pushed through
a chain of flows f_K o ... o f_1 and the negative ELBO is the Monte-Carlo estimate

    loss = -log p(x|z_K) + log q_0(z_0|x) - sum_k log|det df_k/dz_{k-1}| - log p(z_K)

whose last three terms estimate KL(q_K(z|x) || p(z)) (no closed form: it is estimated with the
same sample). ``kl_weight`` (warm-up schedules) weights that KL estimate; ``free_bits`` floors
its batch mean (the posterior does not factorise over dimensions).

``flows`` lists the chain, each ``"planar"`` or ``"radial"`` (:mod:`vaekit.distributions.flows`,
with the paper's invertibility constraints). Default ``["planar", "planar"]``: pythae's
VAE_LinNF default (the paper's MNIST experiments use longer chains, K up to 80). As in pythae,
the flow parameters are global learned parameters, not predicted per example by the encoder.

Representation and evaluation: ``encode(x)`` returns the base q_0(z_0|x) (a diagonal Gaussian,
so latent statistics and traversals see z_0); ``posterior(x)`` returns the flow posterior
q_K(z|x) (:class:`~vaekit.distributions.flows.FlowPosterior`). ``log_importance_weights`` and
``elbo_terms`` use q_K, so the likelihood evaluation scores the flow posterior's density;
``reconstruct`` decodes the flow applied to q_0's mean.

:class:`NormalizingFlowVAE` holds what every flow-posterior VAE shares (``vae_iaf`` builds on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from vaekit.config import check
from vaekit.distributions.flows import FlowPosterior, PlanarFlow, RadialFlow
from vaekit.distributions.sampling import sample_posterior
from vaekit.losses.elbo import elbo_loss
from vaekit.losses.iwae import log_importance_weights
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS

LINEAR_FLOWS = {"planar": PlanarFlow, "radial": RadialFlow}


class NormalizingFlowVAE(BaseVAE):
    """A VAE whose posterior is q_0(z_0|x) pushed through ``self.flows`` (unregistered base).

    Subclasses build ``self.flows`` (an ``nn.ModuleList``) and may override ``context`` to pass
    encoder features to the flows (IAF's h).
    """

    flows: nn.ModuleList

    def base_and_context(self, x: torch.Tensor
                         ) -> tuple[torch.distributions.Distribution, torch.Tensor | None]:
        """(q_0(z_0|x), the flows' context or None) from one encoder pass."""
        return self.posterior_head(self.encoder(x)), None

    def encode(self, x: torch.Tensor) -> torch.distributions.Distribution:
        """The base density q_0(z_0|x) (diagonal Gaussian); the posterior is ``posterior(x)``."""
        return self.base_and_context(x)[0]

    def posterior(self, x: torch.Tensor) -> FlowPosterior:
        """q_K(z|x): q_0(z_0|x) pushed through the flows."""
        base, context = self.base_and_context(x)
        return FlowPosterior(base, self.flows, context)

    # ---------------------------------------------------------------------------- training
    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.posterior(x)
        z = qz_x.rsample()
        # kl() has no closed form for a flow posterior and falls back on the single-sample
        # estimate log q_K(z|x) - log p(z) at this z (q_K's log_prob knows its own last sample).
        return elbo_loss(x, qz_x, self.prior(), self.decode(z), z,
                         kl_weight=ctx.kl_weight, free_bits=ctx.free_bits)

    # ---------------------------------------------------------------------- evaluation hooks
    def flow_samples(self, x: torch.Tensor, num_samples: int,
                     generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z_K (S, B, D), log q_K(z_K|x) (S, B))``; reproducible with ``generator``."""
        qz_x = self.posterior(x)
        return qz_x.transform(sample_posterior(qz_x.base, num_samples, generator))

    def log_importance_weights(
        self, x: torch.Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """log w_k = log p(x|z_k) + log p(z_k) - log q_K(z_k|x) for z_k ~ q_K(z|x)."""
        z, log_qz_x = self.flow_samples(x, num_samples, generator)
        return log_importance_weights(self.decode(z).log_prob(x), self.prior().log_prob(z),
                                      log_qz_x)

    def elbo_terms(
        self, x: torch.Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, KL(q_K || p)) per example, both ``num_samples``-draw averages."""
        z, log_qz_x = self.flow_samples(x, num_samples, generator)
        recon = -self.decode(z).log_prob(x).mean(0)
        return recon, (log_qz_x - self.prior().log_prob(z)).mean(0)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z) at z = the flows applied to the mean of q_0(z_0|x)."""
        qz_x = self.posterior(x)
        z, _ = qz_x.transform(qz_x.base.mean)
        return self.likelihood.mean_image(self.decode(z))


@dataclass
class VAELinNFConfig(VAEConfig):
    config_type: ClassVar[str] = "vae_linnf"

    flows: list[str] = field(default_factory=lambda: ["planar", "planar"])

    def __post_init__(self) -> None:
        super().__post_init__()
        self.flows = [str(name).lower() for name in self.flows]
        for i, name in enumerate(self.flows):
            check(name in LINEAR_FLOWS,
                  f"model.flows[{i}] must be one of {sorted(LINEAR_FLOWS)}, got {name!r}")


@MODELS.register("vae_linnf")
class VAELinNF(NormalizingFlowVAE):
    """Planar/radial flow posterior; negative ELBO of Rezende & Mohamed (2015), eq. 15."""

    config_class: ClassVar[type] = VAELinNFConfig

    def __init__(self, config: VAELinNFConfig) -> None:
        super().__init__(config)
        self.flows = nn.ModuleList(LINEAR_FLOWS[name](config.latent_dim)
                                   for name in config.flows)
