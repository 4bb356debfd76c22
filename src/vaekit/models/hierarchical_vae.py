"""Hierarchical VAE with top-down inference and residual cells.

A stack of latent groups z_1 (top) ... z_G (bottom) in the family of

- Sønderby et al. (2016), "Ladder Variational Autoencoders", NeurIPS: inference shares the
  top-down path of the generative model, combining it with bottom-up features of x;
- Vahdat & Kautz (2020), "NVAE: A Deep Hierarchical Variational Autoencoder", NeurIPS: residual
  cells, the residual-normal posterior (q is parameterised relative to the prior of the same
  group), KL warm-up and KL balancing across groups (``vaekit.losses.hierarchical``);
- Child (2021), "Very Deep VAEs Generalize Autoregressive Models and Can Outperform Them on
  Images", ICLR: skipping updates whose gradient norm explodes (``train.skip_grad_norm``) and
  near-identity initialisation of residual branches.

Generative model, with a top-down state s (a learned vector at the top)::

    z_1 ~ N(0, I)
    z_g ~ p(z_g | z_<g) = N(mu_p(s_g), sigma_p(s_g)),   s_g = cell(s_{g-1} + W z_{g-1})
    x   ~ p(x | s_G)

Inference: bottom-up features d_g = cells(x) at the depth of each group, and
``q(z_g | x, z_<g) = N(mu_p + dmu, sigma_p * dsigma)`` with (dmu, dsigma) from [s_g, d_g].

The cells here are fully connected (vectors, any data shape flattened): on a CPU they train
many more epochs per hour than convolutional cells on 28x28 images. Posterior collapse is
monitored per group: the training loss logs each group's KL (``kl_g{i}``) and the fraction of
its dimensions that are active in the batch (``active_g{i}``, Burda et al. 2016).

Generic tools see the top group: ``encode(x)`` is q(z_1 | x), ``prior()`` is p(z_1),
``decode(z_1)`` fills the lower groups with their prior means, and ``latent_dim`` is the top
group's size. Likelihood evaluation (ELBO, IWAE bound) uses every group through
``log_importance_weights`` and ``elbo_terms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.config import check
from vaekit.errors import ShapeError
from vaekit.losses.hierarchical import hierarchical_elbo_loss
from vaekit.models.base import BaseVAE, LossContext, _call_with_options
from vaekit.nn.base import numel
from vaekit.nn.residual_mlp import residual_stack
from vaekit.registry import LIKELIHOODS, MODELS

# softplus(_UNIT) == 1: raw scale outputs of 0 give a unit scale (q equals p at initialisation).
_UNIT = math.log(math.e - 1.0)
_MIN_STD = 1e-4
_ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016): Cov_x(E_q[z_d]) > 0.01 marks an active unit


@dataclass
class HierarchicalVAEConfig:
    """``group_dims`` lists the latent groups' sizes, top group first."""

    config_type: ClassVar[str] = "hierarchical_vae"

    group_dims: tuple[int, ...] = (16, 32, 64)
    hidden_dim: int = 512
    blocks_per_group: int = 1  # residual cells per group, in each direction
    activation: str = "gelu"
    kl_balancing: bool = True  # NVAE's per-group KL weights during warm-up
    likelihood: str = "bernoulli"
    likelihood_options: dict[str, Any] = field(default_factory=dict)
    data_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.group_dims = tuple(int(d) for d in self.group_dims)
        check(len(self.group_dims) >= 1 and all(d > 0 for d in self.group_dims),
              f"model.group_dims must be positive sizes, got {self.group_dims}")
        check(self.hidden_dim > 0, f"model.hidden_dim must be positive, got {self.hidden_dim}")
        check(self.blocks_per_group >= 0, "model.blocks_per_group must be >= 0")
        if self.data_shape is not None:
            self.data_shape = tuple(int(s) for s in self.data_shape)


class GroupDraw(NamedTuple):
    """One latent group in a top-down pass: prior and posterior parameters and the draw."""

    prior_mu: torch.Tensor
    prior_std: torch.Tensor
    post_mu: torch.Tensor | None  # None when the pass samples the prior
    post_std: torch.Tensor | None
    z: torch.Tensor


def _gaussian(mu: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mu, std), 1)


def _draw(mu: torch.Tensor, std: torch.Tensor, mode: str,
          generator: torch.Generator | None, temperature: float = 1.0) -> torch.Tensor:
    if mode == "mean":
        return mu
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype,
                      device=mu.device if generator is None else generator.device)
    return mu + temperature * std * eps.to(mu.device)


