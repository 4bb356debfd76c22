"""Audio for vaekit: WAV I/O, fixed-length clips, loudness, STFT / log-mel features, Griffin-Lim
phase reconstruction and spectral metrics. Spectrogram VAEs treat a log-mel spectrogram as a
one-channel image ``(1, n_mels, frames)`` in [0, 1] (see :class:`LogMelSpectrogram`)."""

from vaekit.audio.clips import clip_samples, fix_length
from vaekit.audio.features import (
    LogMelSpectrogram,
    hz_to_mel,
    istft,
    mel_filterbank,
    mel_to_hz,
    stft,
)
from vaekit.audio.griffin_lim import griffin_lim, spectral_convergence
from vaekit.audio.io import read_wav, resample, write_wav
from vaekit.audio.loudness import normalize_loudness, peak_dbfs, rms_dbfs

__all__ = [
    "LogMelSpectrogram",
    "clip_samples",
    "fix_length",
    "griffin_lim",
    "hz_to_mel",
    "istft",
    "mel_filterbank",
    "mel_to_hz",
    "normalize_loudness",
    "peak_dbfs",
    "read_wav",
    "resample",
    "rms_dbfs",
    "spectral_convergence",
    "stft",
    "write_wav",
]
