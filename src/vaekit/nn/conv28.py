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

from vaekit.errors import ShapeError
from vaekit.nn.base import NetworkFamily, require_image
from vaekit.nn.conv_blocks import check_conv_options, conv_encoder, deconv_decoder
from vaekit.registry import NETWORKS

SIZES = (28, 32)
DEFAULT_CHANNELS = (32, 64)
DEFAULT_HIDDEN = 256


def _check_options(hidden: int, channels: Sequence[int]) -> tuple[int, ...]:
    return check_conv_options("conv28", hidden, channels, range(2, 3))


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
        widths = _check_options(hidden, channels)
        return conv_encoder(int(data_shape[0]), widths, int(data_shape[1]) // 4, int(hidden),
                            out_features)

    @staticmethod
    def decoder(
        latent_dim: int,
        data_shape: tuple[int, ...],
        out_channels: int,
        hidden: int = DEFAULT_HIDDEN,
        channels: Sequence[int] = DEFAULT_CHANNELS,
    ) -> nn.Module:
        Conv28.check(data_shape)
        widths = _check_options(hidden, channels)
        return deconv_decoder(latent_dim, widths, int(data_shape[1]) // 4, int(hidden),
                              out_channels)
