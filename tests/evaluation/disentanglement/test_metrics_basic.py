"""Tests of the disentanglement_lib-style metrics: BetaVAE, FactorVAE, MIG, SAP, Modularity and
explicitness, IRS.

Everything runs on a tiny synthetic ground-truth dataset (3 factors of sizes 4, 5, 3, rendered
as a 1x1x3 "image" of the scaled factor indices) with representation functions that return the
factors (plus noise) or pure noise, so the whole file takes a few seconds.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.registry import METRICS


def _module(name: str) -> ModuleType:
    # By full name, so a package __init__ re-exporting functions called mig, sap, irs or
    # modularity (shadowing the submodules as attributes) cannot change what is tested.
    return importlib.import_module(f"vaekit.evaluation.disentanglement.{name}")


beta_vae_score = _module("beta_vae_score")
factor_vae_score = _module("factor_vae_score")
irs = _module("irs")
mig = _module("mig")
modularity = _module("modularity")
sap = _module("sap")
utils = _module("utils")

SIZES = np.array([4, 5, 3])
N_TRAIN, N_EVAL = 500, 300


class ToyFactors(GroundTruthDataset):
    """3 factors of sizes 4, 5, 3; the observation holds the factor indices scaled to [0, 1]."""

    factor_names = ("a", "b", "c")
    factor_sizes = tuple(int(s) for s in SIZES)

    def factor_values(self) -> list[np.ndarray]:
        return [np.arange(s, dtype=np.float64) for s in SIZES]

    def render(self, factors: np.ndarray) -> torch.Tensor:
        factors = np.asarray(factors)
        return torch.as_tensor(factors / (SIZES - 1), dtype=torch.float32).reshape(-1, 1, 1, 3)


Represent = Callable[[torch.Tensor], np.ndarray]


def factor_codes(noise: float = 0.01, seed: int = 7, scales: np.ndarray | None = None,
                 perm: np.ndarray | None = None) -> Represent:
    """Codes = factor indices + Gaussian noise, optionally permuted and rescaled per dimension.

    A fresh function holds its own noise generator, so two fresh ones called in the same order
    give the same noise.
    """
    rng = np.random.default_rng(seed)

    def represent(x: torch.Tensor) -> np.ndarray:
        factors = np.rint(x.reshape(len(x), -1).numpy().astype(np.float64) * (SIZES - 1))
        codes = factors + noise * rng.normal(size=factors.shape)
        if perm is not None:
            codes = codes[:, perm]
        return codes if scales is None else codes * scales

    return represent


def noise_codes(dim: int = 3, seed: int = 7) -> Represent:
    rng = np.random.default_rng(seed)
    return lambda x: rng.normal(size=(len(x), dim))


def grid_factors(repeats: int = 1) -> np.ndarray:
    """Every combination of two binary factors (a full product design: exact independence)."""
    return np.tile(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), (repeats, 1))


@pytest.fixture(scope="module")
def dataset() -> ToyFactors:
    return ToyFactors()


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    """Training and test samples of factors, factor codes and noise codes."""
    rng = np.random.default_rng(0)
    f_train = np.stack([rng.integers(0, s, 2000) for s in SIZES], axis=1)
    f_test = np.stack([rng.integers(0, s, 1000) for s in SIZES], axis=1)
    return {
        "f_train": f_train,
        "f_test": f_test,
        "z_train": f_train + 0.01 * rng.normal(size=f_train.shape),
        "z_test": f_test + 0.01 * rng.normal(size=f_test.shape),
        "n_train": rng.normal(size=(2000, 4)),
        "n_test": rng.normal(size=(1000, 4)),
    }


# --------------------------------------------------------------------------- utils, by hand
def test_histogram_discretize_by_hand() -> None:
    # np.histogram(.., 2) on 0..4 has edges [0, 2, 4]; digitize against [0, 2].
    labels = utils.histogram_discretize(np.array([[0.0], [1.0], [2.0], [3.0], [4.0]]), 2)
    assert labels[:, 0].tolist() == [1, 1, 2, 2, 2]
    # 20 distinct equally spaced values land in the 20 bins 1..20; the maximum in the last bin.
    labels = utils.histogram_discretize(np.arange(20.0)[:, None] * 0.3, 20)
    assert labels[:, 0].tolist() == list(range(1, 21))
    # Columns are discretised independently; a constant column is one label.
    labels = utils.histogram_discretize(np.array([[5.0, 0.0], [5.0, 10.0], [5.0, 4.0]]), 20)
    assert len(set(labels[:, 0])) == 1
    assert labels[:, 1].tolist() == [1, 20, 9]


def test_histogram_discretize_is_affine_invariant() -> None:
    values = np.random.default_rng(0).normal(size=(300, 2))
    shifted = values * np.array([4.0, 0.5]) + np.array([3.0, -1.0])
    np.testing.assert_array_equal(utils.histogram_discretize(values),
                                  utils.histogram_discretize(shifted))


def test_entropy_and_mutual_info_by_hand() -> None:
    y = np.array([[0, 0], [0, 1], [1, 2], [1, 3]])
    np.testing.assert_allclose(utils.discrete_entropy(y), [math.log(2), math.log(4)])
    assert utils.discrete_entropy(np.zeros((5, 1), dtype=int))[0] == 0.0
    factor = np.array([0, 0, 1, 1])
    codes = np.stack([factor, [0, 1, 0, 1], [0, 0, 0, 1]], axis=1)
    mi = utils.discrete_mutual_info(codes, factor)
    # I(y; y) = H(y); independent columns: 0; z = [0,0,0,1]: H(z) - H(z | y) = H(1/4) - ln(2)/2.
    h_quarter = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    np.testing.assert_allclose(mi[:, 0], [math.log(2), 0.0, h_quarter - math.log(2) / 2],
                               atol=1e-12)
    assert mi.shape == (3, 1)


def test_normalize_columns_uses_training_statistics() -> None:
    data = np.array([[1.0, 5.0], [3.0, 5.0]])
    normed, mean, std = utils.normalize_columns(data)
    np.testing.assert_allclose(normed, [[-1.0, 0.0], [1.0, 0.0]])  # constant column: zeros
    test, _, _ = utils.normalize_columns(np.array([[5.0, 7.0]]), mean, std)
    np.testing.assert_allclose(test, [[3.0, 2.0]])


def test_represent_factor_batches_matches_one_call_per_batch(dataset: ToyFactors) -> None:
    rng = np.random.default_rng(0)
    batches = [dataset.sample_factors(n, rng) for n in (3, 5, 2, 7, 1)]
    represent = factor_codes(noise=0.0)
    grouped = utils.represent_factor_batches(dataset, represent, batches, max_images_per_call=6)
    assert [len(c) for c in grouped] == [3, 5, 2, 7, 1]
    for batch, codes in zip(batches, grouped):
        np.testing.assert_allclose(codes, batch)


# --------------------------------------------------------------------------------- MIG
def test_mig_by_hand() -> None:
    factors = grid_factors(5)
    # One code per factor, exactly independent of the other factor: every gap is H / H = 1.
    assert mig.mig(factors, factors.astype(float))["discrete_mig"] == pytest.approx(1.0)
    # Both codes copy factor 0: no gap for factor 0, no information about factor 1.
    copies = np.stack([factors[:, 0], factors[:, 0] * 2.0], axis=1)
    result = mig.mig(factors, copies)
    assert result["discrete_mig"] == pytest.approx(0.0)
    assert result["discrete_mig_per_factor"] == pytest.approx([0.0, 0.0])


def test_mig_top_and_bottom(arrays: dict[str, np.ndarray]) -> None:
    assert mig.mig(arrays["f_train"], arrays["z_train"])["discrete_mig"] > 0.9
    assert mig.mig(arrays["f_train"], arrays["n_train"])["discrete_mig"] < 0.05


def test_mig_entangled_codes_score_lower(arrays: dict[str, np.ndarray]) -> None:
    z = arrays["z_train"]
    # Each code mixes two factors: information is shared, so the gaps shrink.
    mixed = np.stack([z[:, 0] + z[:, 1], z[:, 1] - z[:, 0], z[:, 2] + z[:, 0]], axis=1)
    assert mig.mig(arrays["f_train"], mixed)["discrete_mig"] < 0.5


def test_mig_invariant_to_permutation_and_rescaling(arrays: dict[str, np.ndarray]) -> None:
    codes = np.concatenate([arrays["z_train"], arrays["n_train"][:, :2]], axis=1)
    perm = np.array([3, 0, 4, 2, 1])
    # Powers of two keep the histogram edges bit-exact, so the MI estimates are identical.
    scales = np.array([2.0, 0.25, 8.0, 0.5, 4.0])
    a = mig.mig(arrays["f_train"], codes)
    b = mig.mig(arrays["f_train"], codes[:, perm] * scales + 3.0)
    assert a["discrete_mig"] == pytest.approx(b["discrete_mig"], abs=1e-12)


def test_mig_edge_cases() -> None:
    factors = np.stack([grid_factors(3)[:, 0], np.zeros(12, dtype=int)], axis=1)
    # A constant factor is left out of the mean instead of producing NaN.
    result = mig.mig(factors, factors[:, :1].astype(float))
    assert result["discrete_mig"] == pytest.approx(1.0)
    assert math.isnan(result["discrete_mig_per_factor"][1])
    with pytest.raises(ValueError):
        mig.mig(factors, np.zeros((5, 2)))


# --------------------------------------------------------------------------------- SAP
def test_avg_diff_top_two_by_hand() -> None:
    assert sap.avg_diff_top_two(np.array([[0.9, 0.1], [0.5, 0.2]])) == pytest.approx(0.25)
    assert sap.avg_diff_top_two(np.array([[0.7, 0.4]])) == pytest.approx(0.55)


def test_sap_continuous_by_hand() -> None:
    factors = grid_factors(3)
    # Squared correlation 1 with the own factor and exactly 0 with the other.
    matrix = sap.sap_score_matrix(factors, factors.astype(float), continuous_factors=True)
    np.testing.assert_allclose(matrix, np.eye(2), atol=1e-12)
    # A constant code scores 0 (not NaN).
    flat = np.stack([factors[:, 0], np.ones(12)], axis=1).astype(float)
    matrix = sap.sap_score_matrix(factors, flat, continuous_factors=True)
    np.testing.assert_allclose(matrix[1], [0.0, 0.0])


def test_sap_top_and_bottom(arrays: dict[str, np.ndarray]) -> None:
    good = sap.sap(arrays["f_train"], arrays["z_train"], arrays["f_test"], arrays["z_test"])
    bad = sap.sap(arrays["f_train"], arrays["n_train"], arrays["f_test"], arrays["n_test"])
    # A 1-D linear classifier cannot isolate the middle values of a factor, so even perfect
    # codes stay well below 1 in the discrete variant (as in disentanglement_lib).
    assert good["SAP_score"] > 0.3
    assert bad["SAP_score"] < 0.06
    good = sap.sap(arrays["f_train"], arrays["z_train"], continuous_factors=True)
    bad = sap.sap(arrays["f_train"], arrays["n_train"], continuous_factors=True)
    assert good["SAP_score"] > 0.99
    assert bad["SAP_score"] < 0.02


def test_sap_discrete_needs_test_arrays(arrays: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="test"):
        sap.sap(arrays["f_train"], arrays["z_train"])


def test_sap_constant_factor_has_no_gap() -> None:
    rng = np.random.default_rng(0)
    factors = np.stack([rng.integers(0, 3, 200), np.zeros(200, dtype=int)], axis=1)
    codes = rng.normal(size=(200, 2))
    matrix = sap.sap_score_matrix(factors, codes, factors, codes)
    np.testing.assert_allclose(matrix[:, 1], [1.0, 1.0])


# --------------------------------------------------------------------- modularity, explicitness
def test_modularity_by_hand() -> None:
    assert modularity.modularity(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])) == 1.0
    # Equal information about both factors: the least modular code.
    assert modularity.modularity(np.array([[1.0, 1.0]])) == pytest.approx(0.0)
    # theta^2 = [4, 1, 0]: delta = 1 / (4 * 2), modularity 0.875; a zero row scores 0.
    assert modularity.modularity(np.array([[2.0, 1.0, 0.0]])) == pytest.approx(0.875)
    assert modularity.modularity(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])) == pytest.approx(
        0.4375)
    # Scaling a code's MI row does not change its modularity: it ignores informativeness.
    assert modularity.modularity(np.array([[2e-3, 1e-3, 0.0]])) == pytest.approx(0.875)
    assert modularity.modularity(np.array([[0.3], [0.0]])) == pytest.approx(0.5)  # K = 1


def test_modularity_explicitness_top(arrays: dict[str, np.ndarray]) -> None:
    result = modularity.modularity_explicitness(arrays["f_train"], arrays["z_train"],
                                                arrays["f_test"], arrays["z_test"])
    assert result["modularity_score"] > 0.95
    assert result["explicitness_score_train"] > 0.97
    assert result["explicitness_score_test"] > 0.97


def test_modularity_explicitness_noise(arrays: dict[str, np.ndarray]) -> None:
    result = modularity.modularity_explicitness(arrays["f_train"], arrays["n_train"],
                                                arrays["f_test"], arrays["n_test"])
    # Explicitness is a ROC AUC: chance is 0.5.
    assert abs(result["explicitness_score_test"] - 0.5) < 0.05
    # Modularity only asks that each code's (tiny, estimation-bias) MI be dominated by one
    # factor; the plug-in bias grows with the number of factor values, so noise codes keep a
    # clearly non-zero modularity although they carry no information at all.
    assert result["modularity_score"] > 0.3


def test_modularity_drops_for_codes_mixing_factors(arrays: dict[str, np.ndarray]) -> None:
    z = arrays["z_train"]
    # Each code encodes two factors without loss (at most 20 distinct values, one per bin), so
    # its MI is split between them: theta^2 ~ [H_a^2, H_b^2, 0] gives modularity ~0.6 per code.
    mixed = np.stack([z[:, 0] + 4 * z[:, 1], z[:, 1] + 5 * z[:, 2], z[:, 2] + 3 * z[:, 0]],
                     axis=1)
    f = arrays["f_train"]
    assert modularity.modularity_explicitness(f, mixed, f, mixed)["modularity_score"] < 0.75


def test_explicitness_handles_missing_classes() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(60, 2))
    labels = np.repeat([0, 1, 2], 20)
    codes[:, 0] += labels * 3.0
    # The test points lack class 2: AUC over the classes that can be scored.
    train_auc, test_auc = modularity.explicitness_per_factor(codes, labels, codes[:40],
                                                             labels[:40])
    assert train_auc > 0.95 and test_auc > 0.95
    assert modularity.explicitness_per_factor(codes, np.zeros(60, int), codes,
                                              np.zeros(60, int)) == (0.5, 0.5)


# --------------------------------------------------------------------------------- IRS
def test_irs_by_hand() -> None:
    factors = grid_factors(2)
    # Codes equal to the factors: nothing moves while the parent factor is held fixed.
    assert irs.irs(factors, factors.astype(float))["IRS"] == pytest.approx(1.0)
    # z = y0 + y1: holding y0 leaves a spread of 0.5 around the group mean; max deviation 1.
    result = irs.irs_scores(factors, (factors[:, :1] + factors[:, 1:]).astype(float))
    np.testing.assert_allclose(result["irs_matrix"], [[0.5, 0.5]])
    # Constant codes are dropped; all constant -> 0.
    codes = np.stack([factors[:, 0], np.full(8, 3.0)], axis=1)
    assert irs.irs(factors, codes)["num_active_dims"] == 1
    assert irs.irs(factors, np.ones((8, 2))) == {"IRS": 0.0, "num_active_dims": 0,
                                                 "disentanglement_scores": []}


def test_irs_top_and_bottom(arrays: dict[str, np.ndarray]) -> None:
    top = irs.irs(arrays["f_train"], arrays["z_train"])["IRS"]
    bottom = irs.irs(arrays["f_train"], arrays["n_train"])["IRS"]
    assert top > 0.95
    # For noise the 0.99 quantile of within-group deviations nearly reaches the largest deviation.
    assert bottom < 0.4


def test_irs_discretizes_factors_into_bins() -> None:
    # 40 factor values are merged into 20 bins: codes equal to the raw factor then move within a
    # bin, so the IRS drops below 1 (as in disentanglement_lib).
    factors = np.arange(40)[:, None].repeat(5, axis=0)
    assert irs.irs(factors, factors.astype(float))["IRS"] < 1.0
    assert irs.irs(factors, factors.astype(float), num_bins=40)["IRS"] == pytest.approx(1.0)


# ------------------------------------------------------------------- BetaVAE / FactorVAE cores
def test_beta_vae_core() -> None:
    z1 = np.array([[0.0, 1.0], [2.0, 1.0]])
    z2 = np.array([[1.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(beta_vae_score.beta_vae_feature(z1, z2), [1.5, 1.0])
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    # Separable features: the fixed factor's coordinate is small, the others large.
    points = 1.0 + 0.1 * rng.normal(size=(300, 3))
    points[np.arange(300), labels] = 0.1
    result = beta_vae_score.beta_vae_accuracy(points[:200], labels[:200], points[200:],
                                              labels[200:])
    assert result == {"train_accuracy": 1.0, "eval_accuracy": 1.0}
    shuffled = beta_vae_score.beta_vae_accuracy(points[:200], rng.permutation(labels[:200]),
                                                points[200:], labels[200:])
    assert shuffled["eval_accuracy"] < 0.6


def test_factor_vae_core() -> None:
    np.testing.assert_array_equal(factor_vae_score.prune_dims(np.array([1.0, 1e-4, 0.0025])),
                                  [True, False, True])
    result = factor_vae_score.majority_vote_accuracy(np.array([[5, 0], [1, 4]]),
                                                     np.array([[2, 3], [0, 5]]))
    assert result == {"train_accuracy": 0.9, "eval_accuracy": 0.7}
    codes = np.array([[0.0, 1.0, 5.0], [1.0, 1.1, 3.0], [2.0, 0.9, 4.0]])
    global_var = np.array([1.0, 1.0, 1.0])
    # Dim 1 varies least; with dim 0 pruned it is position 0 among the active dims.
    assert factor_vae_score.factor_vae_vote(codes, global_var, np.array([True] * 3)) == 1
    assert factor_vae_score.factor_vae_vote(codes, global_var, np.array([False, True, True])) == 0
    # Relative to its (large) global variance dim 2 varies least.
    assert factor_vae_score.factor_vae_vote(codes, np.array([1.0, 1.0, 1e3]),
                                            np.array([True] * 3)) == 2


# ------------------------------------------------------------------------- dataset API
SMALL = {
    "mig": (mig.compute_mig, {"num_train": N_TRAIN}, "discrete_mig"),
    "sap": (sap.compute_sap, {"num_train": N_TRAIN, "num_test": N_EVAL}, "SAP_score"),
    "modularity": (modularity.compute_modularity_explicitness,
                   {"num_train": N_TRAIN, "num_test": N_EVAL}, "explicitness_score_test"),
    "irs": (irs.compute_irs, {"num_train": N_TRAIN}, "IRS"),
    "beta_vae": (beta_vae_score.compute_beta_vae_score,
                 {"num_train": N_TRAIN, "num_eval": N_EVAL}, "eval_accuracy"),
    "factor_vae": (factor_vae_score.compute_factor_vae_score,
                   {"num_train": N_TRAIN, "num_eval": N_EVAL, "num_variance_estimate": N_TRAIN},
                   "eval_accuracy"),
}
TOP = {"mig": 0.9, "sap": 0.3, "modularity": 0.97, "irs": 0.9, "beta_vae": 0.98,
       "factor_vae": 0.98}
# Upper bounds for noise codes; chance is 1/3 for the two classifier scores (3 factors).
BOTTOM = {"mig": 0.05, "sap": 0.08, "modularity": 0.58, "irs": 0.5, "beta_vae": 0.45,
          "factor_vae": 0.45}


@pytest.mark.parametrize("name", list(SMALL))
def test_dataset_api_top_and_bottom(dataset: ToyFactors, name: str) -> None:
    fn, options, key = SMALL[name]
    assert fn(dataset, factor_codes(noise=0.05), seed=0, **options)[key] > TOP[name]
    assert fn(dataset, noise_codes(), seed=0, **options)[key] < BOTTOM[name]


@pytest.mark.parametrize("name", list(SMALL))
def test_dataset_api_seeding(dataset: ToyFactors, name: str) -> None:
    fn, options, key = SMALL[name]
    # Heavy noise keeps every score away from its ceiling, so a new sample changes it.
    first = fn(dataset, factor_codes(noise=1.5), seed=0, **options)
    again = fn(dataset, factor_codes(noise=1.5), seed=0, **options)
    other = fn(dataset, factor_codes(noise=1.5), seed=1, **options)
    assert first == again
    assert first[key] != other[key]


def test_encoder_batching_does_not_change_results(dataset: ToyFactors) -> None:
    options = {"num_train": 100, "num_eval": 50}
    a = beta_vae_score.compute_beta_vae_score(dataset, factor_codes(1.5), max_images_per_call=64,
                                              **options)
    b = beta_vae_score.compute_beta_vae_score(dataset, factor_codes(1.5),
                                              max_images_per_call=4096, **options)
    assert a == b
    options["num_variance_estimate"] = 100
    a = factor_vae_score.compute_factor_vae_score(dataset, factor_codes(1.5),
                                                  max_images_per_call=64, **options)
    b = factor_vae_score.compute_factor_vae_score(dataset, factor_codes(1.5),
                                                  max_images_per_call=4096, **options)
    assert a == b
    a = mig.compute_mig(dataset, factor_codes(0.5), num_train=300, batch_size=7)
    b = mig.compute_mig(dataset, factor_codes(0.5), num_train=300, batch_size=300)
    assert a == b


def test_factor_vae_invariant_to_permutation_and_rescaling(dataset: ToyFactors) -> None:
    options = {"num_train": N_TRAIN, "num_eval": N_EVAL, "num_variance_estimate": N_TRAIN}
    base = factor_vae_score.compute_factor_vae_score(dataset, factor_codes(1.5), **options)
    # Powers of two keep the variance ratios bit-exact; all stay above the pruning threshold.
    moved = factor_vae_score.compute_factor_vae_score(
        dataset, factor_codes(1.5, perm=np.array([2, 0, 1]), scales=np.array([4.0, 0.5, 2.0])),
        **options)
    assert base == moved
    assert 0.5 < base["eval_accuracy"] < 1.0  # not saturated, so the check has teeth


def test_factor_vae_prunes_collapsed_dims(dataset: ToyFactors) -> None:
    def with_collapsed(x: torch.Tensor) -> np.ndarray:
        codes = factor_codes(0.05)(x)
        # A near-constant extra dimension (std 0.01 < 0.05) would otherwise win every vote.
        return np.concatenate([codes, 0.01 * np.random.default_rng(0).normal(size=(len(x), 1))],
                              axis=1)

    options = {"num_train": N_TRAIN, "num_eval": N_EVAL, "num_variance_estimate": N_TRAIN}
    result = factor_vae_score.compute_factor_vae_score(dataset, with_collapsed, **options)
    assert result["num_active_dims"] == 3
    assert result["eval_accuracy"] > 0.98
    collapsed = factor_vae_score.compute_factor_vae_score(
        dataset, lambda x: np.zeros((len(x), 2)), **options)
    assert collapsed == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}


# ------------------------------------------------------------------------------ registry
class _FactorEncoder(torch.nn.Module):
    """A "model" whose posterior mean is the rendered factor vector."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.distributions.Normal:
        mean = x.reshape(len(x), -1) * torch.as_tensor(SIZES - 1) * self.scale
        return torch.distributions.Normal(mean, torch.ones_like(mean))


@pytest.mark.parametrize("name,options,key,low", [
    ("mig", {"num_train": 300}, "discrete_mig", 0.9),
    ("sap", {"num_train": 300, "num_test": 200, "continuous_factors": True}, "SAP_score", 0.9),
    ("modularity_explicitness", {"num_train": 300, "num_test": 200}, "modularity_score", 0.9),
    ("irs", {"num_train": 300}, "IRS", 0.9),
    ("beta_vae_score", {"num_train": 100, "num_eval": 50}, "eval_accuracy", 0.9),
    ("factor_vae_score", {"num_train": 100, "num_eval": 50, "num_variance_estimate": 200},
     "eval_accuracy", 0.9),
])
def test_registered_metrics(dataset: ToyFactors, name: str, options: dict, key: str,
                            low: float) -> None:
    model = _FactorEncoder()
    model.train()
    result = METRICS.get(name)(model, dataset, seed=3, **options)
    assert result[key] > low
    assert model.training  # the representation restores the model's mode
