"""Fixed-length clips: recordings of any length padded or cropped to exactly N samples.

The rule, centred so that a short utterance sits in the middle of its clip and a long one keeps
its middle:

- **shorter** than N: zeros are added on both sides, ``(N - n) // 2`` before the audio and the
  rest (one more when ``N - n`` is odd) after it;
- **longer** than N: the central N samples are kept, dropping ``(n - N) // 2`` samples at the
  start and the rest (one more when ``n - N`` is odd) at the end;
- exactly N: returned unchanged.

``align="start"`` instead keeps the audio at the start of the clip (pad at the end, crop the
end). Works on the last axis of a tensor or array of any rank.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vaekit.errors import ConfigError

Align = Literal["center", "start"]


def clip_samples(seconds: float, sample_rate: int) -> int:
    """Samples in ``seconds`` at ``sample_rate``, rounded to the nearest integer (at least 1)."""
    if not seconds > 0 or int(sample_rate) <= 0:
        raise ConfigError(f"clip length must be positive, got {seconds} s at {sample_rate} Hz")
    return max(1, int(round(float(seconds) * int(sample_rate))))


def pad_or_crop_offsets(length: int, num_samples: int, align: Align = "center"
                        ) -> tuple[int, int]:
    """``(pad_before, crop_start)``: zeros to add before the audio (when it is shorter) and the
    first kept sample (when it is longer); see the module docstring for the rule."""
    if align not in ("center", "start"):
        raise ConfigError(f"align must be 'center' or 'start', got {align!r}")
    if length >= num_samples:
        return 0, (length - num_samples) // 2 if align == "center" else 0
    return ((num_samples - length) // 2 if align == "center" else 0), 0


def fix_length(waveform: torch.Tensor | np.ndarray, num_samples: int, align: Align = "center"
               ) -> torch.Tensor | np.ndarray:
    """``waveform`` (last axis = time) padded with zeros or cropped to ``num_samples``.

    Returns the input's type. See the module docstring for where the padding goes and which
    part a crop keeps.
    """
    num_samples = int(num_samples)
    if num_samples < 1:
        raise ConfigError(f"num_samples must be positive, got {num_samples}")
    length = int(waveform.shape[-1])
    before, start = pad_or_crop_offsets(length, num_samples, align)
    if length >= num_samples:
        return waveform[..., start:start + num_samples]
    after = num_samples - length - before
    if isinstance(waveform, torch.Tensor):
        return F.pad(waveform, (before, after))
    widths = [(0, 0)] * (np.ndim(waveform) - 1) + [(before, after)]
    return np.pad(waveform, widths)
