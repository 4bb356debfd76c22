"""Sample-quality metrics: distances, image metrics, the feature classifier, the report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit.data.base import ArrayImageDataset
from vaekit.evaluation.generation import (
    FeatureClassifier,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    load_or_train_classifier,
    precision_recall,
    psnr,
    reconstruction_quality,
    sample_quality,
    ssim,
    train_feature_classifier,
)
from vaekit.models.base import build_model


# ------------------------------------------------------------------------ Fréchet distance
def test_frechet_distance_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, -1.0, 0.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2 for commuting (diagonal) covariances
    by_hand = (1 + 4 + 6.25) + ((1 - 3) ** 2 + (2 - 1) ** 2 + (0.5 - 1) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(by_hand, rel=1e-9)
    # and from samples of those Gaussians, up to sampling error
    rng = np.random.default_rng(1)
    a = mu1 + np.sqrt(var1) * rng.normal(size=(40000, 3))
    b = mu2 + np.sqrt(var2) * rng.normal(size=(40000, 3))
    assert frechet_distance(a, b) == pytest.approx(by_hand, rel=0.03)


def test_frechet_distance_grows_with_noise():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(2000, 8))
    noise = rng.normal(size=real.shape)
    values = [frechet_distance(real, real + s * noise) for s in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(values, values[1:]))


def test_frechet_distance_handles_singular_covariances():
    # Fewer samples than dimensions: rank-deficient covariances need the eps * I fallback.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 1.0
    value = frechet_distance(a, b)
    assert math.isfinite(value) and value > 0


# ---------------------------------------------------------------------------------- KID
def test_kid_is_near_zero_for_one_distribution_and_positive_when_shifted():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    same = kernel_distance(a, b, subsets=20, subset_size=500, seed=0)
    shifted = kernel_distance(a, b + 1.0, subsets=20, subset_size=500, seed=0)
    assert abs(same.mean) < 0.01
    assert shifted.mean > 0.5 and shifted.mean > 10 * (abs(same.mean) + same.std)
    assert shifted.std >= 0
    mean, std = kernel_distance(a, b + 1.0, subsets=20, subset_size=500, seed=0)
    assert (mean, std) == (shifted.mean, shifted.std)  # seeded


def test_kid_unbiased_mmd_matches_a_direct_computation():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)) + 0.5

    def k(u, v):
        return (u @ v / 3 + 1) ** 3

    m = 6
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    result = kernel_distance(x, y, subsets=3, subset_size=6)
    assert result.mean == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-9)  # full set every time
    assert result.std == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------ precision and recall
def test_precision_recall_identical_sets_are_one():
    feats = np.random.default_rng(6).normal(size=(400, 8))
    precision, recall = precision_recall(feats, feats.copy(), k=3)
    assert precision == 1.0 and recall == 1.0


def test_precision_recall_far_away_fakes():
    rng = np.random.default_rng(7)
    real = rng.normal(size=(400, 8))
    fake = rng.normal(size=(300, 8)) + 100.0
    result = precision_recall(real, fake, k=3)
    assert result.precision == 0.0
    assert 0.0 <= result.recall <= 1.0 and math.isfinite(result.recall)


def test_precision_recall_mode_dropping_lowers_recall_not_precision():
    rng = np.random.default_rng(8)
    centres = np.array([[0.0] * 4, [20.0] * 4])
    real = np.concatenate([c + rng.normal(size=(300, 4)) for c in centres])
    fake = centres[0] + rng.normal(size=(600, 4))  # one mode only
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.9
    assert recall < 0.6


def test_precision_recall_matches_a_brute_force_reference():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) * 1.3 + 0.4
    k = 3

    def radii(x):
        return np.sort(cdist(x, x), axis=1)[:, k]

    precision = np.mean((cdist(fake, real) <= radii(real)[None]).any(axis=1))
    recall = np.mean((cdist(real, fake) <= radii(fake)[None]).any(axis=1))
    assert precision_recall(real, fake, k=k) == (pytest.approx(precision), pytest.approx(recall))


def test_precision_recall_blocks_give_the_same_answer(monkeypatch):
    from vaekit.evaluation.generation import distances

    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(300, 5)), rng.normal(size=(200, 5)) * 1.5
    whole = precision_recall(real, fake)
    monkeypatch.setattr(distances, "_BLOCK_BUDGET", 1000)  # blocks of a few rows
    assert precision_recall(real, fake) == whole


# ------------------------------------------------------------------------ image metrics
def test_psnr_hand_case_and_identical_images():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[0, 0, 0, 0] = 0.5  # mse = 0.25 / 16
    values = psnr(x, y)
    assert values.shape == (2,)
    assert values[0].item() == pytest.approx(10 * math.log10(1 / (0.25 / 16)), rel=1e-6)
    assert math.isinf(values[1].item())
    assert psnr(x * 255, y * 255, data_range=255.0)[0].item() == pytest.approx(
        values[0].item(), rel=1e-5)


def test_ssim_properties():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 28, 28, generator=gen)
    noise = torch.randn(x.shape, generator=gen)
    same = ssim(x, x)
    assert same.shape == (3,)
    assert torch.allclose(same, torch.ones(3), atol=1e-6)
    values = [ssim(x, (x + s * noise).clamp(0, 1)).mean().item() for s in (0.05, 0.2, 0.5)]
    assert values[0] < 1 and values[0] > values[1] > values[2]
    y = (x + 0.1 * noise).clamp(0, 1)
    assert torch.allclose(ssim(x, y), ssim(y, x), atol=1e-6)
    assert (ssim(x, y) <= 1 + 1e-6).all()
    # tiny images use a smaller window
    small = torch.rand(2, 1, 8, 8, generator=gen)
    assert torch.allclose(ssim(small, small), torch.ones(2), atol=1e-6)


def test_ssim_of_constant_images_follows_the_luminance_term():
    # For flat images the structure terms are C2 / C2 = 1 and SSIM is the luminance term.
    x, y = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert ssim(x, y).item() == pytest.approx(expected, rel=1e-4)


def test_reconstruction_quality_of_a_model():
    model = build_model({"type": "vae", "network": "mlp", "latent_dim": 2,
                         "data_shape": (1, 8, 8), "network_options": {"hidden": [16]}})
    data = torch.rand(37, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    result = reconstruction_quality(model, data, batch_size=10)
    assert result["num_examples"] == 37
    assert math.isfinite(result["psnr"]) and -1 <= result["ssim"] <= 1
    with torch.no_grad():
        recon = model.reconstruct(data)
    assert result["psnr"] == pytest.approx(psnr(recon, data).mean().item(), rel=1e-5)
    assert result["ssim"] == pytest.approx(ssim(recon, data).mean().item(), rel=1e-5)
    assert reconstruction_quality(model, data, max_examples=5)["num_examples"] == 5


# ------------------------------------------------------------------------ classifier
def _patterns(n: int, seed: int, size: int = 8) -> ArrayImageDataset:
    """Four classes of noisy 8x8 patterns: horizontal bar, vertical bar, diagonal, corner box."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.uniform(0, 0.3, (n, 1, size, size)).astype(np.float32)
    for i, label in enumerate(labels):
        pos = rng.integers(1, size - 1)
        if label == 0:
            images[i, 0, pos, :] = 1.0
        elif label == 1:
            images[i, 0, :, pos] = 1.0
        elif label == 2:
            images[i, 0, np.arange(size), np.arange(size)] = 1.0
        else:
            images[i, 0, :3, :3] = 1.0
    return ArrayImageDataset(images, labels.astype(np.int64), name="patterns")


