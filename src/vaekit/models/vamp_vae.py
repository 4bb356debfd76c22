"""VAE with a VampPrior.

Tomczak & Welling (2018), "VAE with a VampPrior", AISTATS, sec. 3: the prior is the variational
mixture of posteriors

    p(z) = (1/K) sum_k q(z | u_k)

at K learned *pseudo-inputs* u_k in data space, encoded by the model's own encoder, so the prior
follows the aggregate posterior as both are trained. There is no analytic KL between the Gaussian
q(z|x) and this mixture: the loss uses the single-sample Monte-Carlo estimate
``log q(z|x) - log p(z)`` at the reparameterised z (as the authors' code does,
jmtomczak/vae_vampprior, models/VAE.py), through which the pseudo-inputs and the encoder also
learn from the prior term.

``prior()`` is a torch ``MixtureSameFamily`` (uniform ``Categorical`` over K diagonal Gaussians),
so every generic tool works through the base class: ``log_importance_weights`` and
``elbo_terms`` (which falls back to the Monte-Carlo KL) give the IWAE bound and the NLL estimate
for this prior, and ``sample`` draws from the mixture.

Choices and their sources:

- ``num_pseudo_inputs = 500``, the paper's K for every dataset. The prior costs one encoder pass
  over the K pseudo-inputs per training step (about K / batch_size times the batch's encoder
  pass); on a CPU budget K = 50 (pythae's default) is a cheaper start.
- Pseudo-inputs are raw parameters passed through ``hardtanh(0, 1)`` (the authors' code for
  binary and grey images), so they stay in the [0, 1] range of image data; raw values are
  initialised from N(0.05, 0.01), the authors' MNIST setting. (A raw value pushed outside
  [0, 1] gets no gradient there, as in the reference.) ``pseudo_input_range = "real"`` drops the
  hardtanh for real-valued data. :meth:`VampVAE.init_pseudo_inputs` sets them to (noisy) training
  examples, the paper's alternative initialisation.
- The inherited ``prior`` config key is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Distribution, MixtureSameFamily

from vaekit.config import check
from vaekit.errors import ShapeError
from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class VampVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "vamp_vae"

    num_pseudo_inputs: int = 500  # K
    pseudo_input_range: Literal["unit", "real"] = "unit"  # hardtanh(0, 1) or unconstrained
    pseudo_input_init_mean: float = 0.05  # raw values ~ N(mean, std^2) (authors' MNIST values)
    pseudo_input_init_std: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_pseudo_inputs >= 1,
              f"model.num_pseudo_inputs must be >= 1, got {self.num_pseudo_inputs}")
        check(self.pseudo_input_init_std >= 0,
              f"model.pseudo_input_init_std must be >= 0, got {self.pseudo_input_init_std}")


@MODELS.register("vamp_vae")
class VampVAE(BaseVAE):
    """Gaussian q(z|x); prior = uniform mixture of q(z|u_k) over learned pseudo-inputs u_k."""

    config_class: ClassVar[type] = VampVAEConfig

    def __init__(self, config: VampVAEConfig) -> None:
        super().__init__(config)
        raw = torch.empty(config.num_pseudo_inputs, *config.data_shape)
        nn.init.normal_(raw, config.pseudo_input_init_mean, config.pseudo_input_init_std)
        self.pseudo_inputs_raw = nn.Parameter(raw)

    # ------------------------------------------------------------------------ the prior
    def pseudo_inputs(self) -> torch.Tensor:
        """The K pseudo-inputs ``(K, *data_shape)``, in [0, 1] unless the range is "real"."""
        if self.config.pseudo_input_range == "unit":
            return F.hardtanh(self.pseudo_inputs_raw, 0.0, 1.0)
        return self.pseudo_inputs_raw

    @torch.no_grad()
    def init_pseudo_inputs(self, x: torch.Tensor, noise_std: float = 0.01) -> None:
        """Set the pseudo-inputs to the first K examples of ``x`` plus N(0, noise_std^2) noise
        (the paper's initialisation from training data; the authors use noise std 0.01)."""
        k = self.config.num_pseudo_inputs
        if len(x) < k or tuple(x.shape[1:]) != self.data_shape:
            raise ShapeError(f"init_pseudo_inputs needs at least {k} examples of shape "
                             f"{self.data_shape}, got {tuple(x.shape)}")
        init = x[:k].to(self.pseudo_inputs_raw)
        self.pseudo_inputs_raw.copy_(init + noise_std * torch.randn_like(init))

    def prior(self) -> Distribution:
        """p(z) = (1/K) sum_k q(z | u_k) as ``MixtureSameFamily``; batch shape ``()``, event
        shape ``(D,)``; differentiable in the pseudo-inputs and the encoder."""
        components = self.encode(self.pseudo_inputs())  # batch (K,), event (D,)
        k = self.config.num_pseudo_inputs
        weights = Categorical(logits=components.mean.new_zeros(k))
        return MixtureSameFamily(weights, components)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws ``(n, D)`` from the mixture (reproducible with ``generator``): a uniform
        component, then its Gaussian."""
        pz = self.prior()
        if generator is None:
            return pz.sample((n,))
        components = pz.component_distribution
        device = generator.device
        index = torch.randint(self.config.num_pseudo_inputs, (n,), generator=generator,
                              device=device)
        eps = torch.randn((n, self.latent_dim), generator=generator, device=device)
        index, eps = index.to(components.mean.device), eps.to(components.mean)
        return components.mean[index] + components.stddev[index] * eps

    # ---------------------------------------------------------------------------- loss
    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z = qz_x.rsample()
        # No analytic KL to a mixture: elbo_loss falls back to log q(z|x) - log p(z) at z, and
        # free bits floor the total KL (the mixture does not factorise over dimensions).
        return elbo_loss(x, qz_x, self.prior(), self.decode(z), z, kl_weight=ctx.kl_weight,
                         free_bits=ctx.free_bits)
