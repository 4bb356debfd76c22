"""Loudness normalisation: scale a waveform so its peak or RMS level hits a target in dBFS.

Levels are in dB relative to digital full scale (full scale = 1.0):

- **peak** level ``20 log10(max |x|)``: 0 dBFS is a sample at +-1. Peak normalisation to the
  default -1 dBFS never clips and keeps a dB of headroom; it equalises recordings made at
  different gains but not how loud they sound.
- **RMS** level ``20 log10(sqrt(mean x^2))`` (the plain digital convention, in which a full-scale
  square wave reads 0 dBFS and a full-scale sine -3.01 dBFS; AES17 would add 3.01 dB). The default
  target -20 dBFS is a common speech level. The gain is lowered where needed so that the peak
  stays at or below ``max_peak_dbfs`` (default -1 dBFS): quiet recordings with one loud click are
  then quieter than the target, rather than clipped.

Levels are measured over the last axis (one gain per waveform, per row of a batch). A silent
waveform (all samples below ``1e-8``) is returned unchanged. This is a level normalisation, not a
perceptual loudness (ITU-R BS.1770 LUFS, which weights frequencies and gates silence).
"""

from __future__ import annotations

from typing import Literal

import torch

from vaekit.errors import ConfigError

SILENCE = 1e-8
DEFAULT_PEAK_DBFS = -1.0
DEFAULT_RMS_DBFS = -20.0

Method = Literal["peak", "rms"]


def db_to_amplitude(db: float | torch.Tensor) -> float | torch.Tensor:
    return 10.0 ** (db / 20.0)


def peak_dbfs(waveform: torch.Tensor) -> torch.Tensor:
    """Peak level of each waveform (last axis) in dBFS; -inf for silence."""
    return 20.0 * torch.log10(waveform.abs().amax(dim=-1))


def rms_dbfs(waveform: torch.Tensor) -> torch.Tensor:
    """RMS level of each waveform (last axis) in dBFS; -inf for silence."""
    return 20.0 * torch.log10(waveform.pow(2).mean(dim=-1).sqrt())


def normalize_loudness(waveform: torch.Tensor, method: Method = "peak",
                       target_dbfs: float | None = None,
                       max_peak_dbfs: float = DEFAULT_PEAK_DBFS) -> torch.Tensor:
    """``waveform`` scaled so that its ``method`` level is ``target_dbfs`` (see the module
    docstring; defaults: -1 dBFS peak, -20 dBFS RMS with the peak kept at ``max_peak_dbfs``)."""
    if method not in ("peak", "rms"):
        raise ConfigError(f"loudness normalisation must be 'peak' or 'rms', got {method!r}")
    if target_dbfs is None:
        target_dbfs = DEFAULT_PEAK_DBFS if method == "peak" else DEFAULT_RMS_DBFS
    peak = waveform.abs().amax(dim=-1, keepdim=True)
    if method == "peak":
        level = peak
    else:
        level = waveform.pow(2).mean(dim=-1, keepdim=True).sqrt()
    silent = peak < SILENCE
    gain = db_to_amplitude(float(target_dbfs)) / level.clamp_min(SILENCE)
    if method == "rms":
        gain = torch.minimum(gain, db_to_amplitude(float(max_peak_dbfs)) / peak.clamp_min(SILENCE))
    return waveform * torch.where(silent, torch.ones_like(gain), gain)
