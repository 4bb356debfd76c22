"""1-D convolutional encoder/decoder for sequences ``(C, L)``: time series, waveforms, spectra.

The 1-D counterpart of the image families: each stride-2 convolution (kernel 4, padding 1)
halves the length exactly and the transposed convolution with the same settings doubles it back,
so the decoder returns exactly ``L`` steps. ``L`` must therefore be divisible by
``2 ** len(channels)``; a clear error says so otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from vaekit.errors import ShapeError
from vaekit.nn.base import NetworkFamily
from vaekit.nn.conv_blocks import check_conv_options, conv_encoder, deconv_decoder
from vaekit.registry import NETWORKS

DEFAULT_CHANNELS = (32, 64, 64)
DEFAULT_HIDDEN = 256


def _sequence_shape(data_shape: tuple[int, ...], channels: Sequence[int]) -> tuple[int, int]:
    if len(data_shape) != 2:
        raise ShapeError(
            f"network 'conv1d' takes sequences (C, L), got data of shape {tuple(data_shape)}; "
            "use 'mlp' for vectors, 'conv28', 'conv64' or 'resnet' for images (a single "
            "series of length L is shape (1, L))"
        )
    c, length = (int(s) for s in data_shape)
    factor = 2 ** len(channels)
    if length % factor:
        raise ShapeError(
            f"network 'conv1d' with {len(channels)} stride-2 convs needs a length divisible by "
            f"{factor}, got {length} (data shape {tuple(data_shape)}); pad or crop the "
            "sequences, or give fewer network_options.channels"
        )
    return c, length


@NETWORKS.register("conv1d")
class Conv1d(NetworkFamily):
    """[conv1d k4 s2, ReLU] per width, FC ``hidden``; the decoder mirrors it."""

    name = "conv1d"

    @staticmethod
    def check(data_shape: tuple[int, ...], channels: Sequence[int] = DEFAULT_CHANNELS,
              **options: object) -> None:
        _sequence_shape(data_shape, channels)

    @staticmethod
    def encoder(data_shape: tuple[int, ...], out_features: int, hidden: int = DEFAULT_HIDDEN,
                channels: Sequence[int] = DEFAULT_CHANNELS) -> nn.Module:
        widths = check_conv_options("conv1d", hidden, channels, range(1, 9))
        c, length = _sequence_shape(data_shape, widths)
        return conv_encoder(c, widths, length >> len(widths), int(hidden), out_features, dims=1)

    @staticmethod
    def decoder(latent_dim: int, data_shape: tuple[int, ...], out_channels: int,
                hidden: int = DEFAULT_HIDDEN,
                channels: Sequence[int] = DEFAULT_CHANNELS) -> nn.Module:
        widths = check_conv_options("conv1d", hidden, channels, range(1, 9))
        _, length = _sequence_shape(data_shape, widths)
        return deconv_decoder(latent_dim, widths, length >> len(widths), int(hidden),
                              out_channels, dims=1)
