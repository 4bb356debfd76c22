"""A small conv encoder/decoder for 28x28 (MNIST-like) and 32x32 (CIFAR/SVHN-like) images.

Two stride-2 convolutions (4x4, 32 then 64 channels) take the image to a 7x7 or 8x8 map, then a
fully connected layer; the decoder mirrors it with transposed convolutions. This is the common
small convolutional VAE for these datasets (the TensorFlow "Convolutional Variational
Autoencoder" tutorial uses the same two stride-2 convs of 32 and 64 filters), with the 4x4
kernels of the conv64 family (Higgins et al. 2017) so it trains in minutes on a CPU.
Both sizes are multiples of 4, so kernel 4 / stride 2 / padding 1 halves the side exactly and the
transposed convolutions give back exactly 28x28 or 32x32 with no cropping.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from vaekit.errors import ConfigError, ShapeError
from vaekit.nn.base import NetworkFamily, Reshape, require_image
from vaekit.registry import NETWORKS

SIZES = (28, 32)
DEFAULT_CHANNELS = (32, 64)
DEFAULT_HIDDEN = 256


def _check_options(hidden: int, channels: Sequence[int]) -> tuple[int, int]:
    channels = tuple(int(c) for c in channels)
    if int(hidden) <= 0:
        raise ConfigError(f"network 'conv28': hidden must be positive, got {hidden}")
    if len(channels) != 2 or any(c <= 0 for c in channels):
        raise ConfigError(
            f"network 'conv28': channels must be two positive widths (one per stride-2 conv), "
            f"got {list(channels)}"
        )
    return channels  # type: ignore[return-value]


@NETWORKS.register("conv28")
class Conv28(NetworkFamily):
    """Conv encoder / transposed-conv decoder for 28x28 or 32x32 images with 1 or 3 channels.

    Options: ``hidden`` (fully connected width, default 256) and ``channels`` (the two conv
    widths, default ``(32, 64)``).
    """

    name = "conv28"

    @staticmethod
    def check(data_shape: tuple[int, ...], **options: object) -> None:
        # Options do not change the accepted shapes; they are accepted so callers can pass the
        # network options to check() as they do to encoder()/decoder().
        c, h, w = require_image("conv28", data_shape, channels=(1, 3))
        if h != w or h not in SIZES:
            raise ShapeError(
                f"network 'conv28' takes 28x28 or 32x32 images, got {h}x{w} (data shape "
                f"{tuple(data_shape)}); use network 'conv64' for 64x64 images, 'resnet' for "
                "other sizes divisible by 8, or resize the images"
            )

    @staticmethod
    def encoder(
        data_shape: tuple[int, ...],
        out_features: int,
        hidden: int = DEFAULT_HIDDEN,
        channels: Sequence[int] = DEFAULT_CHANNELS,
    ) -> nn.Module:
        Conv28.check(data_shape)
        c1, c2 = _check_options(hidden, channels)
        side = int(data_shape[1]) // 4
        return nn.Sequential(
            nn.Conv2d(int(data_shape[0]), c1, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * side * side, int(hidden)),
            nn.ReLU(),
            nn.Linear(int(hidden), out_features),
        )

    @staticmethod
    def decoder(
        latent_dim: int,
        data_shape: tuple[int, ...],
        out_channels: int,
        hidden: int = DEFAULT_HIDDEN,
        channels: Sequence[int] = DEFAULT_CHANNELS,
    ) -> nn.Module:
        Conv28.check(data_shape)
        c1, c2 = _check_options(hidden, channels)
        side = int(data_shape[1]) // 4
        return nn.Sequential(
            nn.Linear(latent_dim, int(hidden)),
            nn.ReLU(),
            nn.Linear(int(hidden), c2 * side * side),
            nn.ReLU(),
            Reshape(c2, side, side),
            nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            # No activation: the likelihood interprets these as its parameters.
            nn.ConvTranspose2d(c1, out_channels, kernel_size=4, stride=2, padding=1),
        )