@pytest.fixture(scope="module")
def patterns_classifier() -> FeatureClassifier:
    return train_feature_classifier(_patterns(512, 0), steps=150, batch_size=32, seed=0,
                                    feature_dim=32, channels=(8, 16))


def test_classifier_learns_and_features_have_the_documented_size(patterns_classifier):
    test = _patterns(200, 1)
    assert patterns_classifier.accuracy(test) > 0.95
    feats = patterns_classifier.features(test.images, batch_size=64)
    assert feats.shape == (200, 32) and feats.dtype == np.float32
    assert not patterns_classifier.training  # eval mode
    # the default feature layer has 128 units
    default = train_feature_classifier(_patterns(64, 2), steps=1, batch_size=8)
    assert default.features(test, max_examples=5).shape == (5, 128)


def test_classifier_training_is_reproducible(patterns_classifier):
    again = train_feature_classifier(_patterns(512, 0), steps=150, batch_size=32, seed=0,
                                     feature_dim=32, channels=(8, 16))
    x = _patterns(50, 3).images
    assert np.array_equal(again.features(x), patterns_classifier.features(x))


def test_classifier_save_load_round_trip(patterns_classifier, tmp_path):
    patterns_classifier.save(tmp_path / "clf")
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == [
        "classifier.json", "classifier.safetensors"]
    loaded = FeatureClassifier.load(tmp_path / "clf")
    x = _patterns(50, 4)
    assert np.array_equal(loaded.features(x), patterns_classifier.features(x))
    assert loaded.training_info["steps"] == 150
    assert loaded.config == patterns_classifier.config


