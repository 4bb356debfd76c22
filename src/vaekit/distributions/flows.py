"""Normalising flows for richer posteriors q(z|x), and the flow posterior as a distribution.

A flow is an invertible map z -> f(z) with a tractable Jacobian; pushing a sample z_0 of a simple
base density q_0(z|x) through K of them gives z_K with (Rezende & Mohamed 2015, eq. 7)::

    log q_K(z_K|x) = log q_0(z_0|x) - sum_k log |det df_k/dz_{k-1}|

Every flow here is an ``nn.Module`` with ``forward(z, context=None) -> (f(z), log|det J|)``,
batched over the leading dimensions of ``z`` (``(..., D)``; log-dets ``(...)``).

- :class:`PlanarFlow`, :class:`RadialFlow`: Rezende & Mohamed (2015), "Variational Inference
  with Normalizing Flows", ICML, eqs. 10-14, with the invertibility constraints of their
  appendix A (planar: ``w^T u >= -1`` through the reparameterised u-hat; radial:
  ``beta >= -alpha``).
- :class:`IAFStep`: one step of inverse autoregressive flow, Kingma, Salimans, Jozefowicz, Chen,
  Sutskever & Welling (2016), "Improved Variational Inference with Inverse Autoregressive Flow",
  NeurIPS, with the numerically stable gated update of their section 4 / Algorithm 1::

      [m, s] = AutoregressiveNN(z, h);  sigma = sigmoid(s);  z' = sigma * z + (1 - sigma) * m

  where the autoregressive network is a MADE (Germain et al. 2015, "MADE: Masked Autoencoder for
  Distribution Estimation", ICML) that also reads the context h from the encoder.
  ``log|det J| = sum_i log sigma_i`` (the Jacobian is lower triangular).
- :class:`ReverseFlow`: reverses the order of the latent dimensions (log-det 0), put between IAF
  steps as the paper does so that every dimension gets to condition on every other.

:class:`FlowPosterior` wraps a base distribution, a flow chain and the context as a
torch.distributions object: ``rsample`` gives z_K and ``rsample_and_log_prob`` its density.
Planar, radial and IAF flows have no cheap inverse, so ``log_prob`` is available only for the
sample the object drew last (the way torch's cached transforms work), else it raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, constraints

# m(x) = -1 + log(1 + e^x) of Rezende & Mohamed's appendix A keeps w^T u-hat > -1.
_LOG_E_MINUS_1 = math.log(math.e - 1.0)  # m(x) = 0 here: u = 0.5413 w / |w|^2 gives u-hat = 0


class Flow(nn.Module):
    """Interface: ``forward(z, context=None) -> (f(z), log|det df/dz|)``."""

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError


class PlanarFlow(Flow):
    """f(z) = z + u-hat tanh(w^T z + b) (Rezende & Mohamed 2015, eq. 10).

    ``log|det J| = log|1 + u-hat^T psi(z)|`` with ``psi(z) = tanh'(w^T z + b) w`` (eqs. 11-12).
    The map is invertible when ``w^T u-hat >= -1`` (appendix A), which the parameterisation
    ``u-hat = u + (m(w^T u) - w^T u) w / |w|^2``, ``m(x) = -1 + softplus(x)``, guarantees for
    any learned u; then ``1 + u-hat^T psi > 0`` and the log-det needs no absolute value.
    """

    def __init__(self, dim: int, init_std: float = 0.01) -> None:
        super().__init__()
        # Small random parameters: a near-identity start whose gradients are all nonzero.
        self.u = nn.Parameter(init_std * torch.randn(dim))
        self.w = nn.Parameter(init_std * torch.randn(dim))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        """The constrained u of appendix A, with ``w^T u-hat = m(w^T u) > -1``."""
        wu = self.w @ self.u
        w_sq = self.w.square().sum()
        # At w = 0 the constraint holds for any u (w^T u = 0): leave u as it is.
        w_scaled = self.w / torch.where(w_sq > 0, w_sq, torch.ones_like(w_sq))
        return self.u + (-1.0 + F.softplus(wu) - wu) * w_scaled

    def one_plus_w_dot_u_hat(self) -> torch.Tensor:
        """``1 + w^T u-hat = softplus(w^T u) >= 0``, without the cancellation of forming it from
        u-hat (which can leave w^T u-hat a rounding error below -1)."""
        w_sq = self.w.square().sum()
        return torch.where(w_sq > 0, F.softplus(self.w @ self.u), torch.ones_like(w_sq))

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        tanh = torch.tanh(z @ self.w + self.b)  # (...)
        f = z + self.u_hat() * tanh[..., None]
        # 1 + u-hat^T psi = 1 + (1 - tanh^2) w^T u-hat = tanh^2 + (1 - tanh^2) (1 + w^T u-hat):
        # a sum of nonnegative terms, zero only where tanh = 0 and w^T u-hat = -1 exactly (a
        # softplus underflow); the floor keeps the log finite there.
        det = tanh.square() + (1.0 - tanh.square()) * self.one_plus_w_dot_u_hat()
        return f, torch.log(det.clamp_min(torch.finfo(det.dtype).tiny))

    @torch.no_grad()
    def inverse(self, y: torch.Tensor, iterations: int = 100) -> torch.Tensor:
        """f^{-1}(y), as in appendix A: ``w^T y = a + w^T u-hat tanh(a + b)`` is strictly
        increasing in the scalar ``a = w^T z``, so ``a`` is found by bisection and then
        ``z = y - u-hat tanh(a + b)``."""
        u_hat = self.u_hat()
        wu = self.w @ u_hat
        target = y @ self.w
        span = wu.abs() + 1.0  # |a - w^T y| <= |w^T u-hat| since |tanh| <= 1
        low, high = target - span, target + span
        for _ in range(iterations):
            mid = (low + high) / 2
            too_low = mid + wu * torch.tanh(mid + self.b) < target
            low, high = torch.where(too_low, mid, low), torch.where(too_low, high, mid)
        a = (low + high) / 2
        return y - u_hat * torch.tanh(a + self.b)[..., None]


class RadialFlow(Flow):
    """f(z) = z + beta h(alpha, r) (z - z_0), r = |z - z_0|, h = 1 / (alpha + r)
    (Rezende & Mohamed 2015, eq. 14).

    ``log|det J| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r)`` with
    ``h' = -1 / (alpha + r)^2``. alpha > 0 (softplus) and, for invertibility (appendix A),
    ``beta = -alpha + softplus(beta_raw) >= -alpha``; then both factors are positive.
    """

    def __init__(self, dim: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.z0 = nn.Parameter(init_std * torch.randn(dim))
        self.alpha_raw = nn.Parameter(torch.zeros(()))
        self.beta_raw = nn.Parameter(init_std * torch.randn(()))

    def alpha_beta(self) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = F.softplus(self.alpha_raw)
        return alpha, -alpha + F.softplus(self.beta_raw)

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        alpha, beta = self.alpha_beta()
        diff = z - self.z0
        r = diff.norm(dim=-1)
        h = 1.0 / (alpha + r)
        f = z + (beta * h)[..., None] * diff
        # 1 + beta h + beta h' r = 1 + beta alpha / (alpha + r)^2
        log_det = ((z.shape[-1] - 1) * torch.log1p(beta * h)
                   + torch.log1p(beta * alpha * h.square()))
        return f, log_det


class ReverseFlow(Flow):
    """Reverses the latent dimensions: a permutation, log|det J| = 0."""

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return z.flip(-1), z.new_zeros(z.shape[:-1])


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor) -> None:
        super().__init__(in_features, out_features)
        # Derived from the sizes alone: rebuilt at construction, so not saved in checkpoints.
        self.register_buffer("mask", mask.to(self.weight.dtype), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_degrees(dim: int, hidden: Sequence[int]) -> list[torch.Tensor]:
    """MADE degrees: inputs 0..D-1, hidden units cycling through 0..D-1. A hidden unit of
    degree k may read inputs j < k (degree 0: the context only); an output i may read hidden
    units of degree k <= i, so output i depends on inputs j < i only."""
    return [torch.arange(dim)] + [torch.arange(size) % dim for size in hidden]


class MADE(nn.Module):
    """Autoregressive network ``(z (..., D), h (..., C)) -> (m, s)`` with output i a function
    of ``z_{<i}`` and h (Germain et al. 2015, with the context of Kingma et al. 2016)."""

    def __init__(self, dim: int, hidden: Sequence[int], context_dim: int = 0) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MADE needs at least one hidden layer")
        degrees = made_degrees(dim, hidden)
        layers = []
        # Input -> first hidden: strict (reads j < k); hidden -> hidden: k_in <= k_out.
        first_mask = (degrees[1][:, None] > degrees[0][None, :])
        layers.append(MaskedLinear(dim, hidden[0], first_mask))
        for d_in, d_out, n_in, n_out in zip(degrees[1:-1], degrees[2:], hidden[:-1], hidden[1:]):
            layers.append(MaskedLinear(n_in, n_out, d_out[:, None] >= d_in[None, :]))
        self.layers = nn.ModuleList(layers)
        self.context = nn.Linear(context_dim, hidden[0], bias=False) if context_dim else None
        out_degrees = torch.arange(dim).repeat(2)  # m and s
        self.out = MaskedLinear(hidden[-1], 2 * dim, out_degrees[:, None] >= degrees[-1][None, :])

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.layers[0](z)
        if self.context is not None:
            if context is None:
                raise ValueError("this MADE was built with a context: pass it")
            hidden = hidden + self.context(context)
        hidden = F.elu(hidden)
        for layer in self.layers[1:]:
            hidden = F.elu(layer(hidden))
        m, s = self.out(hidden).chunk(2, dim=-1)
        return m, s


class IAFStep(Flow):
    """One gated IAF step (Kingma et al. 2016, section 4 and Algorithm 1):
    ``z' = sigmoid(s) * z + (1 - sigmoid(s)) * m``, ``[m, s] = MADE(z, h)``.

    ``gate_bias`` is added to s so that sigma starts near 1 and each step initially changes z
    only a little; the paper suggests making s "sufficiently positive, such as close to +1 or
    +2" before optimisation.
    """

    def __init__(self, dim: int, hidden: Sequence[int], context_dim: int = 0,
                 gate_bias: float = 1.0) -> None:
        super().__init__()
        self.made = MADE(dim, hidden, context_dim)
        self.gate_bias = gate_bias

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        m, s = self.made(z, context)
        s = s + self.gate_bias
        sigma = torch.sigmoid(s)
        return sigma * z + (1.0 - sigma) * m, F.logsigmoid(s).sum(-1)


def apply_flows(flows: Sequence[Flow], z: torch.Tensor, context: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Push ``z`` through ``flows`` in order: ``(z_K, sum_k log|det J_k|)``."""
    total = z.new_zeros(z.shape[:-1])
    for flow in flows:
        z, log_det = flow(z, context)
        total = total + log_det
    return z, total


