"""Poincaré ball maps and the wrapped normal: inverses, transport, change of variables, c -> 0."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from vaekit.distributions.poincare import PoincareBall, WrappedNormal, log_x_over_sinh_x

F64 = torch.float64


def points(ball: PoincareBall, n: int, seed: int, spread: float = 0.7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return ball.expmap0(spread * torch.randn(n, 3, generator=g, dtype=F64))


@pytest.mark.parametrize("c", [0.1, 1.0, 2.5])
def test_exp_and_log_maps_are_inverse(c):
    ball = PoincareBall(c)
    x, y = points(ball, 8, 0), points(ball, 8, 1)
    w = 1.5 * torch.randn(8, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    torch.testing.assert_close(ball.logmap0(ball.expmap0(w)), w)
    u = w / ball.conformal_factor(x)  # a tangent vector at x of Riemannian norm |w|
    torch.testing.assert_close(ball.expmap0(ball.logmap0(y)), y)
    torch.testing.assert_close(ball.logmap(x, ball.expmap(x, u)), u)
    torch.testing.assert_close(ball.expmap(x, ball.logmap(x, y)), y)
    # At the origin the general maps are the origin maps.
    zero = torch.zeros_like(x)
    torch.testing.assert_close(ball.expmap(zero, w), ball.expmap0(w))
    torch.testing.assert_close(ball.logmap(zero, y), ball.logmap0(y))
    # Geodesics: the distance travelled by exp_x(u) is the Riemannian norm lambda_x |u|.
    torch.testing.assert_close(ball.dist(x, ball.expmap(x, u)),
                               (ball.conformal_factor(x) * u.norm(dim=-1, keepdim=True))[:, 0])
    torch.testing.assert_close(ball.mobius_add(-x, x), zero, atol=1e-12, rtol=0)


def test_parallel_transport_is_an_isometry_and_invertible():
    ball = PoincareBall(0.7)
    x = points(ball, 6, 3)
    u = torch.randn(6, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    moved = ball.transp0(x, u)
    torch.testing.assert_close(ball.transp0back(x, moved), u)
    # |u|_0 = lambda_0 |u| equals |PT u|_x = lambda_x |PT u|.
    torch.testing.assert_close(ball.conformal_factor(x) * moved.norm(dim=-1, keepdim=True),
                               2.0 * u.norm(dim=-1, keepdim=True))


def test_points_stay_inside_the_ball():
    ball = PoincareBall(1.0)
    far = ball.expmap0(torch.tensor([[50.0, 0.0], [0.0, -80.0]]))
    assert torch.all(far.norm(dim=-1) < 1.0)
    projected = ball.project(torch.tensor([[3.0, 4.0]]))
    assert float(projected.norm()) < 1.0
    assert torch.isfinite(ball.logmap0(projected)).all()


@pytest.mark.parametrize("c", [1.0, 0.3])
def test_wrapped_normal_log_prob_is_a_change_of_variables(c):
    """Lebesgue density of z = f(v) = exp_mu(v / lambda_mu) is N(v) / |det df/dv|; it equals
    the Riemannian density (with the sinh Jacobian term) times lambda_z^d."""
    ball = PoincareBall(c)
    mu = ball.expmap0(torch.tensor([0.4, -0.3, 0.2], dtype=F64))
    scale = torch.tensor([0.5, 0.8, 0.3], dtype=F64)
    q = WrappedNormal(mu, scale, ball)
    v = torch.tensor([0.3, -0.9, 0.4], dtype=F64)

    def f(v):
        return q.from_noise(v / scale)

    z = f(v)
    jacobian = torch.autograd.functional.jacobian(f, v)
    expected = Normal(0.0, scale).log_prob(v).sum() - torch.linalg.slogdet(jacobian)[1]
    assert float(q.log_prob_lebesgue(z)) == pytest.approx(float(expected), abs=1e-9)
    torch.testing.assert_close(q.tangent_coordinates(z), v)
    # The radius of the Jacobian term is the geodesic distance.
    assert float(ball.dist(mu, z)) == pytest.approx(float(v.norm()))


def test_wrapped_normal_integrates_to_one_on_the_disk():
    ball = PoincareBall(1.0)
    q = WrappedNormal(torch.tensor([0.3, -0.2], dtype=F64), torch.tensor([0.6, 0.4], dtype=F64),
                      ball)
    radius = torch.linspace(0, 1 - 1e-9, 801, dtype=F64)
    angle = torch.linspace(0, 2 * math.pi, 801, dtype=F64)
    r, a = torch.meshgrid(radius, angle, indexing="ij")
    z = torch.stack([r * a.cos(), r * a.sin()], -1)
    density = q.log_prob_lebesgue(z).exp() * r  # polar area element
    mass = torch.trapezoid(torch.trapezoid(density, angle, dim=1), radius)
    assert float(mass) == pytest.approx(1.0, abs=2e-3)


def test_zero_curvature_limit_is_the_euclidean_gaussian():
    """As c -> 0 the ball's maps become Euclidean with metric 4 I (lambda -> 2): the wrapped
    normal tends to N(mu, Sigma / 4) in ball coordinates."""
    mu = torch.tensor([0.4, -0.3, 0.2], dtype=F64)
    scale = torch.tensor([0.5, 0.8, 0.3], dtype=F64)
    z = torch.tensor([[0.1, 0.2, 0.3], [0.9, -1.2, 0.0]], dtype=F64)
    eps = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    gaussian = Normal(mu, scale / 2)
    errors = []
    for c in (1e-2, 1e-4, 1e-8):
        q = WrappedNormal(mu, scale, PoincareBall(c))
        errors.append(float((q.log_prob_lebesgue(z) - gaussian.log_prob(z).sum(-1)).abs().max()))
        torch.testing.assert_close(q.from_noise(eps), mu + scale / 2 * eps,
                                   atol=10 * c + 1e-7, rtol=0)
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-6


def test_sample_shapes_and_support():
    ball = PoincareBall(1.0)
    q = WrappedNormal(points(ball, 5, 5), torch.full((5, 3), 2.0, dtype=F64), ball)
    z = q.rsample((4,))
    assert z.shape == (4, 5, 3)
    assert torch.all(z.norm(dim=-1) < 1.0)
    assert q.log_prob(z).shape == (4, 5) and torch.isfinite(q.log_prob(z)).all()
    assert q.mean is q.loc and torch.equal(q.stddev, q.scale)


def test_log_x_over_sinh_x_is_stable():
    x = torch.tensor([0.0, 1e-6, 1e-3, 0.5, 30.0, 800.0], dtype=F64)
    out = log_x_over_sinh_x(x)
    assert torch.isfinite(out).all() and float(out[0]) == 0.0
    reference = torch.log(x[1:5] / torch.sinh(x[1:5]))
    torch.testing.assert_close(out[1:5], reference, rtol=1e-9, atol=1e-12)
    assert float(out[-1]) == pytest.approx(math.log(800.0) - 800.0 + math.log(2.0))


@pytest.mark.parametrize("dim", [2, 50])
def test_wrapped_normal_densities_stay_exact_in_many_dimensions(dim):
    """In 50 dimensions a unit-scale wrapped normal puts most of its mass within 2e-3 of the
    boundary, closer than float32 points may go: the draws and their densities must still
    match, or importance weights (the IWAE bound) are meaningless."""
    torch.manual_seed(0)
    ball = PoincareBall(1.0)
    p = WrappedNormal(torch.zeros(1, dim), torch.ones(1, dim), ball)
    q = WrappedNormal(torch.zeros(1, dim), torch.full((1, dim), 1.2), ball)
    eps = torch.randn(40000, 1, dim)
    z = q.from_noise(eps)
    assert z.dtype == torch.float32
    torch.testing.assert_close(q.tangent_coordinates(z).float(), 1.2 * eps, atol=1e-4, rtol=1e-4)
    # E_q[p / q] = 1 for normalised densities (q is broader than p: finite variance).
    log_weights = p.log_prob(z) - q.log_prob(z)
    estimate = torch.logsumexp(log_weights, 0) - math.log(len(log_weights))
    assert abs(float(estimate)) < 0.05
