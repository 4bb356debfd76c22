"""One recording -> one spectrogram image: the preprocessing shared by datasets and the CLI.

:class:`SpectrogramPipeline` reads a WAV at the transform's sample rate, normalises its loudness
(:mod:`vaekit.audio.loudness`), pads or crops it to a fixed number of samples
(:mod:`vaekit.audio.clips`) and makes the [0, 1] log-mel image
(:class:`~vaekit.audio.features.LogMelSpectrogram`). A model trained on a dataset built with one
pipeline must be fed audio through the same pipeline; ``vaekit audio reconstruct`` rebuilds it
from the run's data options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vaekit.audio.clips import fix_length
from vaekit.audio.features import LogMelSpectrogram
from vaekit.audio.io import read_wav
from vaekit.audio.loudness import normalize_loudness
from vaekit.errors import ConfigError

NORMALIZATIONS = ("peak", "rms", "none")


@dataclass
class SpectrogramPipeline:
    """``normalize``: ``"peak"`` (-1 dBFS), ``"rms"`` (-20 dBFS, peak kept at -1 dBFS) or
    ``"none"``; ``num_samples``: the clip length (a multiple of the hop gives whole frames)."""

    transform: LogMelSpectrogram
    num_samples: int
    normalize: str = "peak"

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got "
                              f"{self.normalize!r}")
        if int(self.num_samples) < self.transform.hop_length:
            raise ConfigError(f"a clip of {self.num_samples} samples is shorter than one hop "
                              f"({self.transform.hop_length} samples)")

    @property
    def sample_rate(self) -> int:
        return self.transform.sample_rate

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return 1, self.transform.n_mels, self.transform.num_frames(self.num_samples)

    def prepare(self, waveform: torch.Tensor) -> torch.Tensor:
        """Loudness-normalised clip of exactly ``num_samples`` samples (at the sample rate)."""
        if self.normalize != "none":
            waveform = normalize_loudness(waveform, self.normalize)
        return fix_length(waveform, int(self.num_samples))

    def load(self, path: str | Path) -> torch.Tensor:
        """The prepared clip ``(num_samples,)`` of a WAV file (resampled if needed)."""
        waveform, _ = read_wav(path, self.sample_rate)
        return self.prepare(waveform)

    def image(self, clip: torch.Tensor) -> torch.Tensor:
        """The log-mel image ``(..., 1, n_mels, frames)`` of prepared clips ``(..., samples)``."""
        return self.transform(clip).unsqueeze(-3)
