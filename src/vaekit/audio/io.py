"""Reading and writing WAV files, and resampling.

WAV I/O goes through ``soundfile`` (Python bindings of libsndfile, Erik de Castro Lopo), which
reads every PCM/float WAV variant (8/16/24/32-bit integer, 32/64-bit float, WAVE_FORMAT_EXTENSIBLE,
RF64) and ships libsndfile in its wheels. Only WAV is accepted: a FLAC, Ogg or any other file that
libsndfile could decode is refused, so a mislabelled file never slips into a data set unnoticed.

Waveforms are float32 torch tensors in [-1, 1] (full scale = 1): ``(samples,)`` for mono,
``(channels, samples)`` otherwise, the layout of ``torchaudio.load``.

Resampling is polyphase filtering (``scipy.signal.resample_poly``: upsample by ``L``, apply a
Kaiser-windowed FIR low-pass, downsample by ``M``, with ``L / M`` the reduced ratio of the two
rates); torchaudio is not a dependency.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile
import torch

from vaekit.errors import DataError

WAV_FORMATS = ("WAV", "WAVEX", "RF64")
DEFAULT_SUBTYPE = "PCM_16"

PathLike = str | os.PathLike


def _open_info(path: Path):
    if not path.is_file():
        raise DataError(f"audio file not found: '{path}'")
    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, OSError) as err:
        raise DataError(f"'{path}' is not a readable WAV file ({_reason(err)})") from None
    if info.format not in WAV_FORMATS:
        raise DataError(f"'{path}' is a {info.format} file, not WAV: convert it to WAV "
                        "(e.g. PCM 16-bit) first")
    return info


def _reason(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def read_wav(path: PathLike, sample_rate: int | None = None, *, mono: bool = True
             ) -> tuple[torch.Tensor, int]:
    """``(waveform, sample_rate)`` of a WAV file; float32 in [-1, 1].

    ``mono``: average the channels into one ``(samples,)`` tensor (else ``(channels, samples)``).
    ``sample_rate``: resample to this rate (see :func:`resample`); ``None`` keeps the file's.
    A missing, corrupt, empty or non-WAV file is a :class:`DataError` naming the file.
    """
    path = Path(path)
    info = _open_info(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, OSError, ValueError) as err:
        raise DataError(f"'{path}' is not a readable WAV file ({_reason(err)})") from None
    if data.size == 0:
        raise DataError(f"'{path}' holds no audio samples ({info.subtype}, {info.channels} "
                        f"channel(s))")
    if not np.isfinite(data).all():
        raise DataError(f"'{path}' contains NaN or infinite samples")
    wave = data.T  # (channels, samples)
    if mono:
        wave = wave.mean(axis=0)
    if sample_rate is not None and int(sample_rate) != rate:
        wave = resample(wave, rate, int(sample_rate))
        rate = int(sample_rate)
    return torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), int(rate)


def write_wav(path: PathLike, waveform: torch.Tensor | np.ndarray, sample_rate: int,
              subtype: str = DEFAULT_SUBTYPE) -> Path:
    """Write ``(samples,)`` or ``(channels, samples)`` audio as a WAV file; returns the path.

    Integer subtypes (``PCM_16``, the default, ``PCM_24``, ``PCM_32``, ``PCM_U8``) clip the
    waveform to [-1, 1] first (libsndfile would otherwise wrap around); ``FLOAT``/``DOUBLE``
    store it as it is. Parent folders are created.
    """
    wave = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else \
        np.asarray(waveform)
    if wave.ndim not in (1, 2) or wave.shape[-1] == 0:
        raise DataError(f"write_wav: expected audio (samples,) or (channels, samples), got "
                        f"shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise DataError(f"write_wav: the waveform for '{path}' contains NaN or Inf")
    if int(sample_rate) <= 0:
        raise DataError(f"write_wav: sample_rate must be positive, got {sample_rate}")
    if not soundfile.check_format("WAV", subtype):
        raise DataError(f"write_wav: WAV cannot hold subtype '{subtype}'; valid: "
                        f"{', '.join(soundfile.available_subtypes('WAV'))}")
    wave = wave.astype(np.float32 if subtype != "DOUBLE" else np.float64)
    if subtype not in ("FLOAT", "DOUBLE"):
        wave = np.clip(wave, -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), wave.T if wave.ndim == 2 else wave, int(sample_rate),
                    subtype=subtype, format="WAV")
    return path


def resample(waveform: torch.Tensor | np.ndarray, orig_rate: int, target_rate: int
             ) -> torch.Tensor | np.ndarray:
    """Resample along the last axis from ``orig_rate`` to ``target_rate`` Hz (polyphase FIR,
    ``scipy.signal.resample_poly``); returns the input's type (tensor or array), float32."""
    from scipy.signal import resample_poly

    orig_rate, target_rate = int(orig_rate), int(target_rate)
    if orig_rate <= 0 or target_rate <= 0:
        raise DataError(f"resample: rates must be positive, got {orig_rate} -> {target_rate}")
    is_tensor = isinstance(waveform, torch.Tensor)
    wave = waveform.detach().cpu().numpy() if is_tensor else np.asarray(waveform)
    if orig_rate != target_rate:
        g = math.gcd(orig_rate, target_rate)
        wave = resample_poly(wave, target_rate // g, orig_rate // g, axis=-1)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    return torch.from_numpy(wave) if is_tensor else wave
