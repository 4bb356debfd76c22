"""Tests of Chen et al. (2018)'s MIG estimator from Gaussian posteriors.

Tiny factor grids (hundreds to a few thousand points), so the whole file takes about a second.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal
from toy_factors import SIZES, ToyEncoder, ToyFactors

from vaekit.registry import METRICS

mig_chen = importlib.import_module("vaekit.evaluation.disentanglement.mig_chen")

GRID = np.stack(np.unravel_index(np.arange(int(np.prod(SIZES))), SIZES), axis=1)  # (60, 3)


def test_entropy_kernel_matches_float64_logsumexp() -> None:
    # The float32 chunked kernel against the plain float64 formula, stds from 1e-3 to 2 and
    # more points than one chunk holds.
    rng = np.random.default_rng(0)
    n, d = 3000, 3
    means = rng.normal(size=(n, d))
    stds = np.exp(rng.uniform(math.log(1e-3), math.log(2.0), size=(n, d)))
    samples = means + stds * rng.normal(size=(n, d))
    points = np.sort(rng.choice(n, 1000, replace=False))
    kernel = mig_chen._Posteriors(means, stds, torch.device("cpu"))
    for subset in (None, points):
        pool = np.arange(n) if subset is None else subset
        z = samples[pool[:200]]
        got = kernel.entropy(z, subset)
        log_q = Normal(torch.as_tensor(means[pool]), torch.as_tensor(stds[pool])).log_prob(
            torch.as_tensor(z)[:, None, :])  # (S, M, D)
        expected = (math.log(len(pool)) - torch.logsumexp(log_q, dim=1)).mean(dim=0).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-4)


def test_mutual_information_matches_numerical_integration() -> None:
    # A binary factor; code 0 has posterior N(-1, 0.5^2) or N(1, 0.5^2) by the factor's value,
    # code 1 N(0, 1) whatever the factor. Then q(z0) is a two-component mixture whose entropy
    # is integrated on a fine grid, H(z0 | v) is a Gaussian's, and I(z1; v) = 0.
    n = 4000
    v = np.repeat([0, 1], n // 2)[:, None]
    means = np.stack([np.where(v[:, 0] == 0, -1.0, 1.0), np.zeros(n)], axis=1)
    stds = np.stack([np.full(n, 0.5), np.ones(n)], axis=1)
    out = mig_chen.mig_chen_from_posteriors(v, means, stds, num_samples=n)

    x = np.linspace(-8.0, 8.0, 200_001)
    density = 0.5 * (Normal(-1.0, 0.5).log_prob(torch.as_tensor(x)).exp()
                     + Normal(1.0, 0.5).log_prob(torch.as_tensor(x)).exp()).numpy()
    h_marginal = -np.sum(density * np.log(density + 1e-300)) * (x[1] - x[0])
    h_conditional = 0.5 * math.log(2 * math.pi * math.e * 0.25)
    true_mi = h_marginal - h_conditional  # about 0.633 nats

    mi = np.asarray(out["mutual_info"])  # (codes, factors)
    assert mi[0, 0] == pytest.approx(true_mi, abs=0.02)  # Monte-Carlo error ~ 0.005
    assert mi[1, 0] == pytest.approx(0.0, abs=1e-6)  # same mixture, same samples
    assert out["marginal_entropies"][0] == pytest.approx(h_marginal, abs=0.03)
    assert out["factor_entropies"] == pytest.approx([math.log(2)])
    assert out["mig"] == pytest.approx(true_mi / math.log(2), abs=0.03)


def test_factors_in_separate_dims_give_mig_near_one() -> None:
    factors = np.tile(GRID, (10, 1))
    out = mig_chen.mig_chen_from_posteriors(factors, factors.astype(np.float64),
                                            np.full(factors.shape, 0.01))
    assert out["mig"] > 0.97
    assert np.min(out["mig_per_factor"]) > 0.97
    normalized = np.asarray(out["normalized_mutual_info"])
    np.testing.assert_allclose(normalized, np.eye(3), atol=0.03)
    assert out["factor_entropies"] == pytest.approx(np.log(SIZES).tolist())


def test_codes_independent_of_factors_give_mig_near_zero() -> None:
    factors = np.tile(GRID, (10, 1))
    rng = np.random.default_rng(1)
    out = mig_chen.mig_chen_from_posteriors(factors, rng.normal(size=(len(factors), 4)),
                                            np.full((len(factors), 4), 0.3))
    assert out["mig"] < 0.05
    assert np.max(out["normalized_mutual_info"]) < 0.05


def test_same_seed_identical_and_subsampling() -> None:
    factors = np.tile(GRID, (20, 1))
    rng = np.random.default_rng(2)
    means = factors + 0.3 * rng.normal(size=factors.shape)
    stds = np.full(factors.shape, 0.2)
    kwargs = {"num_samples": 500, "seed": 5}
    first = mig_chen.mig_chen_from_posteriors(factors, means, stds, **kwargs)
    assert mig_chen.mig_chen_from_posteriors(factors, means, stds, **kwargs) == first
    other = mig_chen.mig_chen_from_posteriors(factors, means, stds, num_samples=500, seed=6)
    assert other["mig"] != first["mig"]
    assert other["mig"] == pytest.approx(first["mig"], abs=0.05)
    assert first["num_samples"] == 500 and first["num_points"] == len(factors)
    sub = mig_chen.mig_chen_from_posteriors(factors, means, stds, max_points=600, **kwargs)
    assert sub["num_points"] == 600
    assert sub["mig"] == pytest.approx(first["mig"], abs=0.1)


def test_constant_factor_and_single_code() -> None:
    factors = np.tile(GRID, (5, 1))
    factors[:, 2] = 1
    out = mig_chen.mig_chen_from_posteriors(factors, factors[:, :1].astype(np.float64),
                                            np.full((len(factors), 1), 0.01))
    gaps = out["mig_per_factor"]
    assert math.isnan(gaps[2])  # constant: no entropy to gap
    assert gaps[0] > 0.97  # one code: the second-best MI is 0
    assert gaps[1] == pytest.approx(0.0, abs=0.01)
    assert out["mig"] == pytest.approx(np.mean(gaps[:2]))


def test_rejects_bad_posteriors() -> None:
    factors = GRID
    with pytest.raises(ValueError, match="positive"):
        mig_chen.mig_chen_from_posteriors(factors, np.zeros((60, 2)), np.zeros((60, 2)))
    with pytest.raises(ValueError, match="shape"):
        mig_chen.mig_chen_from_posteriors(factors, np.zeros((60, 2)), np.ones((60, 3)))


# ---------------------------------------------------------------- dataset and registry



def test_compute_mig_chen_and_registered_metric() -> None:
    model = ToyEncoder(torch.eye(3)[[1, 2, 0]], std=0.02)
    metric = METRICS.get("mig_chen")
    assert metric is mig_chen.mig_chen_metric
    out = metric(model, ToyFactors())  # the whole 60-point grid
    assert out["num_points"] == 60
    assert out["mig"] > 0.9
    assert np.asarray(out["mutual_info"]).shape == (3, 3)

    def posterior(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        qz = model.encode(x)
        return qz.mean.detach().numpy(), qz.stddev.detach().numpy()

    same = mig_chen.compute_mig_chen(posterior, ToyFactors(), batch_size=7)
    assert same == out  # batch size does not matter; a function works like the model
    scored = mig_chen.compute_mig_chen(model, ToyFactors(), factor_indices=(1, 2),
                                       max_points=40)
    assert len(scored["mig_per_factor"]) == 2 and scored["num_points"] == 40
    with pytest.raises(TypeError):
        mig_chen.compute_mig_chen(42, ToyFactors())
