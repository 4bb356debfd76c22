"""Planar, radial and IAF flows: log-dets against autograd's Jacobian, the invertibility
constraints, IAF's autoregressive structure, and the flow posterior's density."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian
from torch.distributions import Independent, Normal

from vaekit.distributions.flows import (
    MADE,
    FlowPosterior,
    IAFStep,
    PlanarFlow,
    RadialFlow,
    ReverseFlow,
    apply_flows,
)

DIM = 3


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def planar(dim: int = DIM, seed: int = 0, w_dot_u: float | None = None) -> PlanarFlow:
    """A planar flow with O(1) parameters; ``w_dot_u`` sets the raw w^T u."""
    torch.manual_seed(seed)
    flow = PlanarFlow(dim).double()
    with torch.no_grad():
        flow.w.normal_()
        flow.u.normal_()
        flow.b.fill_(0.3)
        if w_dot_u is not None:  # u along w with the given w^T u
            flow.u.copy_(w_dot_u * flow.w / flow.w.square().sum())
    return flow


def radial(dim: int = DIM, seed: int = 0, beta_raw: float = 0.7) -> RadialFlow:
    torch.manual_seed(seed)
    flow = RadialFlow(dim).double()
    with torch.no_grad():
        flow.z0.normal_()
        flow.alpha_raw.fill_(0.2)
        flow.beta_raw.fill_(beta_raw)
    return flow


def iaf_step(dim: int = DIM, context_dim: int = 2, seed: int = 0) -> IAFStep:
    torch.manual_seed(seed)
    step = IAFStep(dim, [8, 8], context_dim, gate_bias=0.5).double()
    with torch.no_grad():  # larger weights than the default init, for a clearly nonlinear map
        for p in step.parameters():
            p.mul_(3.0)
    return step


def autograd_log_det(flow, z: torch.Tensor, context: torch.Tensor | None = None
                     ) -> torch.Tensor:
    jac = jacobian(lambda v: flow(v, context)[0], z)
    return torch.linalg.slogdet(jac).logabsdet


# ------------------------------------------------------------------------------ log-dets
@pytest.mark.parametrize("make", [
    lambda: planar(), lambda: planar(w_dot_u=-4.0), lambda: radial(), lambda: radial(
        beta_raw=-3.0), lambda: ReverseFlow(),
], ids=["planar", "planar-constrained", "radial", "radial-contracting", "reverse"])
def test_log_det_matches_autograd_jacobian(make):
    flow = make()
    for z in torch.randn(5, DIM, generator=seeded(), dtype=torch.float64):
        _, log_det = flow(z)
        torch.testing.assert_close(log_det, autograd_log_det(flow, z))


def test_iaf_log_det_matches_autograd_with_context_and_reversals():
    flows = torch.nn.ModuleList([iaf_step(seed=0), ReverseFlow(), iaf_step(seed=1)])
    context = torch.randn(2, generator=seeded(1), dtype=torch.float64)

    def chain(v, h):
        return apply_flows(flows, v, h)

    for z in torch.randn(4, DIM, generator=seeded(), dtype=torch.float64):
        _, log_det = chain(z, context)
        jac = jacobian(lambda v: chain(v, context)[0], z)
        torch.testing.assert_close(log_det, torch.linalg.slogdet(jac).logabsdet)


def test_log_dets_are_batched_over_leading_dimensions():
    z = torch.randn(4, 5, DIM, generator=seeded(), dtype=torch.float64)
    context = torch.randn(5, 2, generator=seeded(1), dtype=torch.float64)  # one per example
    for flow, h in ((planar(), None), (radial(), None), (iaf_step(), context)):
        out, log_det = flow(z, h)
        assert out.shape == z.shape and log_det.shape == (4, 5)
        torch.testing.assert_close(log_det[2, 3], flow(z[2, 3], None if h is None else h[3])[1])


# ------------------------------------------------------------------------ invertibility
def test_planar_constraint_keeps_w_dot_u_hat_above_minus_one():
    for w_dot_u in (-4.0, -1.0, 0.0, 3.0):
        flow = planar(w_dot_u=w_dot_u)
        w_dot_u_hat = flow.w @ flow.u_hat()
        assert w_dot_u_hat > -1.0
        torch.testing.assert_close(flow.one_plus_w_dot_u_hat(), 1.0 + w_dot_u_hat)
    # Far out, m(w^T u) = -1 + softplus(w^T u) rounds to -1 (and w^T u-hat formed from u-hat
    # may land a rounding error below it): the log-det, built from softplus(w^T u), stays finite.
    flow = planar(w_dot_u=-50.0)
    assert float((flow.w @ flow.u_hat()).detach()) == pytest.approx(-1.0, abs=1e-12)
    z = torch.randn(20, DIM, generator=seeded(), dtype=torch.float64)
    assert torch.isfinite(flow(z)[1]).all()
    # Where w^T u already satisfies it, u-hat only moves u along w (to w^T u-hat = m(w^T u)).
    flow = planar(w_dot_u=3.0)
    torch.testing.assert_close(flow.w @ flow.u_hat(),
                               torch.tensor(-1.0 + math.log1p(math.e**3.0), dtype=torch.float64))


def test_constrained_planar_flow_is_invertible_where_the_raw_one_folds():
    flow = planar(w_dot_u=-4.0)  # raw u would give 1 + tanh' w^T u < 0 near w^T z + b = 0
    w_unit = flow.w / flow.w.norm()
    t = torch.linspace(-5, 5, 2001, dtype=torch.float64)
    line = t[:, None] * w_unit  # a line across the fold, along w
    with torch.no_grad():
        projected = flow(line)[0] @ flow.w
        raw = (line + flow.u * torch.tanh(line @ flow.w + flow.b)[:, None]) @ flow.w
    assert (projected.diff() > 0).all()  # strictly monotone along w: one-to-one
    assert (raw.diff() < 0).any()  # without the constraint the map folds over

    z = 2.0 * torch.randn(50, DIM, generator=seeded(), dtype=torch.float64)
    with torch.no_grad():
        y, log_det = flow(z)
    assert torch.isfinite(log_det).all()
    torch.testing.assert_close(flow.inverse(y), z)


def test_radial_constraint_keeps_the_flow_expanding_along_rays():
    flow = radial(beta_raw=-30.0)  # beta -> -alpha, the edge of invertibility
    alpha, beta = flow.alpha_beta()
    assert beta >= -alpha
    # Along a ray from z0, |f(z) - z0| = r (1 + beta h(r)) must increase with r.
    direction = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    direction = direction / direction.norm()
    r = torch.linspace(1e-3, 5, 500, dtype=torch.float64)
    with torch.no_grad():
        out, log_det = flow(flow.z0 + r[:, None] * direction)
    assert ((out - flow.z0).norm(dim=-1).diff() > 0).all()
    assert torch.isfinite(log_det).all()


# ---------------------------------------------------------------------------------- IAF
def test_iaf_step_jacobian_is_lower_triangular_with_sigmoid_diagonal():
    step = iaf_step(dim=5)
    z = torch.randn(5, generator=seeded(), dtype=torch.float64)
    h = torch.randn(2, generator=seeded(1), dtype=torch.float64)
    jac = jacobian(lambda v: step(v, h)[0], z)
    assert torch.count_nonzero(torch.triu(jac, diagonal=1)) == 0
    assert torch.count_nonzero(torch.tril(jac, diagonal=-1)) > 0  # it is autoregressive
    _, s = step.made(z, h)
    torch.testing.assert_close(torch.diagonal(jac), torch.sigmoid(s + step.gate_bias))


def test_made_outputs_depend_only_on_earlier_inputs_and_the_context():
    made = MADE(4, [12, 12], context_dim=3).double()
    z = torch.randn(4, generator=seeded(), dtype=torch.float64)
    h = torch.randn(3, generator=seeded(1), dtype=torch.float64)
    for out in range(2):  # m, then s
        jac = jacobian(lambda v, i=out: made(v, h)[i], z)
        assert torch.count_nonzero(torch.triu(jac)) == 0  # output i sees z_j, j < i only
        assert torch.count_nonzero(torch.tril(jac, diagonal=-1)) > 0
        jac_h = jacobian(lambda c, i=out: made(z, c)[i], h)
        assert (jac_h.abs().sum(-1) > 0).all()  # every output reads the context, even the first


def test_made_with_a_context_needs_it():
    with pytest.raises(ValueError, match="context"):
        MADE(3, [6], context_dim=2)(torch.zeros(3))


# ------------------------------------------------------------------------ flow posterior
def _base(loc, scale) -> Independent:
    return Independent(Normal(torch.as_tensor(loc, dtype=torch.float64),
                              torch.as_tensor(scale, dtype=torch.float64)), 1)


def test_flow_posterior_density_integrates_to_one():
    # A strong planar flow in 2-D (w^T u-hat = -0.95: closer to -1 the density grows spikes
    # thinner than the grid).
    flow = planar(dim=2, w_dot_u=-2.0)
    with torch.no_grad():
        flow.u.add_(torch.tensor([1.5, -0.5], dtype=torch.float64))
    base = _base([0.3, -0.2], [0.8, 1.1])
    step = 0.04
    grid = torch.arange(-8, 8, step, dtype=torch.float64)
    y = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        z0 = flow.inverse(y)
        torch.testing.assert_close(flow(z0)[0], y)
        log_q = base.log_prob(z0) - flow(z0)[1]  # change of variables at y = f(z0)
    assert float((flow.w @ flow.u_hat()).detach()) == pytest.approx(-0.95, abs=0.01)
    assert log_q.exp().sum() * step**2 == pytest.approx(1.0, abs=1e-4)
    # ... and it is not the base density: the flow moved a good part of the mass.
    total_variation = 0.5 * (log_q.exp() - base.log_prob(y).exp()).abs().sum() * step**2
    assert total_variation > 0.1


def test_flow_posterior_log_prob_of_its_own_sample_and_shapes():
    flows = torch.nn.ModuleList([planar(), radial()])
    base = _base(torch.zeros(5, DIM), torch.ones(5, DIM))
    qz_x = FlowPosterior(base, flows)
    assert qz_x.batch_shape == (5,) and qz_x.event_shape == (DIM,)
    torch.manual_seed(0)
    z, log_q = qz_x.rsample_and_log_prob((7,))
    assert z.shape == (7, 5, DIM) and log_q.shape == (7, 5)
    torch.manual_seed(0)
    z0 = base.rsample((7,))
    z_again, log_det = apply_flows(flows, z0)
    torch.testing.assert_close(z, z_again)
    torch.testing.assert_close(log_q, base.log_prob(z0) - log_det)
    sample = qz_x.rsample((2,))
    assert qz_x.log_prob(sample).shape == (2, 5)
    with pytest.raises(NotImplementedError, match="rsample_and_log_prob"):
        qz_x.log_prob(sample.clone())


def test_rsample_is_reparameterised():
    flow = planar()
    base = _base(torch.zeros(DIM), torch.ones(DIM))
    loc = base.base_dist.loc.requires_grad_()
    z = FlowPosterior(Independent(Normal(loc, torch.ones(DIM, dtype=torch.float64)), 1),
                      [flow]).rsample((3,))
    z.sum().backward()
    assert loc.grad is not None and loc.grad.abs().sum() > 0
    assert flow.u.grad is not None
