"""The sampler registry: every sampler is built by name and works; unknown names are errors."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import RegistryError
from vaekit.samplers import (
    SAMPLERS,
    FlowSampler,
    GaussianMixtureSampler,
    PriorSampler,
    Sampler,
    TwoStageVAESampler,
    build_sampler,
)

FAST_OPTIONS = {
    "prior": ({}, PriorSampler),
    "gmm": ({"num_components": 2}, GaussianMixtureSampler),
    "two_stage": ({"hidden": (8,), "steps": 10}, TwoStageVAESampler),
    "maf": ({"num_layers": 2, "hidden": (8,), "steps": 10}, FlowSampler),
}


def test_registered_names():
    assert set(SAMPLERS.names()) >= set(FAST_OPTIONS)


@pytest.mark.parametrize("name", sorted(FAST_OPTIONS))
def test_build_sampler_by_name(name, model, dataset):
    options, cls = FAST_OPTIONS[name]
    sampler = build_sampler(name.upper() if name == "maf" else name, model, **options)
    assert type(sampler) is cls and sampler.model is model
    assert sampler.fit(dataset, max_examples=64) is sampler
    assert isinstance(sampler, Sampler)
    first = sampler(5, torch.Generator().manual_seed(0))
    assert first.shape == (5, 1, 8, 8) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, sampler.sample(5, torch.Generator().manual_seed(0)))


def test_unknown_sampler_lists_the_known_ones(model):
    known = "Known samplers: code_prior, gmm, maf, prior, two_stage"
    with pytest.raises(RegistryError, match=known) as err:
        build_sampler("flow++", model)
    assert "unknown sampler 'flow++'" in str(err.value)
    with pytest.raises(RegistryError, match="Did you mean 'two_stage'"):
        build_sampler("two-stage", model)
