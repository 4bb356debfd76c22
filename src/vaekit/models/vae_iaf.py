"""VAE with an inverse autoregressive flow posterior (IAF).

Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling (2016), "Improved Variational Inference
with Inverse Autoregressive Flow", NeurIPS, section 4 and Algorithm 1. The encoder outputs the
mean and scale of q_0(z_0|x) and a context vector h; ``num_steps`` gated IAF steps
(:class:`~vaekit.distributions.flows.IAFStep`: a MADE reading z and h, then
``z = sigmoid(s) * z + (1 - sigmoid(s)) * m``), with the order of the latent dimensions reversed
between steps (and back at the end, so z_T is in z_0's order), turn z_0 into z_T. The loss is
the Monte-Carlo negative ELBO

    loss = -log p(x|z_T) + log q_0(z_0|x) - sum_t sum_i log sigmoid(s_t,i) - log p(z_T)

and, as in :mod:`vaekit.models.vae_linnf` (whose :class:`NormalizingFlowVAE` this model shares),
``encode(x)`` is the base q_0, ``posterior(x)`` the flow posterior, and the likelihood
evaluation uses the flow posterior's density.

Defaults and their sources:

- ``num_steps = 2`` IAF steps, each a MADE with hidden layers ``[128, 128, 128]`` (ELU):
  pythae's VAE_IAF defaults (n_made_blocks = 2, n_hidden_in_made = 3, hidden_size = 128).
- ``context_dim = 16``: the size of h is vaekit's choice (pythae's IAF has no context; the
  paper's h is an extra encoder output whose size depends on the architecture).
- ``gate_bias = 1.0``: the paper initialises s to be "sufficiently positive, such as close to
  +1 or +2" so that each step starts close to the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from vaekit.config import check
from vaekit.distributions.flows import IAFStep, ReverseFlow
from vaekit.models.base import VAEConfig
from vaekit.models.vae_linnf import NormalizingFlowVAE
from vaekit.registry import MODELS


@dataclass
class VAEIAFConfig(VAEConfig):
    config_type: ClassVar[str] = "vae_iaf"

    num_steps: int = 2  # IAF steps T
    made_hidden: list[int] = field(default_factory=lambda: [128, 128, 128])
    context_dim: int = 16  # size of the encoder's context h (0: no context)
    gate_bias: float = 1.0  # added to s so that sigmoid(s) starts near 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_steps >= 1, f"model.num_steps must be >= 1, got {self.num_steps}")
        self.made_hidden = [int(n) for n in self.made_hidden]
        check(len(self.made_hidden) >= 1 and all(n > 0 for n in self.made_hidden),
              f"model.made_hidden must be a non-empty list of positive sizes, got "
              f"{self.made_hidden}")
        check(self.context_dim >= 0,
              f"model.context_dim must be >= 0, got {self.context_dim}")


@MODELS.register("vae_iaf")
class VAEIAF(NormalizingFlowVAE):
    """Gated IAF posterior with an encoder context h (Kingma et al. 2016, Algorithm 1)."""

    config_class: ClassVar[type] = VAEIAFConfig

    def __init__(self, config: VAEIAFConfig) -> None:
        super().__init__(config)
        flows: list[nn.Module] = []
        for step in range(config.num_steps):
            if step:  # reversing between steps lets every dimension condition on all others
                flows.append(ReverseFlow())
            flows.append(IAFStep(config.latent_dim, config.made_hidden, config.context_dim,
                                 config.gate_bias))
        if config.num_steps % 2 == 0:
            # An odd number of reversals so far: undo it, so that z_T is in z_0's order and the
            # decoder's inputs line up with q_0's dimensions (traversals decode q_0's mean).
            flows.append(ReverseFlow())
        self.flows = nn.ModuleList(flows)

    def encoder_features(self) -> int:
        return 2 * self.config.latent_dim + self.config.context_dim

    def base_and_context(self, x: torch.Tensor
                         ) -> tuple[torch.distributions.Distribution, torch.Tensor | None]:
        features = self.encoder(x)
        gaussian, context = features.split(
            [2 * self.config.latent_dim, self.config.context_dim], dim=-1)
        return self.posterior_head(gaussian), (context if self.config.context_dim else None)
