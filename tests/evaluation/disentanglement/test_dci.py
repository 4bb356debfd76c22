"""Tests of DCI (Eastwood & Williams 2018, disentanglement_lib's form) and its fast path.

Small sizes throughout (hundreds of points, factors of 4, 5 and 3 values) so the file runs in a
few seconds; ``benchmarks/dci_speed.py`` compares the two paths at the default sizes.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from toy_factors import SIZES, ToyEncoder, ToyFactors

from vaekit.registry import METRICS

# By full name, so a package __init__ re-exporting a function called dci cannot shadow it.
dci_mod = importlib.import_module("vaekit.evaluation.disentanglement.dci")

N_TRAIN, N_TEST = 500, 250
SCORES = ("disentanglement", "completeness", "informativeness_train", "informativeness_test")


def draw_factors(n: int, rng: np.random.Generator, sizes: np.ndarray = SIZES) -> np.ndarray:
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1)


@pytest.fixture(scope="module")
def factors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return draw_factors(N_TRAIN, rng), draw_factors(N_TEST, rng)


def partial_codes(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A partly disentangled representation: each code mostly one factor, some of the next
    one, noise and a monotone warp; plus two collapsed dimensions."""
    u = 2.0 * f / (SIZES - 1) - 1.0
    mixed = u + 0.3 * np.roll(u, -1, axis=1) + 0.1 * rng.normal(size=u.shape)
    return np.concatenate([np.sinh(1.5 * mixed), 0.05 * rng.normal(size=(len(f), 2))], axis=1)


