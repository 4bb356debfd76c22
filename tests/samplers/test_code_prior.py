"""The code-prior sampler: an autoregressive prior fitted to a VQ-VAE's frozen codes."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.errors import ConfigError
from vaekit.models.base import build_model
from vaekit.samplers import SAMPLERS, build_sampler
from vaekit.samplers.code_prior import CodePriorSampler


@pytest.fixture(scope="module")
def vq_model():
    torch.manual_seed(0)
    return build_model({"type": "vq_vae", "data_shape": (1, 8, 8), "num_codes": 8,
                        "code_dim": 4, "downsample": 1, "hidden_channels": 8,
                        "residual_blocks": 1, "residual_hidden": 4, "prior_layers": 1,
                        "prior_width": 16})


def test_fitting_learns_the_code_distribution(vq_model, dataset):
    sampler = CodePriorSampler(vq_model, steps=150, batch_size=32, lr=3e-3, width=32, layers=1)
    grid = vq_model.grid_shape
    uniform = grid[0] * grid[1] * math.log(vq_model.quantizer.num_codes)
    # Zero-initialised logits: before fitting, the prior is exactly uniform over the codes.
    assert sampler.nll(dataset) == pytest.approx(uniform, rel=1e-5)
    sampler.fit(dataset)
    assert len(sampler.losses) == 150 and sampler.losses[-20:].mean() < sampler.losses[:5].mean()
    # The codes of the squares data are far from uniform; the fitted prior must see that.
    assert sampler.nll(dataset) < 0.8 * uniform


def test_samples_are_images_and_reproducible(vq_model, dataset):
    sampler = build_sampler("code_prior", vq_model, steps=5).fit(dataset, max_examples=64)
    a = sampler(6, torch.Generator().manual_seed(1))
    b = sampler.sample(6, torch.Generator().manual_seed(1))
    assert a.shape == (6, 1, 8, 8) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    # Fitting draws its own noise: the caller's random stream is left alone.
    state = torch.get_rng_state()
    sampler.fit(dataset, max_examples=32)
    assert torch.equal(state, torch.get_rng_state())


def test_continuous_models_are_refused_with_the_alternatives(model):
    assert "code_prior" in SAMPLERS
    with pytest.raises(ConfigError, match="discrete codes.*'gmm' or 'maf'"):
        CodePriorSampler(model)
