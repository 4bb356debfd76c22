"""KL(q || p): analytic path against Monte Carlo, the Monte-Carlo fallback, per-dimension KL."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import (
    Distribution,
    Independent,
    MultivariateNormal,
    Normal,
    constraints,
)

from vaekit.distributions import DiagonalGaussianHead, StandardNormalPrior, kl, kl_per_dim
from vaekit.distributions.kl import has_analytic_kl

N_MC = 200_000


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Small tensors: one thread is faster, and avoids OpenMP spin-wait oversubscription when
    several test processes share the CPU (20x slowdowns seen)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class PlainNormal(Distribution):
    """A normal distribution torch has no KL rule for, to force the Monte-Carlo path."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.loc, self.scale = loc, scale
        super().__init__(loc.shape, validate_args=False)

    def rsample(self, sample_shape=torch.Size()):  # noqa: B008 - torch's signature
        eps = torch.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + self.scale * eps

    def log_prob(self, value):
        return (-0.5 * ((value - self.loc) / self.scale) ** 2 - self.scale.log()
                - 0.5 * math.log(2 * math.pi))


def _posterior(batch: int = 4, latent: int = 6, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, 2 * latent, generator=gen, dtype=torch.float64) * 1.5
    return DiagonalGaussianHead(latent)(features), StandardNormalPrior(latent).double()()


def _mc_estimate(q, p, n: int = N_MC):
    z = q.sample((n,))
    log_ratio = q.log_prob(z) - p.log_prob(z)  # (n, B)
    return log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    q, p = _posterior()
    assert has_analytic_kl(q, p)
    analytic = kl(q, p)
    assert analytic.shape == (4,)
    estimate, stderr = _mc_estimate(q, p)
    # 5 standard errors: a false failure has probability ~1e-6 per element.
    assert ((analytic - estimate).abs() < 5 * stderr).all(), (analytic, estimate, stderr)


def test_analytic_kl_matches_the_closed_form():
    q, p = _posterior()
    mu, std = q.base_dist.loc, q.base_dist.scale
    closed = 0.5 * (mu**2 + std**2 - 1 - 2 * std.log()).sum(-1)
    torch.testing.assert_close(kl(q, p), closed)


def test_analytic_path_ignores_the_sample():
    q, p = _posterior()
    z = q.sample((3,))
    torch.testing.assert_close(kl(q, p, z), kl(q, p))


def test_kl_is_zero_iff_q_equals_p():
    latent = 5
    p = StandardNormalPrior(latent)()
    # softplus(pre) + min_std = 1  <=>  pre = softplus^-1(1 - min_std)
    pre = math.log(math.expm1(1.0 - 1e-4))
    q = DiagonalGaussianHead(latent)(torch.cat([torch.zeros(2, latent),
                                                torch.full((2, latent), pre)], -1))
    torch.testing.assert_close(kl(q, p), torch.zeros(2), atol=1e-6, rtol=0)
    q_far = DiagonalGaussianHead(latent)(torch.ones(2, 2 * latent))
    assert (kl(q_far, p) > 0.1).all()


def test_monte_carlo_fallback_is_used_and_matches():
    torch.manual_seed(1)
    q_ref, p = _posterior(batch=3, latent=4, seed=3)
    q = Independent(PlainNormal(q_ref.base_dist.loc, q_ref.base_dist.scale), 1)
    assert not has_analytic_kl(q, p)
    with pytest.raises(ValueError, match="no analytic KL"):
        kl(q, p)
    z = q.rsample((N_MC,))
    mc = kl(q, p, z)  # one estimate per sample
    assert mc.shape == (N_MC, 3)
    torch.testing.assert_close(mc, q.log_prob(z) - p.log_prob(z))
    assert mc.std(0).min() > 0  # a per-sample estimate, not a constant
    stderr = mc.std(0) / math.sqrt(N_MC)
    assert ((mc.mean(0) - kl(q_ref, p)).abs() < 5 * stderr).all()


def test_kl_per_dim_sums_to_kl():
    q, p = _posterior(batch=5, latent=7)
    per_dim = kl_per_dim(q, p)
    assert per_dim is not None and per_dim.shape == (5, 7)
    assert (per_dim >= 0).all()
    torch.testing.assert_close(per_dim.sum(-1), kl(q, p))
    mu, std = q.base_dist.loc, q.base_dist.scale
    torch.testing.assert_close(per_dim, 0.5 * (mu**2 + std**2 - 1 - 2 * std.log()))


def test_kl_per_dim_is_none_when_not_factorised_or_not_analytic():
    q, p = _posterior(batch=2, latent=3)
    q_mvn = MultivariateNormal(q.base_dist.loc, scale_tril=torch.diag_embed(q.base_dist.scale))
    p_mvn = MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                               scale_tril=torch.eye(3, dtype=torch.float64))
    assert kl_per_dim(q_mvn, p_mvn) is None
    q_plain = Independent(PlainNormal(q.base_dist.loc, q.base_dist.scale), 1)
    assert kl_per_dim(q_plain, p) is None
    # The full-covariance KL is still analytic and agrees with the diagonal one.
    torch.testing.assert_close(kl(q_mvn, p_mvn), kl(q, p))


def test_kl_broadcasts_over_leading_dims():
    q, p = _posterior(batch=4, latent=3)
    loc = q.base_dist.loc.expand(2, 4, 3)
    q2 = Independent(Normal(loc, q.base_dist.scale.expand(2, 4, 3)), 1)
    out = kl(q2, p)
    assert out.shape == (2, 4)
    torch.testing.assert_close(out[1], kl(q, p))
