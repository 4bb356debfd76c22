"""The network-pair interface that every registered encoder/decoder family implements.

A network family is a class registered in ``NETWORKS`` with three static methods:

- ``check(data_shape, **options)``: raise :class:`~vaekit.errors.ShapeError` naming the problem
  and a fix
  when the family cannot take data of this shape (called before anything is built);
- ``encoder(data_shape, out_features, **options)``: ``x (B, *data_shape) -> (B, out_features)``;
- ``decoder(latent_dim, data_shape, out_channels, **options)``:
  ``z (B, latent_dim) -> (B, out_channels, *data_shape[1:])``.

``out_channels`` is ``params_per_channel * data_shape[0]``: the likelihood splits it.
"""

from __future__ import annotations

import math

from torch import nn

from vaekit.errors import ShapeError


class NetworkFamily:
    """Base class with the shared shape helpers; subclasses override the three methods."""

    name = "network"

    @staticmethod
    def check(data_shape: tuple[int, ...], **options) -> None:
        raise NotImplementedError

    @staticmethod
    def encoder(data_shape: tuple[int, ...], out_features: int, **options) -> nn.Module:
        raise NotImplementedError

    @staticmethod
    def decoder(
        latent_dim: int, data_shape: tuple[int, ...], out_channels: int, **options
    ) -> nn.Module:
        raise NotImplementedError


def require_image(name: str, data_shape: tuple[int, ...], channels=(1, 3)) -> tuple[int, int, int]:
    """Check ``data_shape`` is ``(C, H, W)`` with an allowed channel count; return it."""
    if len(data_shape) != 3:
        raise ShapeError(
            f"network '{name}' takes images (C, H, W), got data of shape {tuple(data_shape)}; "
            "use network 'mlp' for vectors"
        )
    c, h, w = (int(s) for s in data_shape)
    if channels is not None and c not in channels:
        raise ShapeError(
            f"network '{name}' takes {' or '.join(map(str, channels))} channels, got {c} "
            f"(data shape {tuple(data_shape)}); convert the images or pick another network"
        )
    return c, h, w


def numel(shape: tuple[int, ...]) -> int:
    return int(math.prod(shape))


class Reshape(nn.Module):
    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