class FlowPosterior(Distribution):
    """q_K(z|x): the base ``q_0(z|x)`` pushed through ``flows`` (with the encoder's
    ``context`` for IAF). Batch and event shape are the base's."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, base: Distribution, flows: Sequence[Flow],
                 context: torch.Tensor | None = None) -> None:
        self.base = base
        self.flows = flows
        self.context = context
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def transform(self, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z_K, log q_K(z_K|x))`` for base samples ``z0`` ``(..., B, D)``."""
        z, log_det = apply_flows(self.flows, z0, self.context)
        return z, self.base.log_prob(z0) - log_det

    def rsample_and_log_prob(self, sample_shape: torch.Size | tuple[int, ...] = ()
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised ``(z_K, log q_K(z_K|x))``, shapes ``(*sample_shape, B, D)`` and
        ``(*sample_shape, B)``."""
        z, log_q = self.transform(self.base.rsample(sample_shape))
        self._last = (z, log_q)
        return z, log_q

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        return self.rsample_and_log_prob(sample_shape)[0]

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._last is not None and value is self._last[0]:
            return self._last[1]
        raise NotImplementedError(
            "the flows have no closed-form inverse, so log q_K(z|x) is known only for the "
            "sample this posterior drew last; use rsample_and_log_prob"
        )
