"""The Poincaré ball of curvature -c and the wrapped normal distribution on it.

Mathieu, Le Lan, Maddison, Tomioka & Teh (2019), "Continuous Hierarchical Representations with
Poincaré Variational Auto-Encoders", NeurIPS. The ball ``B_c^d = {x : c |x|^2 < 1}`` carries
the metric ``g_x = (lambda_x^c)^2 I`` with conformal factor ``lambda_x^c = 2 / (1 - c |x|^2)``
(Ganea et al. 2018, "Hyperbolic Neural Networks", the gyrovector formulas used below)::

    x (+)_c y  = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / (1 + 2c<x,y> + c^2 |x|^2 |y|^2)
    exp_x(u)   = x (+)_c ( tanh(sqrt(c) lambda_x |u| / 2) u / (sqrt(c) |u|) )
    log_x(y)   = 2 / (sqrt(c) lambda_x) artanh(sqrt(c) |-x (+)_c y|) (-x (+)_c y) / |-x (+)_c y|
    d_c(x, y)  = 2 / sqrt(c) artanh(sqrt(c) |-x (+)_c y|)
    PT_{0->x}(u) = (lambda_0 / lambda_x) u = (1 - c|x|^2) u      (gyr[x, 0] is the identity)

Wrapped normal (the paper's wrapped normal; authors' code github.com/emilemathieu/pvae,
``distributions/wrapped_normal.py``): ``v ~ N(0, diag(sigma^2))`` are the coordinates of a
tangent vector at the origin in a frame orthonormal for the metric (the vector ``v / lambda_0``),
parallel-transported to ``mu`` and pushed through the exponential map::

    z = exp_mu(PT_{0->mu}(v / lambda_0)) = exp_mu(v / lambda_mu)

Its density with respect to the Riemannian volume measure is::

    N^W(z | mu, Sigma) = N(lambda_mu log_mu(z) | 0, Sigma) * (sqrt(c) r / sinh(sqrt(c) r))^{d-1},
    r = d_c(mu, z) = |lambda_mu log_mu(z)|,

the second factor being the Jacobian of the exponential map. The Lebesgue density on the ball's
coordinates is this times ``lambda_z^d``. As ``c -> 0`` every map above becomes its Euclidean
counterpart (``x (+) y -> x + y``, ``exp_x(u) -> x + u``) with the metric ``4 I`` (lambda -> 2), so
the wrapped normal tends to ``N(mu, Sigma / 4)`` in ball coordinates.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution, Normal, constraints

_MIN_NORM = 1e-15
# Points are kept this far inside the boundary: |x| <= (1 - eps) / sqrt(c) (geoopt's choice).
_BALL_EPS = {torch.float32: 4e-3, torch.float64: 1e-5}


def _norm(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(_MIN_NORM)


def _artanh(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(-1 + 1e-7, 1 - 1e-7) if x.dtype != torch.float64 else x.clamp(-1 + 1e-15,
                                                                              1 - 1e-15)
    return torch.atanh(x)


class PoincareBall:
    """Gyrovector operations on the Poincaré ball of curvature ``-c`` (``c > 0``)."""

    def __init__(self, c: float = 1.0) -> None:
        if not c > 0:
            raise ValueError(f"the curvature parameter c must be positive, got {c}")
        self.c = float(c)

    @property
    def sqrt_c(self) -> float:
        return math.sqrt(self.c)

    def conformal_factor(self, x: torch.Tensor) -> torch.Tensor:
        """``lambda_x^c = 2 / (1 - c |x|^2)``, shape ``(..., 1)``."""
        return 2.0 / (1.0 - self.c * x.pow(2).sum(-1, keepdim=True)).clamp_min(_MIN_NORM)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Pull points on or outside the boundary back inside the ball."""
        max_norm = (1.0 - _BALL_EPS.get(x.dtype, 4e-3)) / self.sqrt_c
        norm = _norm(x)
        return torch.where(norm > max_norm, x / norm * max_norm, x)

    def mobius_add(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c = self.c
        xy = (x * y).sum(-1, keepdim=True)
        x2, y2 = x.pow(2).sum(-1, keepdim=True), y.pow(2).sum(-1, keepdim=True)
        num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
        return num / (1 + 2 * c * xy + c**2 * x2 * y2).clamp_min(_MIN_NORM)

    def expmap0(self, u: torch.Tensor) -> torch.Tensor:
        """``exp_0(u) = tanh(sqrt(c) |u|) u / (sqrt(c) |u|)``."""
        norm = _norm(u)
        return self.project(torch.tanh(self.sqrt_c * norm) * u / (self.sqrt_c * norm))

    def logmap0(self, y: torch.Tensor) -> torch.Tensor:
        """``log_0(y) = artanh(sqrt(c) |y|) y / (sqrt(c) |y|)``, the inverse of :meth:`expmap0`."""
        norm = _norm(y)
        return _artanh(self.sqrt_c * norm) * y / (self.sqrt_c * norm)

    def expmap(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        norm = _norm(u)
        step = torch.tanh(self.sqrt_c * self.conformal_factor(x) * norm / 2) * u / (
            self.sqrt_c * norm)
        return self.project(self.mobius_add(x, step))

    def logmap(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        diff = self.mobius_add(-x, y)
        norm = _norm(diff)
        scale = 2.0 / (self.sqrt_c * self.conformal_factor(x))
        return scale * _artanh(self.sqrt_c * norm) * diff / norm

    def dist(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Geodesic distance ``d_c(x, y)``, shape ``(...)``."""
        norm = torch.linalg.vector_norm(self.mobius_add(-x, y), dim=-1)
        return 2.0 / self.sqrt_c * _artanh(self.sqrt_c * norm)

    def transp0(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Parallel transport of ``u`` from the origin to ``x``: ``(lambda_0 / lambda_x) u``."""
        return u * 2.0 / self.conformal_factor(x)

    def transp0back(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Parallel transport of ``u`` from ``x`` to the origin: ``(lambda_x / lambda_0) u``."""
        return u * self.conformal_factor(x) / 2.0

    def log_volume_factor(self, x: torch.Tensor) -> torch.Tensor:
        """``log sqrt(det g_x) = d log lambda_x``: Riemannian volume over Lebesgue measure."""
        return x.shape[-1] * torch.log(self.conformal_factor(x)).squeeze(-1)


def log_x_over_sinh_x(x: torch.Tensor) -> torch.Tensor:
    """``log(x / sinh x)`` for ``x >= 0``, stable at 0 (series ``-x^2/6``) and for large x."""
    small = x < 1e-3
    safe = torch.where(small, torch.ones_like(x), x)
    # log sinh x = x + log(1 - exp(-2x)) - log 2
    large = torch.log(safe) - (safe + torch.log1p(-torch.exp(-2 * safe)) - math.log(2.0))
    return torch.where(small, -x.pow(2) / 6.0, large)


class WrappedNormal(Distribution):
    """Wrapped normal on the Poincaré ball: ``loc`` ``(..., d)`` inside the ball, ``scale``
    ``(..., d)`` (diagonal) or broadcastable to it; see the module docstring for the
    construction. ``log_prob`` is with respect to the Riemannian volume measure."""

    arg_constraints = {"loc": constraints.real_vector, "scale": constraints.positive}
    support = constraints.real_vector  # the open ball
    has_rsample = True

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, ball: PoincareBall,
                 validate_args: bool | None = None) -> None:
        self.ball = ball
        self.loc, self.scale = torch.broadcast_tensors(loc, scale)
        super().__init__(self.loc.shape[:-1], self.loc.shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> torch.Tensor:
        """The location ``mu``: the Fréchet mean of the wrapped normal (by symmetry), which is
        what a manifold-valued model uses as its point estimate (as the authors' code does)."""
        return self.loc

    @property
    def stddev(self) -> torch.Tensor:
        """The tangent-space standard deviations ``sigma`` (geodesic units)."""
        return self.scale

    def from_noise(self, eps: torch.Tensor) -> torch.Tensor:
        """``z = exp_mu(v / lambda_mu)`` for ``v = sigma * eps``; ``eps`` is standard normal
        noise of shape ``sample_shape + batch_shape + (d,)``."""
        # In float64: in float32 the ball's points are kept 4e-3 inside the boundary, and in
        # many dimensions most of the mass of a unit-scale wrapped normal lies beyond that
        # (|v| ~ sqrt(d) geodesic units, |z| = tanh(|v| / 2)), so the draws would be pulled
        # in and their densities would no longer match (an IWAE "bound" above log p(x)).
        loc, v = self.loc.double(), self.scale.double() * eps.double()
        u = self.ball.transp0(loc, v / 2.0)  # v / lambda_0, transported to mu
        return self.ball.expmap(loc.expand_as(u), u).to(eps.dtype)

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.from_noise(eps)

    def tangent_coordinates(self, z: torch.Tensor) -> torch.Tensor:
        """``v = lambda_0 PT_{mu->0}(log_mu z) = lambda_mu log_mu(z)``, the inverse of
        :meth:`from_noise` up to the scale."""
        z = z.double()  # see from_noise: near the boundary float32 loses the density
        loc = self.loc.double().expand_as(z)
        return self.ball.transp0back(loc, self.ball.logmap(loc, z)) * 2.0

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        v = self.tangent_coordinates(value)  # float64
        radius = torch.linalg.vector_norm(v, dim=-1)  # = d_c(mu, z)
        scale = self.scale.double()
        log_gauss = Normal(torch.zeros_like(scale), scale).log_prob(v).sum(-1)
        d = self.event_shape[0]
        log_p = log_gauss + (d - 1) * log_x_over_sinh_x(self.ball.sqrt_c * radius)
        return log_p.to(self.loc.dtype)

    def log_prob_lebesgue(self, value: torch.Tensor) -> torch.Tensor:
        """Density with respect to Lebesgue measure on the ball's coordinates."""
        return self.log_prob(value) + self.ball.log_volume_factor(value)