def test_classifier_rejects_unlabelled_data():
    unlabelled = ArrayImageDataset(np.zeros((4, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="labels"):
        train_feature_classifier(unlabelled, steps=1)


def test_load_or_train_classifier_caches(tmp_path, monkeypatch):
    from vaekit.evaluation.generation import classifier as module
    from vaekit.registry import DATASETS

    def _test_patterns(split: str = "train") -> ArrayImageDataset:
        return _patterns(128, {"train": 0, "test": 1}[split])

    DATASETS.names()  # load the built-ins first, then add ours for this test only
    monkeypatch.setitem(DATASETS._entries, "test_patterns", _test_patterns)

    calls = []
    real_train = module.train_feature_classifier

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(module, "train_feature_classifier", counting)
    first = load_or_train_classifier("test_patterns", tmp_path, steps=5, batch_size=8,
                                     feature_dim=16, channels=(4,))
    second = load_or_train_classifier("test_patterns", tmp_path, steps=5, batch_size=8,
                                      feature_dim=16, channels=(4,))
    assert len(calls) == 1
    x = _patterns(20, 5)
    assert np.array_equal(first.features(x), second.features(x))
    assert len(list(tmp_path.iterdir())) == 1
    load_or_train_classifier("test_patterns", tmp_path, steps=5, seed=1, batch_size=8,
                             feature_dim=16, channels=(4,))
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2


def test_classifier_on_fashion_mnist(shared_data):
    from vaekit.registry import DATASETS

    if not (shared_data / "fashion_mnist").is_dir():
        pytest.skip("fashion_mnist is not in the data folder")
    train = DATASETS.build("fashion_mnist", split="train")
    test = DATASETS.build("fashion_mnist", split="test", limit=1000)
    classifier = train_feature_classifier(train, steps=300, batch_size=64, seed=0)
    assert classifier.accuracy(test) > 0.7
    assert classifier.features(test, max_examples=10).shape == (10, 128)


# ---------------------------------------------------------------------------- report
def test_sample_quality_ranks_real_data_above_noise(patterns_classifier):
    real = _patterns(300, 6)
    held_out = _patterns(300, 7).images

    def like_data(n, generator):
        index = torch.randint(0, len(held_out), (n,), generator=generator)
        return held_out[index]

    def noise(n, generator):
        return torch.rand((n, 1, 8, 8), generator=generator)

    kw = {"num_samples": 200, "batch_size": 64, "kid_subsets": 10, "kid_subset_size": 100}
    good = sample_quality(like_data, real, patterns_classifier, **kw)
    bad = sample_quality(noise, real, patterns_classifier, **kw)
    assert set(good) >= {"frechet_distance", "kid_mean", "kid_std", "precision", "recall"}
    assert good["frechet_distance"] < bad["frechet_distance"]
    assert good["kid_mean"] < bad["kid_mean"]
    assert good["precision"] > bad["precision"] and good["recall"] > bad["recall"]
    assert sample_quality(noise, real, patterns_classifier, **kw) == bad  # seeded


def test_sample_quality_accepts_a_model(patterns_classifier):
    model = build_model({"type": "vae", "network": "mlp", "latent_dim": 2,
                         "data_shape": (1, 8, 8), "network_options": {"hidden": [16]}})
    model.train()
    result = sample_quality(model, _patterns(100, 8), patterns_classifier, num_samples=50,
                            batch_size=20, kid_subsets=5, kid_subset_size=50)
    assert all(math.isfinite(v) for v in result.values())
    assert result["num_fake"] == 50 and model.training  # mode restored
