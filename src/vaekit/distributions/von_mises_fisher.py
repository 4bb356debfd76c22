"""The von Mises-Fisher distribution and the uniform distribution on the hypersphere S^{m-1}.

Davidson, Falorsi, De Cao, Kipf & Tomczak (2018), "Hyperspherical Variational Auto-Encoders",
UAI. With ``m`` the ambient dimension (event shape ``(m,)``), mean direction ``mu`` (unit norm)
and concentration ``kappa > 0``::

    vMF(z | mu, kappa) = C_m(kappa) exp(kappa mu^T z),
    log C_m(kappa) = (m/2 - 1) log kappa - (m/2) log(2 pi) - log I_{m/2-1}(kappa)

Sampling (the paper's vMF sampling algorithm): draw the component ``w = mu^T z`` by Wood's
(1994) rejection sampler, a direction ``v`` uniform on the sphere orthogonal to the first axis
``e1``, form ``z' = (w, sqrt(1 - w^2) v)`` and reflect ``e1`` onto ``mu`` with a Householder
reflection.

Reparameterisation (the paper's reparameterisation section, after Naesseth et al. 2017,
"Reparameterization Gradients through Acceptance-Rejection Sampling Algorithms"): the *accepted*
proposal ``eps ~ Beta((m-1)/2, (m-1)/2)`` is held fixed and
``w = h(eps, kappa) = (1 - (1 + b) eps) / (1 - (1 - b) eps)`` is differentiable in kappa through
``b(kappa)``; the Householder reflection is differentiable in mu. This gives the paper's
``g_rep``; the authors' PyTorch code (github.com/nicola-decao/s-vae-pytorch,
``distributions/von_mises_fisher.py``) trains with ``g_rep`` alone. The remaining score-function
term ``g_cor`` of ``g_rep + g_cor`` is available as a zero-valued surrogate,
:meth:`VonMisesFisher.rejection_log_ratio`, for callers that want the unbiased gradient.

The KL to the uniform prior (derived in the paper's appendix)::

    KL(vMF(mu, kappa) || U(S^{m-1})) = kappa A_m(kappa) + log C_m(kappa)
                                        + log(2 pi^{m/2} / Gamma(m/2)),
    A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa)   (the mean resultant length E[mu^T z])

is registered with ``torch.distributions.kl.register_kl``. Modified Bessel functions of the
first kind come from ``scipy.special.ive`` (exponentially scaled, float64) inside a custom
autograd function whose derivative uses ``I_v'(k) = I_{v-1}(k) - (v / k) I_v(k)``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch
from torch.distributions import Beta, Distribution, constraints
from torch.distributions.kl import register_kl

_MAX_REJECTION_ROUNDS = 1000


# ----------------------------------------------------------------------------- Bessel functions
def _log_iv_numpy(order: float, kappa: np.ndarray) -> np.ndarray:
    """log I_order(kappa) in float64; where ``ive`` underflows (large order, small kappa) the
    leading term of the series, ``order log(kappa/2) - log Gamma(order + 1)``, is used."""
    kappa = np.atleast_1d(kappa)
    with np.errstate(divide="ignore"):
        out = np.log(scipy.special.ive(order, kappa)) + kappa
    small = ~np.isfinite(out)
    if small.any() and order > -1:
        k = kappa[small]
        out[small] = order * np.log(k / 2.0) - scipy.special.gammaln(order + 1.0)
    return out


class _LogBesselIv(torch.autograd.Function):
    """log I_v(kappa) for a fixed real order ``v``; differentiable in ``kappa``."""

    @staticmethod
    def forward(ctx, order: float, kappa: torch.Tensor) -> torch.Tensor:
        ctx.order = order
        ctx.save_for_backward(kappa)
        k = kappa.detach().to("cpu", torch.float64).numpy()
        out = _log_iv_numpy(order, k).reshape(k.shape)
        return torch.from_numpy(out).to(device=kappa.device, dtype=kappa.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (kappa,) = ctx.saved_tensors
        v = ctx.order
        # d/dk log I_v(k) = I_v'(k) / I_v(k) = I_{v-1}(k) / I_v(k) - v / k.
        ratio = torch.exp(log_bessel_iv(v - 1.0, kappa) - log_bessel_iv(v, kappa))
        return None, grad_output * (ratio - v / kappa)


def log_bessel_iv(order: float, kappa: torch.Tensor) -> torch.Tensor:
    """``log I_order(kappa)`` elementwise (modified Bessel function of the first kind), computed
    in float64 with scipy and differentiable in ``kappa``. ``order`` is a Python number."""
    return _LogBesselIv.apply(float(order), kappa)


def mean_resultant_length(dim: int, kappa: torch.Tensor) -> torch.Tensor:
    """``A_m(kappa) = I_{m/2}(kappa) / I_{m/2-1}(kappa)`` = E[mu^T z] under vMF on S^{m-1}."""
    return torch.exp(log_bessel_iv(dim / 2.0, kappa) - log_bessel_iv(dim / 2.0 - 1.0, kappa))


def log_sphere_area(dim: int) -> float:
    """log of the surface area of S^{dim-1} in R^dim: ``log(2 pi^{dim/2} / Gamma(dim/2))``."""
    return math.log(2.0) + (dim / 2.0) * math.log(math.pi) - math.lgamma(dim / 2.0)


# ----------------------------------------------------------------------------- distributions
class VonMisesFisher(Distribution):
    """vMF(mu, kappa) on S^{m-1}: ``loc`` ``(..., m)`` of unit norm, ``concentration`` ``(...)``.

    ``mean`` is the Euclidean expectation ``A_m(kappa) mu`` and ``variance`` the diagonal of
    the covariance ``(A/kappa) I + (1 - m A/kappa - A^2) mu mu^T``.
    """

    arg_constraints = {"loc": constraints.real_vector, "concentration": constraints.positive}
    support = constraints.real_vector  # the unit sphere, which torch has no constraint for
    has_rsample = True

    def __init__(self, loc: torch.Tensor, concentration: torch.Tensor,
                 validate_args: bool | None = None) -> None:
        if loc.dim() < 1 or loc.shape[-1] < 2:
            raise ValueError(f"loc must have a last dimension m >= 2, got shape {tuple(loc.shape)}")
        batch_shape = torch.broadcast_shapes(loc.shape[:-1], concentration.shape)
        self.loc = loc.expand(*batch_shape, loc.shape[-1])
        self.concentration = concentration.expand(batch_shape)
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)

    @property
    def dim(self) -> int:
        return self.event_shape[0]

    # ------------------------------------------------------------------------- moments
    @property
    def mean(self) -> torch.Tensor:
        return self.loc * mean_resultant_length(self.dim, self.concentration).unsqueeze(-1)

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        kappa = self.concentration.unsqueeze(-1)
        a = mean_resultant_length(self.dim, self.concentration).unsqueeze(-1)
        return a / kappa + (1.0 - self.dim * a / kappa - a**2) * self.loc**2

    # ------------------------------------------------------------------------- densities
    def log_normalizer(self) -> torch.Tensor:
        """``log C_m(kappa)`` (the vMF normalising constant), shape ``batch_shape``."""
        m, kappa = self.dim, self.concentration
        return ((m / 2.0 - 1.0) * torch.log(kappa) - (m / 2.0) * math.log(2.0 * math.pi)
                - log_bessel_iv(m / 2.0 - 1.0, kappa))

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self.concentration * (self.loc * value).sum(-1) + self.log_normalizer()

    def entropy(self) -> torch.Tensor:
        a = mean_resultant_length(self.dim, self.concentration)
        return -self.concentration * a - self.log_normalizer()

    # ------------------------------------------------------------------------- sampling
    def _wood_b(self, kappa: torch.Tensor) -> torch.Tensor:
        """Wood's ``b = (-2 kappa + sqrt(4 kappa^2 + (m-1)^2)) / (m-1)``, written as
        ``(m-1) / (2 kappa + sqrt(...))`` to avoid cancellation at large kappa."""
        m1 = self.dim - 1.0
        return m1 / (2.0 * kappa + torch.sqrt(4.0 * kappa**2 + m1**2))

    def _sample_eps(self, sample_shape: torch.Size) -> torch.Tensor:
        """Accepted Beta proposals ``eps`` of Wood's (1994) rejection sampler for ``w`` (float64,
        ``sample_shape + batch_shape``); no gradient: the accept step is not reparameterised."""
        m1 = self.dim - 1.0
        kappa = self.concentration.detach().double().expand(sample_shape + self.batch_shape)
        b = self._wood_b(kappa)
        x0 = (1.0 - b) / (1.0 + b)
        c = kappa * x0 + m1 * torch.log1p(-x0**2)
        proposal = Beta(torch.full_like(kappa, m1 / 2.0), torch.full_like(kappa, m1 / 2.0))
        eps = torch.zeros_like(kappa)
        pending = torch.ones_like(kappa, dtype=torch.bool)
        for _ in range(_MAX_REJECTION_ROUNDS):
            e = proposal.sample()
            w = (1.0 - (1.0 + b) * e) / (1.0 - (1.0 - b) * e)
            u = torch.rand_like(kappa)
            accept = pending & (kappa * w + m1 * torch.log1p(-x0 * w) - c >= torch.log(u))
            eps = torch.where(accept, e, eps)
            pending = pending & ~accept
            if not pending.any():
                return eps
        raise RuntimeError(f"vMF rejection sampler did not finish in {_MAX_REJECTION_ROUNDS} "
                           "rounds; is the concentration finite and positive?")

    def _w_from_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """``w = h(eps, kappa)``, differentiable in kappa (float64)."""
        b = self._wood_b(self.concentration.double())
        return (1.0 - (1.0 + b) * eps) / (1.0 - (1.0 - b) * eps)

    def _householder(self, z: torch.Tensor) -> torch.Tensor:
        """Reflect e1 onto ``loc``: ``z - 2 (z . u) u`` with ``u = (e1 - mu) / |e1 - mu|``."""
        loc = self.loc.double()
        e1 = torch.zeros_like(loc)
        e1[..., 0] = 1.0
        u = e1 - loc
        # For mu == e1 the reflection is the identity: u = 0 after the clamp, no NaN.
        u = u / torch.linalg.vector_norm(u, dim=-1, keepdim=True).clamp_min(1e-12)
        return z - 2.0 * (z * u).sum(-1, keepdim=True) * u

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        sample_shape = torch.Size(sample_shape)
        eps = self._sample_eps(sample_shape)
        w = self._w_from_eps(eps).unsqueeze(-1)
        v = torch.randn(*sample_shape, *self.batch_shape, self.dim - 1, dtype=torch.float64,
                        device=self.loc.device)
        v = v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
        z = torch.cat([w, torch.sqrt((1.0 - w**2).clamp_min(1e-30)) * v], dim=-1)
        return self._householder(z).to(self.loc.dtype)

    # ------------------------------------------------------------------------- g_cor
    def rejection_log_ratio(self, z: torch.Tensor) -> torch.Tensor:
        """``log q_w(h(eps, kappa); kappa) - log r(h(eps, kappa); kappa)`` for the proposal
        ``eps`` that produced the sample ``z``, differentiable in kappa only.

        Naesseth et al. (2017), as used by Davidson et al. (2018): the gradient of
        ``E[f(z)]`` is ``g_rep + g_cor`` with ``g_cor = E[f(z) grad log(q/r)]``, where ``q_w`` is
        the marginal density of ``w = mu^T z`` and ``r`` the density of ``h(eps, kappa)`` for
        ``eps ~ Beta`` (the proposal pushed through h). Adding
        ``f(z).detach() * (ratio - ratio.detach())`` to a loss leaves its value unchanged and adds
        ``g_cor`` to its gradient. ``eps`` is recovered from ``w`` by inverting h.
        """
        m = self.dim
        w_fixed = (self.loc.detach() * z.detach()).sum(-1).double().clamp(-1 + 1e-12, 1 - 1e-12)
        b_fixed = self._wood_b(self.concentration.detach().double())
        eps = (1.0 - w_fixed) / ((1.0 + b_fixed) - (1.0 - b_fixed) * w_fixed)
        kappa = self.concentration.double()
        b = self._wood_b(kappa)
        w = (1.0 - (1.0 + b) * eps) / (1.0 - (1.0 - b) * eps)
        # log q_w(w) = log C'(kappa) + kappa w + (m-3)/2 log(1 - w^2)
        log_norm_w = ((m / 2.0 - 1.0) * torch.log(kappa / 2.0) - math.lgamma((m - 1) / 2.0)
                      - math.lgamma(0.5) - log_bessel_iv(m / 2.0 - 1.0, kappa))
        log_q = log_norm_w + kappa * w + (m - 3) / 2.0 * torch.log1p(-w**2)
        # r(w) = Beta(eps) / |dh/deps|,  |dh/deps| = 2 b / (1 - (1 - b) eps)^2
        half = torch.full_like(eps, (m - 1) / 2.0)
        log_beta = Beta(half, half).log_prob(eps)
        log_jac = torch.log(2.0 * b) - 2.0 * torch.log(1.0 - (1.0 - b) * eps)
        return (log_q - (log_beta - log_jac)).to(self.concentration.dtype)


class HypersphericalUniform(Distribution):
    """The uniform distribution on S^{dim-1} in R^dim (event shape ``(dim,)``)."""

    arg_constraints: dict = {}
    support = constraints.real_vector
    has_rsample = False

    def __init__(self, dim: int, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, validate_args: bool | None = None) -> None:
        if dim < 2:
            raise ValueError(f"HypersphericalUniform needs dim >= 2, got {dim}")
        self._dim = int(dim)
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self._dtype = dtype or torch.get_default_dtype()
        super().__init__(torch.Size(), torch.Size([dim]), validate_args=validate_args)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def mean(self) -> torch.Tensor:
        return torch.zeros(self._dim, device=self._device, dtype=self._dtype)

    @property
    def variance(self) -> torch.Tensor:
        return torch.full((self._dim,), 1.0 / self._dim, device=self._device, dtype=self._dtype)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = (),
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised standard Gaussian draws (rotation invariance makes them uniform)."""
        shape = torch.Size(sample_shape) + self.event_shape
        device = generator.device if generator is not None else self._device
        g = torch.randn(shape, generator=generator, device=device, dtype=self._dtype)
        return (g / torch.linalg.vector_norm(g, dim=-1, keepdim=True)).to(self._device)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return torch.full(value.shape[:-1], -log_sphere_area(self._dim), device=value.device,
                          dtype=value.dtype)

    def entropy(self) -> torch.Tensor:
        return torch.tensor(log_sphere_area(self._dim), device=self._device, dtype=self._dtype)


@register_kl(VonMisesFisher, HypersphericalUniform)
def _kl_vmf_uniform(q: VonMisesFisher, p: HypersphericalUniform) -> torch.Tensor:
    """Davidson et al. (2018), appendix: ``KL = kappa A_m(kappa) + log C_m(kappa) + log area``,
    i.e. ``-H(q) - E_q log p``."""
    if q.dim != p.dim:
        raise ValueError(f"KL between a vMF on S^{q.dim - 1} and a uniform on S^{p.dim - 1}")
    return -q.entropy() + log_sphere_area(q.dim)
