"""Posterior samplers: ex-post Gaussian mixture density (Ghosh et al. 2020) and the prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.evaluation.latents import encode_dataset
from vaekit.models.base import build_model
from vaekit.samplers import GaussianMixtureSampler, PriorSampler, Sampler


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model({"type": "vae", "network": "mlp", "latent_dim": 2,
                        "data_shape": (1, 8, 8), "network_options": {"hidden": [32]}})


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(1)
    return (torch.rand(300, 1, 8, 8, generator=gen) > 0.5).float()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_sampler_shapes_range_and_mixture_mean(model, data, covariance_type):
    sampler = GaussianMixtureSampler(model, num_components=3, covariance_type=covariance_type,
                                     seed=0).fit(data)
    images = sampler.sample(25, torch.Generator().manual_seed(0))
    assert images.shape == (25, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    means, _ = encode_dataset(model, data)
    np.testing.assert_allclose(sampler.mixture_mean, means.mean(0), atol=1e-3)
    assert isinstance(sampler, Sampler)


def test_gmm_sampler_latents_follow_the_mixture(model, data):
    sampler = GaussianMixtureSampler(model, num_components=2, seed=0).fit(data)
    z = sampler.sample_latents(20000, torch.Generator().manual_seed(0)).numpy()
    gmm = sampler.mixture
    np.testing.assert_allclose(z.mean(0), sampler.mixture_mean, atol=0.05 * z.std())
    # mixture covariance: sum_k w_k (S_k + mu_k mu_k^T) - mu mu^T
    mu = sampler.mixture_mean
    cov = sum(w * (c + np.outer(m, m)) for w, m, c in
              zip(gmm.weights_, gmm.means_, gmm.covariances_)) - np.outer(mu, mu)
    np.testing.assert_allclose(np.cov(z, rowvar=False), cov, rtol=0.1, atol=0.02 * cov.max())


def test_gmm_sampler_is_reproducible(model, data):
    a = GaussianMixtureSampler(model, num_components=3, seed=5).fit(data)
    b = GaussianMixtureSampler(model, num_components=3, seed=5).fit(data)
    first = a.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(first, b.sample(10, torch.Generator().manual_seed(3)))
    assert torch.equal(first, a(10, torch.Generator().manual_seed(3)))
    assert not torch.equal(first, a.sample(10, torch.Generator().manual_seed(4)))
    torch.manual_seed(0)
    global_a = a.sample(4)
    torch.manual_seed(0)
    assert torch.equal(global_a, a.sample(4))


def test_gmm_sampler_decodes_like_the_model(model, data):
    sampler = GaussianMixtureSampler(model, num_components=2, seed=0, batch_size=7).fit(
        data, max_examples=100)
    z = sampler.sample_latents(16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.likelihood.mean_image(model.decode(z.float()))
    got = sampler.sample(16, torch.Generator().manual_seed(0))  # decoded in chunks of 7
    torch.testing.assert_close(got, expected)
    assert sampler.sample(0).shape == (0, 1, 8, 8)


def test_gmm_sampler_needs_fit(model):
    with pytest.raises(RuntimeError, match="fit"):
        GaussianMixtureSampler(model).sample(3)


def test_prior_sampler_matches_model_sample(model):
    sampler = PriorSampler(model).fit()
    got = sampler.sample(12, torch.Generator().manual_seed(2))
    expected = model.sample(12, generator=torch.Generator().manual_seed(2))
    assert torch.equal(got, expected)
    # in chunks: the same as successive model.sample calls on one generator
    chunked = PriorSampler(model, batch_size=5)(12, torch.Generator().manual_seed(2))
    gen = torch.Generator().manual_seed(2)
    parts = [model.sample(m, generator=gen) for m in (5, 5, 2)]
    assert torch.equal(chunked, torch.cat(parts))
    assert got.shape == (12, 1, 8, 8) and got.min() >= 0 and got.max() <= 1