# ------------------------------------------------------------------------------- scores
def test_scores_by_hand() -> None:
    # one code per factor: perfect; one code for everything: complete but not disentangled
    assert dci_mod.disentanglement(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
    assert dci_mod.completeness(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
    one_code = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    assert dci_mod.disentanglement(one_code) == pytest.approx(0.0, abs=1e-8)
    assert dci_mod.completeness(one_code) == pytest.approx(1.0, abs=1e-8)
    assert dci_mod.disentanglement(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-8)
    assert dci_mod.completeness(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-8)


def test_scores_match_disentanglement_lib_formulas() -> None:
    # disentanglement_lib's code, with scipy's entropy, on a random matrix with a zero row
    r = np.random.default_rng(1).random((6, 4))
    r[2] = 0.0
    per_code = 1.0 - entropy(r.T + 1e-11, base=r.shape[1])
    expected_d = np.sum(per_code * r.sum(axis=1) / r.sum())
    per_factor = 1.0 - entropy(r + 1e-11, base=r.shape[0])
    expected_c = np.sum(per_factor * r.sum(axis=0) / r.sum())
    assert dci_mod.disentanglement(r) == pytest.approx(expected_d, abs=1e-12)
    assert dci_mod.completeness(r) == pytest.approx(expected_c, abs=1e-12)


# ------------------------------------------------------------------------------ metric
@pytest.mark.parametrize("fast", [False, True])
def test_factor_codes_score_near_one(factors, fast: bool) -> None:
    f_train, f_test = factors
    rng = np.random.default_rng(2)
    out = dci_mod.dci(f_train, f_train + 0.05 * rng.normal(size=f_train.shape),
                      f_test, f_test + 0.05 * rng.normal(size=f_test.shape), fast=fast)
    assert out["disentanglement"] > 0.95
    assert out["completeness"] > 0.95
    assert out["informativeness_train"] > 0.97
    assert out["informativeness_test"] > 0.97
    importance = np.asarray(out["importance_matrix"])
    assert importance.shape == (3, 3)
    np.testing.assert_allclose(importance.sum(axis=0), 1.0)  # sklearn's normalisation
    assert (np.argmax(importance, axis=0) == np.arange(3)).all()


@pytest.mark.parametrize("fast", [False, True])
def test_noise_codes_score_near_zero(factors, fast: bool) -> None:
    f_train, f_test = factors
    rng = np.random.default_rng(3)
    out = dci_mod.dci(f_train, rng.normal(size=(N_TRAIN, 4)), f_test,
                      rng.normal(size=(N_TEST, 4)), fast=fast)
    assert out["disentanglement"] < 0.1
    assert out["completeness"] < 0.1
    chance = float(np.mean(1.0 / SIZES))
    assert abs(out["informativeness_test"] - chance) < 0.08
    assert out["informativeness_train"] > out["informativeness_test"]  # trees fit noise


@pytest.fixture(scope="module")
def partial(factors) -> dict:
    """Partly disentangled codes and their scores by both paths (computed once: the reference
    path is the slow part of this file)."""
    f_train, f_test = factors
    rng = np.random.default_rng(4)
    z_train, z_test = partial_codes(f_train, rng), partial_codes(f_test, rng)
    return {"z_train": z_train, "z_test": z_test,
            False: dci_mod.dci(f_train, z_train, f_test, z_test, fast=False),
            True: dci_mod.dci(f_train, z_train, f_test, z_test, fast=True)}


@pytest.mark.parametrize("fast", [False, True])
def test_invariant_to_rescaling_codes(factors, partial, fast: bool) -> None:
    f_train, f_test = factors
    # Powers of two rescale exactly in floating point, so the trees see the same orderings and
    # thresholds. (Not much below 1/8: sklearn's splitter treats values closer than an absolute
    # 1e-7 as equal, so shrinking codes a lot does change its trees.)
    scale = np.array([4.0, 0.125, 1024.0, 0.5, 2.0])
    moved = dci_mod.dci(f_train, partial["z_train"] * scale, f_test, partial["z_test"] * scale,
                        fast=fast)
    base = partial[fast]
    tol = 1e-12
    for key in SCORES:
        assert moved[key] == pytest.approx(base[key], abs=tol)
    np.testing.assert_allclose(np.asarray(moved["importance_matrix"]),
                               np.asarray(base["importance_matrix"]), atol=tol)


@pytest.mark.parametrize("fast", [False, True])
def test_invariant_to_permuting_codes(factors, partial, fast: bool) -> None:
    f_train, f_test = factors
    perm = np.array([3, 0, 4, 1, 2])
    moved = dci_mod.dci(f_train, partial["z_train"][:, perm], f_test, partial["z_test"][:, perm],
                        fast=fast)
    base = partial[fast]
    # Up to ties: in small nodes several codes can make the same partition, and the tie goes
    # by feature order (sklearn: a seeded shuffle of the features; fast path: the first code).
    for key in SCORES:
        assert moved[key] == pytest.approx(base[key], abs=0.01)
    np.testing.assert_allclose(np.asarray(moved["importance_matrix"]),
                               np.asarray(base["importance_matrix"])[perm], atol=0.01)


@pytest.mark.parametrize("fast", [False, True])
def test_same_seed_gives_identical_results(factors, partial, fast: bool) -> None:
    f_train, f_test = factors
    again = dci_mod.dci(f_train, partial["z_train"], f_test, partial["z_test"], fast=fast, seed=0)
    assert again == partial[fast]


def test_fast_path_close_to_reference(partial) -> None:
    # Realistic codes; at the default sizes on dSprites benchmarks/dci_speed.py measures the
    # differences (results/dci_speed.json). Tolerance here: 0.03 on every score.
    for key in SCORES:
        assert partial[True][key] == pytest.approx(partial[False][key], abs=0.03), key


def test_fast_path_grows_the_reference_trees_on_few_distinct_values() -> None:
    # With at most 255 distinct values per code every exact split is a bin edge, so the binned
    # boosting must reproduce sklearn's (up to ties and rounding), binary factor included.
    rng = np.random.default_rng(7)
    sizes = np.array([2, 3, 7])
    f_train, f_test = draw_factors(800, rng, sizes), draw_factors(400, rng, sizes)
    weights = rng.normal(size=(3, 4))

    def codes(f: np.ndarray) -> np.ndarray:
        z = (f / sizes) @ weights + 0.3 * rng.normal(size=(len(f), 4))
        return np.round(z * 20) / 20  # a few dozen distinct values per dimension

    z_train, z_test = codes(f_train), codes(f_test)
    imp_ref, train_ref, test_ref = dci_mod.gbt_importance(f_train, z_train, f_test, z_test)
    imp_fast, train_fast, test_fast = dci_mod.hist_gbt_importance(f_train, z_train, f_test,
                                                                  z_test)
    np.testing.assert_allclose(imp_fast, imp_ref, atol=0.01)
    np.testing.assert_allclose(train_fast, train_ref, atol=0.01)
    np.testing.assert_allclose(test_fast, test_ref, atol=0.01)


@pytest.mark.parametrize("fast", [False, True])
def test_constant_factor_gets_no_importance(factors, fast: bool) -> None:
    f_train, f_test = factors
    f_train, f_test = f_train.copy(), f_test.copy()
    f_train[:, 1] = 2
    f_test[:, 1] = 2
    rng = np.random.default_rng(8)
    out = dci_mod.dci(f_train, f_train + 0.05 * rng.normal(size=f_train.shape),
                      f_test, f_test + 0.05 * rng.normal(size=f_test.shape), fast=fast)
    importance = np.asarray(out["importance_matrix"])
    assert (importance[:, 1] == 0).all()
    assert np.isfinite([out[key] for key in SCORES]).all()
    assert out["informativeness_test"] > 0.97


def test_rejects_mismatched_arrays(factors) -> None:
    f_train, f_test = factors
    with pytest.raises(ValueError, match="disagree"):
        dci_mod.dci(f_train, np.zeros((N_TRAIN, 3)), f_test, np.zeros((N_TEST, 4)))
    with pytest.raises(ValueError):
        dci_mod.dci(f_train, np.zeros((N_TRAIN - 1, 3)), f_test, np.zeros((N_TEST, 3)))


# ---------------------------------------------------------------- dataset and registry



def test_compute_dci_and_registered_metric() -> None:
    model = ToyEncoder(torch.eye(3)[[2, 0, 1]], std=0.1)  # a permuted identity: disentangled codes
    metric = METRICS.get("dci")
    assert metric is dci_mod.dci_metric
    out = metric(model, ToyFactors(), num_train=300, num_test=150, fast=True, seed=1)
    assert set(out) == {*SCORES, "importance_matrix"}
    assert np.asarray(out["importance_matrix"]).shape == (3, 3)
    assert out["disentanglement"] > 0.95 and out["informativeness_test"] > 0.97
    again = dci_mod.compute_dci(ToyFactors(), lambda x: model.encode(x).mean.detach().numpy(),
                                num_train=300, num_test=150, fast=True, seed=1,
                                batch_size=7)
    assert again == out  # batch size does not change the sampled points