@MODELS.register("hierarchical_vae")
class HierarchicalVAE(BaseVAE):
    """Top-down hierarchical VAE; see the module docstring for the model and references."""

    config_class: ClassVar[type] = HierarchicalVAEConfig

    def __init__(self, config: HierarchicalVAEConfig) -> None:
        nn.Module.__init__(self)  # BaseVAE's single-group encoder/decoder are not used
        if config.data_shape is None:
            raise ShapeError("model.data_shape is not set: build the model from a dataset "
                             "(vaekit.train) or pass data_shape=(C, H, W) in the config")
        self.config = config
        width, dims, blocks = config.hidden_dim, config.group_dims, config.blocks_per_group
        self.likelihood = _call_with_options(
            LIKELIHOODS.get(config.likelihood), "likelihood", config.likelihood,
            config.data_shape, **config.likelihood_options)
        self.out_shape = (self.likelihood.params_per_channel * config.data_shape[0],
                          *config.data_shape[1:])
        stack = lambda: residual_stack(width, blocks, config.activation)  # noqa: E731
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(numel(config.data_shape), width))
        self.bottom_up = nn.ModuleList(stack() for _ in dims)  # index g: the cells below d_g
        self.top_state = nn.Parameter(torch.randn(width))
        self.top_down = nn.ModuleList(stack() for _ in dims)
        # The top group's prior is N(0, I); the others' come from the top-down state.
        self.prior_heads = nn.ModuleList(nn.Linear(width, 2 * d) for d in dims[1:])
        self.posterior_heads = nn.ModuleList(nn.Linear(2 * width, 2 * d) for d in dims)
        self.z_projections = nn.ModuleList(nn.Linear(d, width) for d in dims)
        self.output = nn.Sequential(stack(), nn.GELU(), nn.Linear(width, numel(self.out_shape)))
        with torch.no_grad():  # start with q and p close to N(0, I) in every group
            for head in (*self.prior_heads, *self.posterior_heads):
                head.weight.mul_(0.1)
                head.bias.zero_()

    # ------------------------------------------------------------------- sizes and pieces
    @property
    def latent_dim(self) -> int:
        return self.config.group_dims[0]

    @property
    def group_dims(self) -> tuple[int, ...]:
        return self.config.group_dims

    def prior(self) -> Distribution:
        zeros = self.top_state.new_zeros(self.latent_dim)
        return _gaussian(zeros, torch.ones_like(zeros))

    def _bottom_up(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features d_g ``(B, width)`` for every group g (index 0 = top = deepest)."""
        h = self.stem(x)
        features: list[torch.Tensor] = [h] * len(self.group_dims)
        for g in reversed(range(len(self.group_dims))):
            h = self.bottom_up[g](h)
            features[g] = h
        return features

    def _prior_params(self, g: int, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if g == 0:
            zeros = state.new_zeros(len(state), self.group_dims[0])
            return zeros, torch.ones_like(zeros)
        mu, raw = self.prior_heads[g - 1](state).chunk(2, dim=-1)
        return mu, F.softplus(raw + _UNIT) + _MIN_STD

    def _top_down(self, n: int, features: list[torch.Tensor] | None = None, *, mode: str = "sample",
                  generator: torch.Generator | None = None, temperature: float = 1.0,
                  z_top: torch.Tensor | None = None) -> tuple[torch.Tensor, list[GroupDraw]]:
        """Walk the groups top-down; returns the final state ``(n, width)`` and each group.

        With ``features`` (from ``_bottom_up``) z_g is drawn from the posterior, otherwise from
        the prior (scaled by ``temperature``); ``mode="mean"`` takes means instead of draws.
        ``z_top`` fixes the top group (for ``decode``).
        """
        state = self.top_state.expand(n, -1)
        draws: list[GroupDraw] = []
        for g in range(len(self.group_dims)):
            state = self.top_down[g](state)
            prior_mu, prior_std = self._prior_params(g, state)
            post_mu = post_std = None
            if features is not None:
                delta_mu, raw = self.posterior_heads[g](
                    torch.cat([state, features[g]], dim=-1)).chunk(2, dim=-1)
                post_mu = prior_mu + delta_mu  # NVAE's residual normal
                post_std = prior_std * F.softplus(raw + _UNIT) + _MIN_STD
                z = _draw(post_mu, post_std, mode, generator)
            else:
                z = _draw(prior_mu, prior_std, mode, generator, temperature)
            if g == 0 and z_top is not None:
                z = z_top
            draws.append(GroupDraw(prior_mu, prior_std, post_mu, post_std, z))
            state = state + self.z_projections[g](z)
        return state, draws

    def _likelihood(self, state: torch.Tensor) -> Distribution:
        return self.likelihood(self.output(state).view(len(state), *self.out_shape))

    # -------------------------------------------------------------- probabilistic interface
    def encode(self, x: torch.Tensor) -> Distribution:
        """q(z_1 | x) of the top group, batch shape ``(B,)``."""
        features = self._bottom_up(x)
        state = self.top_down[0](self.top_state.expand(len(x), -1))
        delta_mu, raw = self.posterior_heads[0](torch.cat([state, features[0]], -1)).chunk(2, -1)
        return _gaussian(delta_mu, F.softplus(raw + _UNIT) + _MIN_STD)

    def decode(self, z: torch.Tensor) -> Distribution:
        """p(x | z_1, lower groups at their conditional prior means) for ``z`` ``(..., D_1)``."""
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        state, _ = self._top_down(len(flat), mode="mean", z_top=flat)
        params = self.output(state)
        return self.likelihood(params.view(*lead, *self.out_shape))

    def _kl_groups(self, draws: list[GroupDraw]) -> torch.Tensor:
        """Analytic KL(q(z_g|x,z_<g) || p(z_g|z_<g)) per example and group, ``(B, G)``."""
        return torch.stack([
            torch.distributions.kl_divergence(_gaussian(d.post_mu, d.post_std),
                                              _gaussian(d.prior_mu, d.prior_std))
            for d in draws], dim=1)

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        state, draws = self._top_down(len(x), self._bottom_up(x))
        recon = -self._likelihood(state).log_prob(x)
        terms = hierarchical_elbo_loss(recon, self._kl_groups(draws), self.group_dims,
                                       kl_weight=ctx.kl_weight, free_bits=ctx.free_bits,
                                       balance=self.config.kl_balancing)
        if len(x) > 1:
            for g, d in enumerate(draws):
                activity = d.post_mu.detach().var(0)
                terms[f"active_g{g}"] = (activity > _ACTIVE_THRESHOLD).float().mean()
        return terms

    # -------------------------------------------------------------------- evaluation hooks
    def _repeated_pass(self, x: torch.Tensor, num_samples: int,
                       generator: torch.Generator | None):
        features = [f.repeat(num_samples, 1) for f in self._bottom_up(x)]  # (K*B, width)
        state, draws = self._top_down(len(x) * num_samples, features, generator=generator)
        x_rep = x.repeat(num_samples, *([1] * (x.dim() - 1)))
        log_px = self._likelihood(state).log_prob(x_rep)  # (K*B,)
        return log_px, draws

    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """``log p(x|z) + sum_g [log p(z_g|z_<g) - log q(z_g|x,z_<g)]``, shape ``(K, B)``."""
        log_px, draws = self._repeated_pass(x, num_samples, generator)
        log_w = log_px
        for d in draws:
            log_w = log_w + _gaussian(d.prior_mu, d.prior_std).log_prob(d.z) \
                - _gaussian(d.post_mu, d.post_std).log_prob(d.z)
        return log_w.view(num_samples, len(x))

    def elbo_terms(self, x: torch.Tensor, num_samples: int = 1,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(``-E_q log p(x|z)``, total KL) per example; each group's KL is analytic given the
        groups above it, averaged over ``num_samples`` draws of those."""
        log_px, draws = self._repeated_pass(x, num_samples, generator)
        kl_example = self._kl_groups(draws).sum(1)
        return (-log_px.view(num_samples, len(x)).mean(0),
                kl_example.view(num_samples, len(x)).mean(0))

    @torch.no_grad()
    def kl_per_group(self, x: torch.Tensor) -> torch.Tensor:
        """KL of each group per example ``(B, G)`` for one posterior draw (collapse check)."""
        _, draws = self._top_down(len(x), self._bottom_up(x))
        return self._kl_groups(draws)

    # ---------------------------------------------------------------------------- utilities
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z) with every group at its posterior mean."""
        state, _ = self._top_down(len(x), self._bottom_up(x), mode="mean")
        return self.likelihood.mean_image(self._likelihood(state))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Means of p(x|z) for ancestral draws of every group (prior std times
        ``temperature``; NVAE and VDVAE show samples at temperatures below 1)."""
        state, _ = self._top_down(n, generator=generator, temperature=temperature)
        return self.likelihood.mean_image(self._likelihood(state))
