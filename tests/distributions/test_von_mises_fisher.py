"""von Mises-Fisher and hyperspherical uniform: normalisation, moments, KL, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
from torch.distributions import kl_divergence

from vaekit.distributions.von_mises_fisher import (
    HypersphericalUniform,
    VonMisesFisher,
    log_bessel_iv,
    log_sphere_area,
    mean_resultant_length,
)

F64 = torch.float64


def unit(*values: float) -> torch.Tensor:
    v = torch.tensor(values, dtype=F64)
    return v / v.norm()


@pytest.mark.parametrize("kappa", [0.01, 1.0, 7.5, 80.0])
def test_density_integrates_to_one_on_the_circle(kappa):
    q = VonMisesFisher(unit(0.6, -0.8), torch.tensor(kappa, dtype=F64))
    theta = torch.linspace(-math.pi, math.pi, 20001, dtype=F64)
    z = torch.stack([theta.cos(), theta.sin()], -1)
    mass = torch.trapezoid(q.log_prob(z).exp(), theta)
    assert float(mass) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("kappa", [0.3, 4.0, 40.0])
def test_density_integrates_to_one_on_the_two_sphere(kappa):
    q = VonMisesFisher(unit(1.0, 2.0, -2.0), torch.tensor(kappa, dtype=F64))
    theta = torch.linspace(0, math.pi, 801, dtype=F64)
    phi = torch.linspace(0, 2 * math.pi, 801, dtype=F64)
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    z = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1)
    integrand = q.log_prob(z).exp() * t.sin()  # area element sin(theta) dtheta dphi
    mass = torch.trapezoid(torch.trapezoid(integrand, phi, dim=1), theta)
    assert float(mass) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("dim", "kappa"), [(2, 1.0), (3, 5.0), (10, 0.5), (10, 50.0)])
def test_samples_lie_on_the_sphere_around_mu_with_the_right_resultant_length(dim, kappa):
    torch.manual_seed(0)
    mu = torch.randn(dim, dtype=F64)
    mu = mu / mu.norm()
    q = VonMisesFisher(mu, torch.tensor(kappa, dtype=F64))
    n = 20000
    z = q.sample((n,))
    assert z.shape == (n, dim)
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(n, dtype=F64))
    mean = z.mean(0)
    assert float(mean @ mu / mean.norm()) > 0.98  # the mean direction is mu
    a = mean_resultant_length(dim, torch.tensor(kappa, dtype=F64))
    var_w = 1 - a**2 - (dim - 1) * a / kappa  # Var(mu^T z)
    assert abs(float((z @ mu).mean() - a)) < 5 * math.sqrt(float(var_w) / n)
    # The analytic mean and per-coordinate variance match the sample moments.
    torch.testing.assert_close(q.mean, mean, atol=0.03, rtol=0)
    torch.testing.assert_close(q.variance, z.var(0), atol=0.02, rtol=0.1)


def test_mean_resultant_length_matches_quadrature_on_the_circle():
    # On S^1, A_2(kappa) = I_1/I_0 = E[cos(theta)] under exp(kappa cos theta) / (2 pi I_0).
    theta = torch.linspace(-math.pi, math.pi, 20001, dtype=F64)
    for kappa in (0.2, 3.0, 30.0):
        weights = torch.exp(kappa * (theta.cos() - 1))
        expected = torch.trapezoid(theta.cos() * weights, theta) / torch.trapezoid(weights, theta)
        assert float(mean_resultant_length(2, torch.tensor(kappa, dtype=F64))) == \
            pytest.approx(float(expected), rel=1e-8)


@pytest.mark.parametrize(("dim", "kappa"), [(2, 2.0), (3, 0.7), (5, 12.0), (16, 30.0)])
def test_analytic_kl_to_the_uniform_prior_equals_monte_carlo(dim, kappa):
    torch.manual_seed(1)
    mu = unit(*([1.0] * dim))
    q = VonMisesFisher(mu, torch.tensor(kappa, dtype=F64))
    p = HypersphericalUniform(dim, dtype=F64)
    analytic = kl_divergence(q, p)
    z = q.sample((40000,))
    log_ratio = q.log_prob(z) - p.log_prob(z)
    stderr = log_ratio.std() / math.sqrt(len(z))
    assert float(analytic) > 0
    assert abs(float(analytic - log_ratio.mean())) < 5 * float(stderr) + 1e-6
    # A nearly flat vMF is nearly the uniform distribution.
    tiny = kl_divergence(VonMisesFisher(mu, torch.tensor(1e-3, dtype=F64)), p)
    assert 0 <= float(tiny) < 1e-6


def test_entropy_is_minus_expected_log_density():
    torch.manual_seed(2)
    q = VonMisesFisher(unit(0.0, 1.0, 0.0, 0.0), torch.tensor(3.0, dtype=F64))
    z = q.sample((40000,))
    assert float(q.entropy()) == pytest.approx(float(-q.log_prob(z).mean()), abs=0.02)


def test_batched_parameters_and_sample_shapes():
    loc = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)
    kappa = torch.tensor([0.5, 1.0, 10.0, 100.0])
    q = VonMisesFisher(loc, kappa)
    assert q.batch_shape == (4,) and q.event_shape == (3,)
    z = q.rsample((7,))
    assert z.shape == (7, 4, 3) and z.dtype == torch.float32
    assert q.log_prob(z).shape == (7, 4)
    assert kl_divergence(q, HypersphericalUniform(3)).shape == (4,)


def test_gradients_flow_to_mu_and_kappa():
    torch.manual_seed(3)
    raw_mu = torch.randn(5, 4, requires_grad=True)
    raw_kappa = torch.randn(5, requires_grad=True)
    q = VonMisesFisher(torch.nn.functional.normalize(raw_mu, dim=-1),
                       torch.nn.functional.softplus(raw_kappa) + 1)
    target = unit(1.0, 0.0, 0.0, 0.0).float()
    z = q.rsample()
    loss = -(z @ target).mean() + kl_divergence(q, HypersphericalUniform(4)).mean()
    loss.backward()
    for grad in (raw_mu.grad, raw_kappa.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize(("dim", "kappa"), [(2, 1.0), (3, 2.0)])
def test_score_correction_makes_the_kappa_gradient_unbiased(dim, kappa):
    """d/dkappa E[mu^T z] = A_m'(kappa). The reparameterised term g_rep alone is biased for
    this f; g_rep + g_cor (Naesseth et al. 2017) is not."""
    torch.manual_seed(4)
    k = torch.tensor(kappa, dtype=F64, requires_grad=True)
    (exact,) = torch.autograd.grad(mean_resultant_length(dim, k), k)
    q = VonMisesFisher(unit(*range(1, dim + 1)), k)
    z = q.rsample((100000,))
    w = z @ q.loc.detach()
    (g_rep,) = torch.autograd.grad(w.mean(), k)
    (g_cor,) = torch.autograd.grad((w.detach() * q.rejection_log_ratio(z)).mean(), k)
    assert float(g_rep + g_cor) == pytest.approx(float(exact), abs=0.01)
    assert abs(float(g_rep - exact)) > 0.04


def test_log_bessel_matches_scipy_and_its_derivative_identity():
    kappa = torch.tensor([1e-3, 0.5, 3.0, 40.0, 700.0], dtype=F64, requires_grad=True)
    for order in (0.0, 0.5, 1.0, 4.5, 25.0):
        values = log_bessel_iv(order, kappa)
        with np.errstate(divide="ignore"):
            expected = np.log(scipy.special.iv(order, kappa.detach().numpy()))
        finite = np.isfinite(expected)  # I_v overflows float64 at kappa = 700
        np.testing.assert_allclose(values.detach().numpy()[finite], expected[finite],
                                   rtol=1e-9, atol=1e-12)
        assert torch.isfinite(values).all()
        assert torch.autograd.gradcheck(lambda k, v=order: log_bessel_iv(v, k), (kappa,))
    # Where ive underflows (high order, small kappa) the series' leading term takes over.
    tiny = log_bessel_iv(80.0, torch.tensor([1e-3], dtype=F64))
    assert float(tiny) == pytest.approx(80 * math.log(5e-4) - math.lgamma(81), rel=1e-6)


def test_hyperspherical_uniform():
    p = HypersphericalUniform(3, dtype=F64)
    assert float(p.log_prob(torch.zeros(5, 3)).mean()) == pytest.approx(-math.log(4 * math.pi))
    assert log_sphere_area(2) == pytest.approx(math.log(2 * math.pi))
    z = p.sample((20000,), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(20000, dtype=F64))
    torch.testing.assert_close(z.mean(0), torch.zeros(3, dtype=F64), atol=0.03, rtol=0)
    again = p.sample((20000,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, again)
    with pytest.raises(ValueError, match="S\\^1"):
        kl_divergence(VonMisesFisher(unit(1.0, 0.0, 0.0), torch.tensor(1.0, dtype=F64)),
                      HypersphericalUniform(2))
