"""The diagonal Gaussian posterior head and the standard normal prior."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from vaekit.distributions import DiagonalGaussianHead, StandardNormalPrior
from vaekit.registry import PRIORS


def test_head_splits_features_into_mean_and_softplus_std():
    head = DiagonalGaussianHead(3, min_std=1e-3)
    features = torch.tensor([[0.5, -1.0, 2.0, 0.0, -3.0, 4.0]])
    q = head(features)
    assert q.batch_shape == (1,) and q.event_shape == (3,)
    torch.testing.assert_close(q.mean, features[:, :3])
    torch.testing.assert_close(q.stddev, F.softplus(features[:, 3:]) + 1e-3)


def test_head_std_is_positive_and_finite_for_extreme_features():
    head = DiagonalGaussianHead(2)
    q = head(torch.tensor([[0.0, 0.0, -1e4, 1e4]]))
    std = q.stddev
    assert torch.isfinite(std).all()
    assert std[0, 0] >= head.min_std  # never zero, so log q(z) stays finite
    assert std[0, 1] == 1e4
    assert torch.isfinite(q.log_prob(q.mean)).all()


def test_head_reparameterised_samples_carry_gradients():
    head = DiagonalGaussianHead(4)
    features = torch.randn(5, 8, requires_grad=True)
    q = head(features)
    z = q.rsample((3,))
    assert z.shape == (3, 5, 4)
    z.square().sum().backward()
    assert features.grad is not None
    assert (features.grad[:, :4].abs() > 0).all() and (features.grad[:, 4:].abs() > 0).all()


def test_head_accepts_leading_dims():
    q = DiagonalGaussianHead(2)(torch.randn(3, 5, 4))
    assert q.batch_shape == (3, 5) and q.event_shape == (2,)


def test_head_log_prob_is_the_diagonal_gaussian_density():
    features = torch.randn(4, 6, dtype=torch.float64)
    q = DiagonalGaussianHead(3)(features)
    z = torch.randn(4, 3, dtype=torch.float64)
    mu, std = q.mean, q.stddev
    expected = (-0.5 * ((z - mu) / std) ** 2 - std.log()
                - 0.5 * torch.log(torch.tensor(2 * torch.pi, dtype=torch.float64))).sum(-1)
    torch.testing.assert_close(q.log_prob(z), expected)


def test_standard_normal_prior():
    prior = PRIORS.build("standard_normal", 4)
    assert isinstance(prior, StandardNormalPrior)
    p = prior()
    assert p.event_shape == (4,) and p.batch_shape == ()
    torch.testing.assert_close(p.mean, torch.zeros(4))
    torch.testing.assert_close(p.stddev, torch.ones(4))
    # Constants are buffers: they follow dtype moves and are not in the state dict.
    assert prior.double()().mean.dtype == torch.float64
    assert len(prior.state_dict()) == 0
    z = torch.zeros(4)
    torch.testing.assert_close(p.log_prob(z), torch.tensor(-2 * math.log(2 * math.pi)))
