"""Spectral distances: zero for identical audio, exact for a known gain, insensitive to phase."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.audio.metrics import log_spectral_distance, multiscale_spectral_distance
from vaekit.errors import ShapeError


def noise(n: int = 6400, seed: int = 0) -> torch.Tensor:
    return 0.1 * torch.randn(n, generator=torch.Generator().manual_seed(seed))


def test_identical_audio_scores_zero():
    x = torch.stack([noise(), noise(seed=1)])
    assert torch.allclose(multiscale_spectral_distance(x, x), torch.zeros(2))
    assert torch.allclose(log_spectral_distance(x, x), torch.zeros(2))


def test_lsd_of_a_gain_is_the_gain_in_db():
    x = noise()
    assert float(log_spectral_distance(x, 2 * x)) == pytest.approx(20 * math.log10(2), abs=1e-3)


def test_msd_grows_with_the_distortion_and_ignores_a_polarity_flip():
    x = noise()
    small = multiscale_spectral_distance(x, x + 0.01 * noise(seed=2))
    large = multiscale_spectral_distance(x, x + 0.1 * noise(seed=2))
    assert 0 < small < large
    assert float(multiscale_spectral_distance(x, -x)) < 1e-5  # same magnitudes
    # FFT sizes longer than the signal are skipped; none fitting is an error.
    assert torch.isfinite(multiscale_spectral_distance(x[:300], x[:300] * 0.5))
    with pytest.raises(ShapeError, match="FFT size"):
        multiscale_spectral_distance(x[:10], x[:10])


def test_shapes_must_match():
    with pytest.raises(ShapeError, match="same shape"):
        log_spectral_distance(noise(), noise()[:-1])
