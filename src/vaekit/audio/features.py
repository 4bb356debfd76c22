"""Time-frequency features with torch: STFT / inverse STFT, mel filterbank, log-mel spectrograms.

- :func:`stft` / :func:`istft`: ``torch.stft`` with a periodic Hann window, frames centred on
  ``t * hop_length`` (the signal is zero-padded by ``n_fft // 2`` on both sides). With a window
  and hop that satisfy the NOLA condition (any Hann window with ``hop <= win_length / 2``, and
  the defaults here), :func:`istft` inverts :func:`stft` exactly up to float rounding
  (weighted overlap-add, Griffin & Lim 1984, eq. 6).
- :func:`mel_filterbank`: triangular filters spaced evenly on the mel scale, linear in Hz between
  their neighbours' centres, so adjacent filters sum to 1 between the first and the last centre.
  Two mel scales: ``"htk"`` ``m = 2595 log10(1 + f / 700)`` (O'Shaughnessy 1987, *Speech
  Communication: Human and Machine*; the HTK book's formula) and ``"slaney"`` (Slaney 1998,
  *Auditory Toolbox*, Interval Research TR 1998-010: linear, 3 mels per 200 Hz, below 1 kHz and
  logarithmic, a factor 6.4 per 27 mels, above; the ``librosa`` default). ``norm="slaney"``
  divides each filter by its width in Hz (``2 / (f_upper - f_lower)``) for constant energy per
  band; ``None`` (the default here) keeps peaks of 1.
- :class:`LogMelSpectrogram`: waveform -> mel power in dB -> an image in [0, 1], and back
  (:meth:`LogMelSpectrogram.invert`: dB -> mel power -> linear power by non-negative least
  squares -> Griffin-Lim). See the class docstring for the scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from vaekit.errors import ConfigError, ShapeError

MelScale = Literal["slaney", "htk"]

# Slaney's scale: 200/3 Hz per mel up to 1 kHz (= 15 mels), then log-spaced, 27 mels per
# factor 6.4 (librosa.core.convert.hz_to_mel with htk=False).
_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = math.log(6.4) / 27.0


# ------------------------------------------------------------------------------------ STFT
def hann_window(win_length: int, device: torch.device | None = None) -> torch.Tensor:
    """Periodic Hann window (the DFT-even one that overlap-adds to a constant)."""
    return torch.hann_window(int(win_length), periodic=True, device=device)


def _check_stft(n_fft: int, hop_length: int, win_length: int | None) -> int:
    win_length = int(win_length or n_fft)
    if int(n_fft) < 2 or int(hop_length) < 1 or not 1 <= win_length <= int(n_fft):
        raise ConfigError(f"STFT settings need n_fft >= 2, hop_length >= 1 and 1 <= win_length "
                          f"<= n_fft; got n_fft={n_fft}, hop_length={hop_length}, "
                          f"win_length={win_length}")
    return win_length


def stft(waveform: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None
         ) -> torch.Tensor:
    """Complex STFT ``(..., n_fft // 2 + 1, 1 + samples // hop_length)`` of ``(..., samples)``;
    frame ``t`` is centred on sample ``t * hop_length`` (zero padding at the edges)."""
    win_length = _check_stft(n_fft, hop_length, win_length)
    lead, samples = waveform.shape[:-1], waveform.shape[-1]
    spec = torch.stft(waveform.reshape(-1, samples), int(n_fft), int(hop_length), win_length,
                      window=hann_window(win_length, waveform.device), center=True,
                      pad_mode="constant", return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
          length: int | None = None) -> torch.Tensor:
    """Waveform ``(..., length)`` of a complex STFT made by :func:`stft` (least-squares
    overlap-add; exact inverse of a consistent STFT). ``length`` defaults to
    ``hop_length * (frames - 1)``."""
    win_length = _check_stft(n_fft, hop_length, win_length)
    lead = spec.shape[:-2]
    wave = torch.istft(spec.reshape(-1, *spec.shape[-2:]), int(n_fft), int(hop_length),
                       win_length, window=hann_window(win_length, spec.device), center=True,
                       length=length)
    return wave.reshape(*lead, wave.shape[-1])


# ------------------------------------------------------------------------------- mel scale
def hz_to_mel(freq: torch.Tensor | float, scale: MelScale = "slaney") -> torch.Tensor:
    """Frequencies in Hz -> mels on the ``scale`` (see the module docstring)."""
    freq = torch.as_tensor(freq, dtype=torch.float64)
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    if scale != "slaney":
        raise ConfigError(f"mel scale must be 'slaney' or 'htk', got {scale!r}")
    linear = freq / _SLANEY_F_SP
    log_part = _SLANEY_MIN_LOG_MEL + torch.log(freq.clamp_min(_SLANEY_MIN_LOG_HZ)
                                               / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return torch.where(freq >= _SLANEY_MIN_LOG_HZ, log_part, linear)


def mel_to_hz(mel: torch.Tensor | float, scale: MelScale = "slaney") -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    mel = torch.as_tensor(mel, dtype=torch.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    if scale != "slaney":
        raise ConfigError(f"mel scale must be 'slaney' or 'htk', got {scale!r}")
    log_part = _SLANEY_MIN_LOG_HZ * torch.exp(_SLANEY_LOGSTEP * (mel - _SLANEY_MIN_LOG_MEL))
    return torch.where(mel >= _SLANEY_MIN_LOG_MEL, log_part, _SLANEY_F_SP * mel)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None, scale: MelScale = "slaney",
                   norm: Literal["slaney"] | None = None) -> torch.Tensor:
    """Triangular mel filters ``(n_mels, n_freqs)`` (float32) over the ``n_freqs`` bins
    ``linspace(0, sample_rate / 2, n_freqs)`` of a one-sided spectrum.

    Filter ``m`` rises linearly from the ``m``-th to the ``m+1``-th of ``n_mels + 2`` points
    evenly spaced in mels between ``f_min`` and ``f_max`` (default Nyquist) and falls to the
    ``m+2``-th; weights peak at 1 (``norm=None``) or are divided by the filter's width in Hz
    (``norm="slaney"``, times 2).
    """
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if int(n_mels) < 1 or int(n_freqs) < 2 or not 0 <= f_min < f_max <= sample_rate / 2.0:
        raise ConfigError(f"mel filterbank needs n_mels >= 1, n_freqs >= 2 and 0 <= f_min < "
                          f"f_max <= sample_rate / 2; got n_mels={n_mels}, n_freqs={n_freqs}, "
                          f"f_min={f_min}, f_max={f_max}, sample_rate={sample_rate}")
    if norm not in (None, "slaney"):
        raise ConfigError(f"mel filterbank norm must be None or 'slaney', got {norm!r}")
    freqs = torch.linspace(0.0, sample_rate / 2.0, int(n_freqs), dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min, scale)),
                                     float(hz_to_mel(f_max, scale)), int(n_mels) + 2,
                                     dtype=torch.float64), scale)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        weights = weights * (2.0 / (upper - lower))
    return weights.float()


# ------------------------------------------------------------------------------- log-mel
@dataclass
class LogMelSpectrogram:
    """Waveforms -> log-mel spectrogram images in [0, 1], and back to waveforms.

    Steps: :func:`stft` (Hann, ``n_fft``, ``hop_length``); magnitudes divided by
    ``sum(window) / 2`` so that a full-scale sine reads 1 at its bin (0 dB); power ``|X|^2``;
    :func:`mel_filterbank` (``n_mels`` bands from ``f_min`` to ``f_max``, Slaney scale, peak-1
    triangles); ``db = 10 log10(max(power, 10^(min_db / 10)))`` (the floor keeps silence finite);
    and the image ``u = clamp((db - min_db) / (max_db - min_db), 0, 1)``. So 0 is ``min_db``
    (silence) and 1 is ``max_db``; :meth:`unit_to_db` is the inverse of the affine map (levels
    outside the range were clamped and do not come back).

    Frames: only the first ``samples // hop_length`` frames are kept (frame ``t`` is centred on
    sample ``t * hop_length``; the last, extra frame of the centred STFT mostly sees the zero
    padding), so a clip of ``frames * hop_length`` samples gives exactly ``frames`` columns.
    :meth:`invert` repeats the last column to restore it, then runs Griffin-Lim.
    """

    sample_rate: int = 8000
    n_fft: int = 256
    hop_length: int = 100
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None
    min_db: float = -80.0
    max_db: float = 0.0

    def __post_init__(self) -> None:
        _check_stft(self.n_fft, self.hop_length, None)
        if not self.max_db > self.min_db:
            raise ConfigError(f"max_db ({self.max_db}) must exceed min_db ({self.min_db})")
        fb = self.filterbank()
        if (fb.sum(dim=1) == 0).any():
            empty = int((fb.sum(dim=1) == 0).sum())
            raise ConfigError(
                f"{empty} of the {self.n_mels} mel filters fall between two FFT bins and are "
                f"always zero (n_fft={self.n_fft} gives bins {self.sample_rate / self.n_fft:.1f} "
                "Hz apart); lower n_mels or raise n_fft")

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def filterbank(self, device: torch.device | None = None) -> torch.Tensor:
        return mel_filterbank(self.n_freqs, self.n_mels, self.sample_rate, self.f_min,
                              self.f_max).to(device)

    def num_frames(self, num_samples: int) -> int:
        return int(num_samples) // self.hop_length

    def _amplitude_reference(self) -> float:
        return float(hann_window(self.n_fft).sum()) / 2.0

    # ------------------------------------------------------------------------- forward
    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel-band power ``(..., n_mels, frames)`` (full-scale sine = 1) of ``(..., samples)``."""
        if waveform.shape[-1] < self.hop_length:
            raise ShapeError(f"a waveform of {waveform.shape[-1]} samples is shorter than one "
                             f"hop ({self.hop_length} samples)")
        frames = self.num_frames(waveform.shape[-1])
        spec = stft(waveform.float(), self.n_fft, self.hop_length)[..., :frames]
        power = (spec.abs() / self._amplitude_reference()).pow(2)
        return torch.matmul(self.filterbank(waveform.device), power)

    def power_to_db(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(power.clamp_min(10.0 ** (self.min_db / 10.0)))

    def db_to_unit(self, db: torch.Tensor) -> torch.Tensor:
        return ((db - self.min_db) / (self.max_db - self.min_db)).clamp(0.0, 1.0)

    def unit_to_db(self, unit: torch.Tensor) -> torch.Tensor:
        return self.min_db + unit * (self.max_db - self.min_db)

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """The [0, 1] log-mel image ``(..., n_mels, frames)`` of ``(..., samples)``."""
        return self.db_to_unit(self.power_to_db(self.mel_power(waveform)))

    # ------------------------------------------------------------------------- inverse
    def mel_to_linear_power(self, mel_power: torch.Tensor, num_iter: int = 100) -> torch.Tensor:
        """Linear-frequency power ``(..., n_freqs, frames)`` whose mel projection best matches
        ``mel_power``: non-negative least squares ``min ||M S - P||^2, S >= 0`` by Lee & Seung's
        (2001) multiplicative updates, from ``S = M^T P`` (each bin gets its bands' power)."""
        fb = self.filterbank(mel_power.device)  # (n_mels, n_freqs)
        target = mel_power.clamp_min(0.0)
        eps = 1e-12
        estimate = torch.matmul(fb.T, target) / (fb.sum(0, keepdim=True).T + eps)
        numerator = torch.matmul(fb.T, target)
        gram = fb.T @ fb
        for _ in range(int(num_iter)):
            estimate = estimate * numerator / (torch.matmul(gram, estimate) + eps)
        return estimate

    def unit_to_magnitude(self, unit: torch.Tensor, num_nnls_iter: int = 100) -> torch.Tensor:
        """STFT magnitudes ``(..., n_freqs, frames + 1)`` (the raw :func:`stft` scale) for a
        [0, 1] log-mel image; the last frame is repeated (see the class docstring)."""
        power = 10.0 ** (self.unit_to_db(unit.float()) / 10.0)
        linear = self.mel_to_linear_power(power, num_nnls_iter)
        magnitude = linear.sqrt() * self._amplitude_reference()
        return torch.cat([magnitude, magnitude[..., -1:]], dim=-1)

    def invert(self, unit: torch.Tensor, num_iter: int = 64, momentum: float = 0.99,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Waveforms ``(..., frames * hop_length)`` for [0, 1] log-mel images
        ``(..., n_mels, frames)``: magnitudes by :meth:`unit_to_magnitude`, phases by
        Griffin-Lim (``num_iter`` iterations, fast-GL ``momentum``)."""
        from vaekit.audio.griffin_lim import griffin_lim

        if unit.shape[-2] != self.n_mels:
            raise ShapeError(f"expected spectrograms with {self.n_mels} mel bands, got shape "
                             f"{tuple(unit.shape)}")
        magnitude = self.unit_to_magnitude(unit)
        length = unit.shape[-1] * self.hop_length
        return griffin_lim(magnitude, self.n_fft, self.hop_length, num_iter=num_iter,
                           momentum=momentum, length=length, generator=generator)
