"""Masked autoregressive flow (Papamakarios et al. 2017) and the flow sampler on latent codes:
the log-det against autograd's Jacobian, an exact inverse, a density that integrates to 1, and
a maximum-likelihood fit that recovers a correlated Gaussian."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian
from torch.distributions import MultivariateNormal

from vaekit.errors import ConfigError
from vaekit.evaluation.latents import encode_dataset
from vaekit.samplers import FlowSampler, MaskedAutoregressiveFlow, Sampler
from vaekit.samplers.maf import MAFLayer

TRUE_MEAN = torch.tensor([1.5, -1.0])
TRUE_COV = torch.tensor([[2.0, 1.2], [1.2, 1.0]])


def nonlinear_flow(dim: int = 3, num_layers: int = 3, seed: int = 0) -> MaskedAutoregressiveFlow:
    """A float64 flow with weights larger than the default init, for a clearly nonlinear map."""
    torch.manual_seed(seed)
    flow = MaskedAutoregressiveFlow(dim, num_layers, hidden=(8, 8)).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.mul_(2.0)
    return flow


@pytest.fixture(scope="module")
def gaussian_codes() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return TRUE_MEAN + torch.randn(2000, 2, generator=gen) @ torch.linalg.cholesky(TRUE_COV).T


@pytest.fixture(scope="module")
def fitted(model, gaussian_codes) -> FlowSampler:
    return FlowSampler(model, num_layers=3, hidden=(32, 32), steps=600, lr=3e-3,
                       seed=0).fit_latents(gaussian_codes)


def test_log_det_matches_autograd_jacobian():
    flow = nonlinear_flow()
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    _, log_det = flow(x)
    for xi, ld in zip(x, log_det):
        jac = jacobian(lambda v: flow(v)[0], xi)
        assert torch.linalg.slogdet(jac).logabsdet.item() == pytest.approx(ld.item(), abs=1e-10)
    # with the order reversed between layers, every u_i depends on every x_j
    assert (jac.abs() > 1e-8).all()


def test_layer_is_autoregressive_with_exp_minus_alpha_diagonal():
    torch.manual_seed(0)
    layer = MAFLayer(4, [12, 12]).double()
    x = torch.randn(4, dtype=torch.float64)
    jac = jacobian(lambda v: layer(v)[0], x)
    # u_i depends on x_{<=i} only: a lower-triangular Jacobian ...
    assert torch.equal(torch.triu(jac, diagonal=1), torch.zeros_like(jac))
    # ... whose diagonal du_i/dx_i = exp(-alpha_i) gives the log-det of eq. 5.
    _, alpha = layer.made(x)
    torch.testing.assert_close(torch.diagonal(jac), torch.exp(-alpha))
    assert jac.tril(-1).abs().sum() > 0  # and it does condition on earlier dimensions


def test_inverse_is_exact():
    flow = nonlinear_flow(dim=4, num_layers=4)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    u, _ = flow(x)
    torch.testing.assert_close(flow.inverse(u), x, atol=1e-10, rtol=0)
    u = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(flow(flow.inverse(u))[0], u, atol=1e-10, rtol=0)


def test_one_dimensional_flow_is_an_affine_map():
    flow = nonlinear_flow(dim=1, num_layers=2)
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    u, log_det = flow(x)
    torch.testing.assert_close(flow.inverse(u), x)
    assert torch.allclose(log_det, log_det[0])  # MADE output 0 reads no input: constant slope


def test_fitted_flow_recovers_a_correlated_gaussian(fitted, gaussian_codes):
    assert fitted.loss_history[-50:].mean() < fitted.loss_history[:5].mean() - 0.3
    z = fitted.sample_latents(20000, torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(z.mean(0), TRUE_MEAN.double(), atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), TRUE_COV.double(), atol=0.15, rtol=0)
    nll = -fitted.log_prob(gaussian_codes).mean().item()
    true_nll = -MultivariateNormal(TRUE_MEAN, TRUE_COV).log_prob(gaussian_codes).mean().item()
    standard_nll = -MultivariateNormal(torch.zeros(2), torch.eye(2)).log_prob(
        gaussian_codes).mean().item()
    assert nll < standard_nll - 1.0
    assert nll == pytest.approx(true_nll, abs=0.05)


def test_fitted_density_integrates_to_one(fitted):
    # Riemann sum over +-8 standard deviations around the mean (mass outside < 1e-12).
    steps = 321
    axes = [torch.linspace(m - 8 * s, m + 8 * s, steps)
            for m, s in zip(TRUE_MEAN.tolist(), TRUE_COV.diagonal().sqrt().tolist())]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    cell = math.prod(float(a[1] - a[0]) for a in axes)
    mass = fitted.log_prob(grid).double().exp().sum().item() * cell
    assert mass == pytest.approx(1.0, abs=0.02)


def test_flow_sampler_on_a_model(model, dataset):
    sampler = FlowSampler(model, num_layers=2, hidden=(16,), steps=50, batch_size=7).fit(
        dataset, max_examples=150)
    assert isinstance(sampler, Sampler)
    images = sampler.sample(16, torch.Generator().manual_seed(0))  # decoded in chunks of 7
    assert images.shape == (16, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    z = sampler.sample_latents(16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.likelihood.mean_image(model.decode(z))
    torch.testing.assert_close(images, expected)
    # standardised on the codes it was fitted to
    means, _ = encode_dataset(model, dataset, max_examples=150)
    np.testing.assert_allclose(sampler.shift.numpy(), means.mean(0), atol=1e-5)
    assert sampler.sample(0).shape == (0, 1, 8, 8)
    assert model.training  # evaluating() restored the mode


def test_flow_sampler_is_reproducible_and_leaves_the_global_rng_alone(model, dataset):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = FlowSampler(model, num_layers=2, hidden=(16,), steps=30, seed=4).fit(dataset)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = FlowSampler(model, num_layers=2, hidden=(16,), steps=30, seed=4).fit(dataset)
    assert torch.equal(a.loss_history, b.loss_history)
    first = a.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(first, b.sample(10, torch.Generator().manual_seed(3)))
    assert torch.equal(first, a(10, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, a.sample(10, torch.Generator().manual_seed(4)))
    c = FlowSampler(model, num_layers=2, hidden=(16,), steps=30, seed=5).fit(dataset)
    assert not torch.equal(a.loss_history, c.loss_history)


def test_flow_sampler_errors(model):
    with pytest.raises(RuntimeError, match="fit"):
        FlowSampler(model).sample(3)
    with pytest.raises(ValueError, match="at least 2 codes"):
        FlowSampler(model).fit_latents(torch.zeros(1, 2))
    with pytest.raises(ConfigError, match="num_layers"):
        MaskedAutoregressiveFlow(2, num_layers=0)
    with pytest.raises(ConfigError, match="lr"):
        FlowSampler(model, lr=0.0)
