"""The likelihood interface: decoder outputs -> a torch.distributions object over one example.

A decoder emits ``params_per_channel`` parameter maps per data channel, stacked along the channel
axis (``dim=-len(data_shape)``), so the same code handles images ``(C, H, W)`` and vectors
``(D,)`` and any leading sample/batch dimensions. The returned distribution has
``event_shape == data_shape``: ``log_prob(x)`` is one number (nats) per example.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution


class Likelihood(nn.Module):
    """Base class of p(x|z) heads. Subclasses set ``params_per_channel`` and ``forward``."""

    params_per_channel: int = 1

    def __init__(self, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.data_shape = tuple(int(s) for s in data_shape)

    @property
    def channel_dim(self) -> int:
        return -len(self.data_shape)

    def split(self, params: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Split decoder output into ``params_per_channel`` tensors shaped like the data."""
        return params.chunk(self.params_per_channel, dim=self.channel_dim)

    def forward(self, params: torch.Tensor) -> Distribution:  # pragma: no cover - interface
        raise NotImplementedError

    def mean_image(self, px_z: Distribution) -> torch.Tensor:
        """The example to show for ``px_z``: its mean, clamped to [0, 1] for images ``(C, H,
        W)`` (pixel intensities); vectors and sequences (e.g. standardised tables, waveforms)
        keep their range."""
        if len(self.data_shape) != 3:
            return px_z.mean
        return px_z.mean.clamp(0.0, 1.0)
