"""Ex-post density estimation with a masked autoregressive flow on the latent codes.

Papamakarios, Pavlakou & Murray (2017), "Masked Autoregressive Flow for Density Estimation",
NeurIPS. One MAF layer models each dimension given the ones before it (sec. 3.1)::

    x_i = u_i exp(alpha_i) + mu_i,    mu_i = f_mu_i(x_{1:i-1}),  alpha_i = f_alpha_i(x_{1:i-1})
    u_i = (x_i - mu_i) exp(-alpha_i),  log |det du/dx| = -sum_i alpha_i

with u ~ N(0, I) and (mu, alpha) computed in one pass by a MADE (Germain et al. 2015), here
:class:`vaekit.distributions.flows.MADE`. The density p(x) = N(u; 0, I) |det du/dx| is one
parallel pass; sampling inverts the layers one dimension at a time (D passes per layer: fine for
a latent space of tens of dimensions). Layers are stacked with the variable order reversed
between them, as in the paper's experiments, so that every dimension is modelled given every
other one somewhere in the stack. The paper's batch normalisation between layers is left out:
the codes are standardised per dimension once before fitting instead (as density-estimation
data sets usually are), which is enough for a latent space of a few dimensions.

:class:`FlowSampler` fits the flow by maximum likelihood (Adam) to the posterior means E[q(z|x)]
of the training data, as Ghosh et al. (2020, sec. 4) fit their GMM, and decodes draws from it.
The fitting and decoding helpers live in :mod:`vaekit.samplers.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.config import check
from vaekit.distributions.flows import MADE
from vaekit.evaluation.likelihood import DataLike, model_device
from vaekit.samplers.base import (
    _check_count,
    decode_latents,
    encode_codes,
    seeded_init,
    standard_normal_draws,
    train_on_codes,
)

if TYPE_CHECKING:
    from vaekit.models.base import BaseVAE


# -------------------------------------------------------------------------------- the flow
class MAFLayer(nn.Module):
    """One affine autoregressive layer, ``forward: x -> (u, log|det du/dx|)`` (sec. 3.1), with
    ``(mu, alpha)`` from a MADE so that ``mu_i, alpha_i`` depend on ``x_{<i}`` only."""

    def __init__(self, dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, alpha = self.made(x)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(-1)

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        """x with ``forward(x)[0] == u``: D passes, pass i fixing x_i from the already exact
        ``x_{<i}`` (Papamakarios et al., sec. 3.1: sampling is sequential)."""
        x = torch.zeros_like(u)
        for _ in range(self.dim):
            mu, alpha = self.made(x)
            x = u * torch.exp(alpha) + mu
        return x


class MaskedAutoregressiveFlow(nn.Module):
    """A density on R^D: ``num_layers`` :class:`MAFLayer` with the order of the variables
    reversed between consecutive layers, over a standard normal base density.

    ``forward(x) -> (u, log|det du/dx|)`` (the density direction), ``inverse(u) -> x``,
    ``log_prob(x)``, ``sample(n, generator)``.
    """

    def __init__(self, dim: int, num_layers: int = 5, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        check(dim >= 1, f"the flow's dimension must be >= 1, got {dim}")
        check(num_layers >= 1, f"num_layers must be >= 1, got {num_layers}")
        check(len(hidden) >= 1 and all(int(h) >= 1 for h in hidden),
              f"hidden must list at least one positive layer size, got {list(hidden)}")
        self.dim = dim
        self.layers = nn.ModuleList(MAFLayer(dim, [int(h) for h in hidden])
                                    for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        total = x.new_zeros(x.shape[:-1])
        for k, layer in enumerate(self.layers):
            if k > 0:  # a permutation: log-det 0
                x = x.flip(-1)
            x, log_det = layer(x)
            total = total + log_det
        return x, total

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        x = u
        for k in reversed(range(len(self.layers))):
            x = self.layers[k].inverse(x)
            if k > 0:
                x = x.flip(-1)
        return x

    def base(self, like: torch.Tensor) -> Distribution:
        """The base density N(0, I) on R^D, on ``like``'s device and dtype."""
        zeros = like.new_zeros(self.dim)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x) = log N(u; 0, I) + log|det du/dx|`` ``(...)``: the change of variables."""
        u, log_det = self(x)
        return self.base(x).log_prob(u) + log_det

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        dtype = next(self.parameters()).dtype
        return self.inverse(standard_normal_draws(n, self.dim, generator, device).to(dtype))


# ------------------------------------------------------------------------------- the sampler
class FlowSampler:
    """Decode z drawn from a MAF fitted to the posterior means E[q(z|x)] of the training data.

    ``FlowSampler(model, num_layers=5, hidden=(128, 128), steps=2000, lr=1e-3, seed=0)
    .fit(train_data)`` then ``.sample(n, generator)`` -> mean images ``(n, C, H, W)``.
    The paper's UCI density estimators stack 5 (or 10) MADEs with 2 hidden layers of 100 units,
    trained with Adam and early stopping; here a fixed number of ``steps`` of minibatches of
    ``train_batch_size`` codes stands in for the early stopping. The MADE is vaekit's (ELU
    units, :class:`vaekit.distributions.flows.MADE`). The codes are standardised per
    dimension before fitting. ``seed`` fixes the initialisation and the minibatches, so the fit
    is reproducible and leaves the global RNG alone; ``batch_size`` is the decoding chunk.
    After ``fit``, ``loss_history`` holds the mean NLL (nats, standardised codes) of each step.
    """

    def __init__(
        self,
        model: BaseVAE,
        num_layers: int = 5,
        hidden: Sequence[int] = (128, 128),
        steps: int = 2000,
        lr: float = 1e-3,
        train_batch_size: int = 256,
        seed: int = 0,
        *,
        batch_size: int = 1000,
    ) -> None:
        check(steps >= 0, f"steps must be >= 0, got {steps}")
        check(lr > 0, f"lr must be positive, got {lr}")
        check(train_batch_size >= 1, f"train_batch_size must be >= 1, got {train_batch_size}")
        check(batch_size >= 1, f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.num_layers = int(num_layers)
        self.hidden = tuple(int(h) for h in hidden)
        self.steps = int(steps)
        self.lr = float(lr)
        self.train_batch_size = int(train_batch_size)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.flow: MaskedAutoregressiveFlow | None = None
        self.shift: torch.Tensor | None = None
        self.scale: torch.Tensor | None = None
        self.loss_history = torch.empty(0)

    def fit(self, dataset: DataLike, max_examples: int | None = None,
            batch_size: int = 256) -> FlowSampler:
        """Fit the flow to E[q(z|x)] of (at most ``max_examples`` of) ``dataset``."""
        means, _ = encode_codes(self.model, dataset, batch_size, max_examples)
        return self.fit_latents(means)

    def fit_latents(self, codes: torch.Tensor) -> FlowSampler:
        """Fit the flow by maximum likelihood to ``codes`` ``(N, D)``, N >= 2."""
        if codes.ndim != 2 or len(codes) < 2:
            raise ValueError(f"expected at least 2 codes of shape (N, D), got {tuple(codes.shape)}")
        device = model_device(self.model)
        codes = codes.detach().to(device=device, dtype=torch.float32)
        self.shift = codes.mean(0)
        std = codes.std(0)
        # A constant dimension (a collapsed unit's mean) is left unscaled rather than divided by 0.
        self.scale = torch.where(std > 1e-12, std, torch.ones_like(std))
        standardised = (codes - self.shift) / self.scale
        with seeded_init(self.seed):
            flow = MaskedAutoregressiveFlow(codes.shape[1], self.num_layers, self.hidden)
        flow = flow.to(device)
        generator = torch.Generator(device=device).manual_seed(self.seed)
        self.loss_history = train_on_codes(
            flow, lambda index: -flow.log_prob(standardised[index]).mean(),
            len(codes), steps=self.steps, batch_size=self.train_batch_size, lr=self.lr,
            generator=generator)
        self.flow = flow
        return self

    def _fitted(self) -> tuple[MaskedAutoregressiveFlow, torch.Tensor, torch.Tensor]:
        if self.flow is None or self.shift is None or self.scale is None:
            raise RuntimeError("call fit() before sampling")
        return self.flow, self.shift, self.scale

    @torch.no_grad()
    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Log-density ``(N,)`` of codes ``z`` ``(N, D)`` under the fitted flow, in the codes'
        own (unstandardised) space: the standardisation adds ``-sum_d log scale_d``."""
        flow, shift, scale = self._fitted()
        z = z.to(device=shift.device, dtype=shift.dtype)
        return flow.log_prob((z - shift) / scale) - scale.log().sum()

    @torch.no_grad()
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes ``(n, D)`` drawn from the fitted flow (on the model's device)."""
        flow, shift, scale = self._fitted()
        _check_count(n, self.batch_size)
        return flow.sample(n, generator) * scale + shift

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images ``(n, C, H, W)`` of p(x|z) for z from the flow."""
        return decode_latents(self.model, self.sample_latents(n, generator), self.batch_size)

    __call__ = sample
