"""Phase reconstruction from STFT magnitudes: Griffin-Lim.

Griffin & Lim (1984), "Signal estimation from modified short-time Fourier transform", IEEE
Trans. ASSP 32(2): alternate between the target magnitudes with the current phases and the STFT
of the least-squares overlap-add signal (their eq. 6); each iteration does not increase the
spectral distance ``|| |STFT(x)| - S ||``. With ``momentum > 0`` this is the "fast Griffin-Lim"
of Perraudin, Balazs & Sondergaard (2013), "A fast Griffin-Lim algorithm" (IEEE WASPAA), which
extrapolates the phase estimate (``alpha = 0.99`` is their recommendation, and librosa's
default); ``momentum = 0`` is the original algorithm.
"""

from __future__ import annotations

import math

import torch

from vaekit.audio.features import istft, stft
from vaekit.errors import ConfigError


def spectral_convergence(waveform: torch.Tensor, magnitude: torch.Tensor, n_fft: int,
                         hop_length: int, win_length: int | None = None) -> torch.Tensor:
    """``|| |STFT(x)| - S ||_F / || S ||_F`` per waveform (the measure Griffin-Lim lowers)."""
    rebuilt = stft(waveform, n_fft, hop_length, win_length).abs()
    frames = min(rebuilt.shape[-1], magnitude.shape[-1])
    diff = rebuilt[..., :frames] - magnitude[..., :frames]
    return diff.flatten(-2).norm(dim=-1) / magnitude[..., :frames].flatten(-2).norm(
        dim=-1).clamp_min(1e-12)


def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop_length: int,
                win_length: int | None = None, *, num_iter: int = 64, momentum: float = 0.99,
                length: int | None = None, generator: torch.Generator | None = None,
                init: str = "random") -> torch.Tensor:
    """A waveform ``(..., length)`` whose STFT magnitude approximates ``magnitude``
    ``(..., n_fft // 2 + 1, frames)`` (the scale of :func:`vaekit.audio.features.stft`).

    ``init``: ``"random"`` phases (uniform, drawn from ``generator``) or ``"zeros"``.
    ``length`` defaults to ``hop_length * (frames - 1)``.
    """
    if num_iter < 0 or not 0 <= momentum < 1:
        raise ConfigError(f"griffin_lim needs num_iter >= 0 and 0 <= momentum < 1, got "
                          f"{num_iter}, {momentum}")
    if init not in ("random", "zeros"):
        raise ConfigError(f"griffin_lim init must be 'random' or 'zeros', got {init!r}")
    magnitude = magnitude.float()
    if init == "random":
        phase = torch.rand(magnitude.shape, generator=generator, device=generator.device
                           if generator is not None else magnitude.device).to(magnitude.device)
        angles = torch.polar(torch.ones_like(magnitude), 2 * math.pi * phase)
    else:
        angles = torch.ones_like(magnitude, dtype=torch.complex64)
    frames = magnitude.shape[-1]
    length = hop_length * (frames - 1) if length is None else int(length)

    def project(spec: torch.Tensor) -> torch.Tensor:
        """STFT of the overlap-add signal of ``spec`` (the consistent spectrogram nearest)."""
        rebuilt = stft(istft(spec, n_fft, hop_length, win_length, length), n_fft, hop_length,
                       win_length)
        return _fit_frames(rebuilt, frames)

    previous = torch.zeros_like(angles)
    for _ in range(int(num_iter)):
        rebuilt = project(magnitude * angles)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return istft(magnitude * angles, n_fft, hop_length, win_length, length)


def _fit_frames(spec: torch.Tensor, frames: int) -> torch.Tensor:
    if spec.shape[-1] >= frames:
        return spec[..., :frames]
    return torch.nn.functional.pad(spec, (0, frames - spec.shape[-1]))
