"""STFT round trip, mel filterbank, log-mel scaling and inversion, Griffin-Lim, loudness, clips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit.audio import (
    LogMelSpectrogram,
    fix_length,
    griffin_lim,
    hz_to_mel,
    istft,
    mel_filterbank,
    mel_to_hz,
    normalize_loudness,
    peak_dbfs,
    rms_dbfs,
    spectral_convergence,
    stft,
)
from vaekit.audio.clips import clip_samples
from vaekit.errors import ConfigError, ShapeError


def chirp(n: int = 4000, rate: int = 8000, seed: int = 0) -> torch.Tensor:
    """A rising tone plus a little noise: structure in time and frequency."""
    t = torch.arange(n) / rate
    noise = 0.01 * torch.randn(n, generator=torch.Generator().manual_seed(seed))
    return 0.5 * torch.sin(2 * math.pi * (200 * t + 1500 * t**2)) + noise


# --------------------------------------------------------------------------------- STFT
@pytest.mark.parametrize(("n_fft", "hop"), [(256, 100), (256, 64), (512, 128)])
def test_stft_istft_round_trip_error_is_small(n_fft, hop):
    x = torch.stack([chirp(), chirp(seed=1)])
    spec = stft(x, n_fft, hop)
    assert spec.shape == (2, n_fft // 2 + 1, 1 + x.shape[-1] // hop) and spec.is_complex()
    back = istft(spec, n_fft, hop, length=x.shape[-1])
    assert (back - x).abs().max() < 1e-5


def test_stft_keeps_leading_dims_and_checks_settings():
    assert stft(torch.zeros(2, 3, 800), 128, 32).shape == (2, 3, 65, 26)
    with pytest.raises(ConfigError, match="hop_length"):
        stft(torch.zeros(800), 128, 0)


# ------------------------------------------------------------------------------ mel scale
@pytest.mark.parametrize("scale", ["slaney", "htk"])
def test_mel_scale_round_trip_and_anchors(scale):
    hz = torch.tensor([0.0, 100.0, 999.0, 1000.0, 1001.0, 4000.0, 11025.0])
    torch.testing.assert_close(mel_to_hz(hz_to_mel(hz, scale), scale), hz.double())
    assert torch.all(torch.diff(hz_to_mel(hz, scale)) > 0)
    if scale == "htk":
        assert float(hz_to_mel(1000.0, "htk")) == pytest.approx(1000.0, abs=0.1)
    else:  # linear below 1 kHz: 15 mels at 1 kHz; 27 mels per factor 6.4 above
        assert float(hz_to_mel(1000.0)) == pytest.approx(15.0)
        assert float(hz_to_mel(6400.0) - hz_to_mel(1000.0)) == pytest.approx(27.0)


def test_mel_filterbank_shape_and_row_properties():
    fb = mel_filterbank(129, 40, 8000)
    assert fb.shape == (40, 129) and fb.dtype == torch.float32
    assert fb.min() >= 0 and fb.max() <= 1 + 1e-6
    assert torch.all(fb.sum(dim=1) > 0)  # no empty filter
    centres = fb.argmax(dim=1)
    assert torch.all(torch.diff(centres) >= 0)  # filters in order of frequency
    freqs = torch.linspace(0, 4000, 129)
    edges = mel_to_hz(torch.linspace(0, float(hz_to_mel(4000.0)), 42))
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    # Triangles linear in Hz between neighbouring centres: a partition of unity.
    torch.testing.assert_close(fb.sum(dim=0)[inside], torch.ones(int(inside.sum())))
    slaney = mel_filterbank(129, 40, 8000, norm="slaney")
    bin_hz = 4000 / 128
    # Area normalisation: each filter's integral over Hz is ~1.
    np.testing.assert_allclose((slaney.sum(dim=1) * bin_hz).numpy(), 1.0, atol=0.1)


def test_mel_filterbank_settings_are_checked():
    with pytest.raises(ConfigError, match="f_min"):
        mel_filterbank(129, 40, 8000, f_min=5000)
    with pytest.raises(ConfigError, match="mel filters"):
        LogMelSpectrogram(n_fft=64, n_mels=64)  # more bands than the bins can hold


# -------------------------------------------------------------------------------- log-mel
def test_log_mel_image_range_frames_and_db_mapping():
    lm = LogMelSpectrogram()
    x = torch.stack([chirp(6400), torch.zeros(6400)])
    image = lm(x)
    assert image.shape == (2, 64, 64)  # 6400 samples / hop 100
    assert image.min() >= 0 and image.max() <= 1
    assert torch.all(image[1] == 0)  # silence sits at the floor, min_db -> 0
    db = torch.tensor([-100.0, -80.0, -40.0, 0.0, 5.0])
    torch.testing.assert_close(lm.db_to_unit(db), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))
    torch.testing.assert_close(lm.unit_to_db(lm.db_to_unit(db[1:4])), db[1:4])
    # A full-scale sine at a bin centre reads about 0 dB in its band.
    t = torch.arange(6400) / 8000
    sine = torch.sin(2 * math.pi * (8000 / 256 * 32) * t)
    assert float(lm.power_to_db(lm.mel_power(sine)).max()) == pytest.approx(0.0, abs=1.0)
    with pytest.raises(ShapeError, match="hop"):
        lm(torch.zeros(50))


def test_log_mel_inversion_gives_back_a_similar_spectrogram():
    lm = LogMelSpectrogram()
    x = chirp(6400)
    image = lm(x)
    wave = lm.invert(image, num_iter=32, generator=torch.Generator().manual_seed(0))
    assert wave.shape == (6400,) and torch.isfinite(wave).all()
    assert (lm(wave) - image).abs().mean() < 0.02


# ----------------------------------------------------------------------------- Griffin-Lim
def test_griffin_lim_lowers_the_spectral_error_over_iterations():
    n_fft, hop = 256, 64
    x = chirp()
    magnitude = stft(x, n_fft, hop).abs()
    errors = []
    for iterations in (0, 4, 32):
        wave = griffin_lim(magnitude, n_fft, hop, num_iter=iterations, length=len(x),
                           generator=torch.Generator().manual_seed(0))
        errors.append(float(spectral_convergence(wave, magnitude, n_fft, hop)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * errors[0]
    # The original algorithm (no momentum) also converges, more slowly.
    plain = griffin_lim(magnitude, n_fft, hop, num_iter=32, momentum=0.0, length=len(x),
                        generator=torch.Generator().manual_seed(0))
    assert float(spectral_convergence(plain, magnitude, n_fft, hop)) < errors[0]


# ------------------------------------------------------------------------------- loudness
def test_peak_and_rms_normalisation():
    x = torch.stack([0.1 * chirp(), 0.9 * chirp(seed=2)])
    peak = normalize_loudness(x, "peak", -3.0)
    torch.testing.assert_close(peak_dbfs(peak), torch.full((2,), -3.0))
    rms = normalize_loudness(x, "rms", -20.0)
    torch.testing.assert_close(rms_dbfs(rms), torch.full((2,), -20.0))
    # A loud RMS target is held back so the peak stays at max_peak_dbfs instead of clipping.
    loud = normalize_loudness(x, "rms", 0.0, max_peak_dbfs=-1.0)
    torch.testing.assert_close(peak_dbfs(loud), torch.full((2,), -1.0))
    silence = torch.zeros(100)
    assert torch.equal(normalize_loudness(silence), silence)
    with pytest.raises(ConfigError, match="peak"):
        normalize_loudness(x, "lufs")


# ---------------------------------------------------------------------------------- clips
def test_short_clips_are_zero_padded_on_both_sides():
    x = torch.arange(1.0, 6.0)  # 5 samples
    out = fix_length(x, 10)
    # (10 - 5) // 2 = 2 zeros before, 3 after.
    assert out.tolist() == [0, 0, 1, 2, 3, 4, 5, 0, 0, 0]
    assert fix_length(x, 8, align="start").tolist() == [1, 2, 3, 4, 5, 0, 0, 0]


def test_long_clips_are_cropped_centrally():
    x = np.arange(10)
    # (10 - 5) // 2 = 2 dropped at the start, 3 at the end.
    assert fix_length(x, 5).tolist() == [2, 3, 4, 5, 6]
    assert fix_length(x, 4).tolist() == [3, 4, 5, 6]
    assert fix_length(x, 4, align="start").tolist() == [0, 1, 2, 3]
    assert fix_length(x, 10) is x or np.array_equal(fix_length(x, 10), x)


@pytest.mark.parametrize("length", [1, 99, 6399, 6400, 6401, 20000])
def test_clips_of_any_length_get_exactly_n_samples(length):
    x = torch.ones(2, length)
    out = fix_length(x, 6400)
    assert out.shape == (2, 6400)
    assert float(out.sum()) == 2 * min(length, 6400)  # the audio kept, zeros added


def test_clip_length_in_samples():
    assert clip_samples(0.8, 8000) == 6400
    with pytest.raises(ConfigError):
        clip_samples(0, 8000)
