"""The 64x64 convolutional encoder/decoder of the disentanglement literature.

This is the architecture of beta-VAE (Higgins et al. 2017, "beta-VAE: Learning basic visual
concepts with a constrained variational framework", appendix A), of Burgess et al. (2018),
"Understanding disentangling in beta-VAE", and of disentanglement_lib's ``conv_encoder`` /
``deconv_decoder`` (Locatello et al. 2019, "Challenging common assumptions in the unsupervised
learning of disentangled representations", table 1):

- encoder: 4 x [conv 4x4, stride 2] with 32, 32, 64, 64 channels and ReLU
  (64 -> 32 -> 16 -> 8 -> 4), flatten, FC 256, ReLU, FC ``out_features``;
- decoder: FC 256, ReLU, FC 64*4*4, ReLU, 4 x [transposed conv 4x4, stride 2] with
  64, 32, 32, ``out_channels`` channels and ReLU between them (4 -> 8 -> 16 -> 32 -> 64).

Using the same network as those papers keeps the disentanglement metrics comparable with theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from vaekit.errors import ShapeError
from vaekit.nn.base import NetworkFamily, require_image
from vaekit.nn.conv_blocks import check_conv_options, conv_encoder, deconv_decoder
from vaekit.registry import NETWORKS

IMAGE_SIZE = 64
DEFAULT_CHANNELS = (32, 32, 64, 64)
DEFAULT_HIDDEN = 256


def _check_options(hidden: int, channels: Sequence[int]) -> tuple[int, ...]:
    # Each conv halves the side, so at most 6 of them fit in 64 pixels (64 = 2**6).
    return check_conv_options("conv64", hidden, channels, range(1, 7))


@NETWORKS.register("conv64")
class Conv64(NetworkFamily):
    """Conv encoder / transposed-conv decoder for 64x64 images with 1 or 3 channels.

    Options: ``hidden`` (width of the fully connected layer, default 256) and ``channels``
    (widths of the stride-2 convolutions, default ``(32, 32, 64, 64)``; with ``n`` widths the
    smallest feature map is ``64 / 2**n`` pixels on a side).
    """

    name = "conv64"

    @staticmethod
    def check(data_shape: tuple[int, ...], **options: object) -> None:
        # Options do not change the accepted shapes; they are accepted so callers can pass the
        # network options to check() as they do to encoder()/decoder().
        c, h, w = require_image("conv64", data_shape, channels=(1, 3))
        if (h, w) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ShapeError(
                f"network 'conv64' takes 64x64 images, got {h}x{w} (data shape "
                f"{tuple(data_shape)}); use network 'conv28' for 28x28 or 32x32 images, "
                "'resnet' for other sizes divisible by 8, or resize the images to 64x64"
            )

    @staticmethod
    def encoder(
        data_shape: tuple[int, ...],
        out_features: int,
        hidden: int = DEFAULT_HIDDEN,
        channels: Sequence[int] = DEFAULT_CHANNELS,
    ) -> nn.Module:
        Conv64.check(data_shape)
        widths = _check_options(hidden, channels)
        return conv_encoder(int(data_shape[0]), widths, IMAGE_SIZE >> len(widths), int(hidden),
                            out_features)

    @staticmethod
    def decoder(
        latent_dim: int,
        data_shape: tuple[int, ...],
        out_channels: int,
        hidden: int = DEFAULT_HIDDEN,
        channels: Sequence[int] = DEFAULT_CHANNELS,
    ) -> nn.Module:
        Conv64.check(data_shape)
        widths = _check_options(hidden, channels)
        return deconv_decoder(latent_dim, widths, IMAGE_SIZE >> len(widths), int(hidden),
                              out_channels)
