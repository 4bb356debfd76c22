"""Residual conv encoder/decoder for images of any size divisible by ``2**num_downsamples``.

Blocks are pre-activation residual blocks (He et al. 2016, "Identity mappings in deep residual
networks"): ``x + conv3x3(relu(conv3x3(relu(x))))``. There is no normalisation layer: batch
statistics make a VAE's likelihood depend on the other examples of the batch and differ between
training and evaluation, which biases ELBO/IWAE estimates.

- encoder: conv3x3 stem; per resolution ``num_blocks`` residual blocks, then a ReLU and a
  stride-2 conv3x3 to the next width (``num_downsamples`` times); ``num_blocks`` blocks at the
  smallest map; ReLU, flatten, FC ``out_features``;
- decoder: FC to the smallest feature map; ``num_blocks`` blocks; per resolution a ReLU, a nearest
  2x upsample + conv3x3 (resize-convolution rather than transposed convolution, which avoids
  checkerboard artefacts, Odena et al. 2016, "Deconvolution and checkerboard artifacts") and
  ``num_blocks`` blocks; ReLU, conv3x3 to ``out_channels``.

Widths double with each downsample starting from ``channels`` and stop growing at 4x
``channels``, so extra downsamples do not blow up the parameter count.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.errors import ConfigError, ShapeError
from vaekit.nn.base import NetworkFamily, Reshape, require_image
from vaekit.registry import NETWORKS

DEFAULT_CHANNELS = 32
DEFAULT_BLOCKS = 1
DEFAULT_DOWNSAMPLES = 3
_MAX_WIDTH_FACTOR = 4


class ResidualBlock(nn.Module):
    """Pre-activation residual block with two 3x3 convolutions at constant width."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(self.act(x))))


def _widths(channels: int, num_downsamples: int) -> list[int]:
    """Width at each resolution, from the input resolution (index 0) to the smallest."""
    return [channels * min(2**i, _MAX_WIDTH_FACTOR) for i in range(num_downsamples + 1)]


def _check_options(channels: int, num_blocks: int, num_downsamples: int) -> None:
    if int(channels) <= 0:
        raise ConfigError(f"network 'resnet': channels must be positive, got {channels}")
    if int(num_blocks) < 0:
        raise ConfigError(f"network 'resnet': num_blocks must be >= 0, got {num_blocks}")
    if int(num_downsamples) < 0:
        raise ConfigError(
            f"network 'resnet': num_downsamples must be >= 0, got {num_downsamples}"
        )


@NETWORKS.register("resnet")
class ResNet(NetworkFamily):
    """Residual encoder/decoder for ``(C, H, W)`` images with H and W divisible by
    ``2**num_downsamples``; any channel count.

    Options: ``channels`` (base width, default 32), ``num_blocks`` (residual blocks per
    resolution, default 1), ``num_downsamples`` (stride-2 stages, default 3, so H and W must be
    multiples of 8).
    """

    name = "resnet"

    @staticmethod
    def check(
        data_shape: tuple[int, ...], num_downsamples: int = DEFAULT_DOWNSAMPLES, **options: object
    ) -> None:
        # NOTE: BaseVAE calls check(data_shape) without the network options, so there this
        # checks the default num_downsamples; encoder()/decoder() check again with the real one.
        # Other options (channels, num_blocks) do not change the accepted shapes.
        _, h, w = require_image("resnet", data_shape, channels=None)
        factor = 2 ** int(num_downsamples)
        if h % factor or w % factor:
            raise ShapeError(
                f"network 'resnet' with num_downsamples={num_downsamples} needs H and W divisible "
                f"by 2**{num_downsamples} = {factor}, got {h}x{w} (data shape "
                f"{tuple(data_shape)}); crop or pad the images, or lower num_downsamples"
            )

    @staticmethod
    def encoder(
        data_shape: tuple[int, ...],
        out_features: int,
        channels: int = DEFAULT_CHANNELS,
        num_blocks: int = DEFAULT_BLOCKS,
        num_downsamples: int = DEFAULT_DOWNSAMPLES,
    ) -> nn.Module:
        _check_options(channels, num_blocks, num_downsamples)
        ResNet.check(data_shape, num_downsamples)
        c, h, w = (int(s) for s in data_shape)
        widths = _widths(int(channels), int(num_downsamples))
        layers: list[nn.Module] = [nn.Conv2d(c, widths[0], kernel_size=3, padding=1)]
        for i in range(int(num_downsamples)):
            layers += [ResidualBlock(widths[i]) for _ in range(int(num_blocks))]
            # Pre-activation transition (ReLU first) so the net stays non-linear with
            # num_blocks=0; kernel 3, stride 2, padding 1 maps an even side s to exactly s / 2.
            layers += [
                nn.ReLU(),
                nn.Conv2d(widths[i], widths[i + 1], kernel_size=3, stride=2, padding=1),
            ]
        layers += [ResidualBlock(widths[-1]) for _ in range(int(num_blocks))]
        factor = 2 ** int(num_downsamples)
        layers += [
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(widths[-1] * (h // factor) * (w // factor), out_features),
        ]
        return nn.Sequential(*layers)

    @staticmethod
    def decoder(
        latent_dim: int,
        data_shape: tuple[int, ...],
        out_channels: int,
        channels: int = DEFAULT_CHANNELS,
        num_blocks: int = DEFAULT_BLOCKS,
        num_downsamples: int = DEFAULT_DOWNSAMPLES,
    ) -> nn.Module:
        _check_options(channels, num_blocks, num_downsamples)
        ResNet.check(data_shape, num_downsamples)
        _, h, w = (int(s) for s in data_shape)
        widths = _widths(int(channels), int(num_downsamples))
        factor = 2 ** int(num_downsamples)
        hs, ws = h // factor, w // factor
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, widths[-1] * hs * ws),
            Reshape(widths[-1], hs, ws),
        ]
        layers += [ResidualBlock(widths[-1]) for _ in range(int(num_blocks))]
        for i in reversed(range(int(num_downsamples))):
            layers += [
                nn.ReLU(),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(widths[i + 1], widths[i], kernel_size=3, padding=1),
            ]
            layers += [ResidualBlock(widths[i]) for _ in range(int(num_blocks))]
        layers += [nn.ReLU(), nn.Conv2d(widths[0], out_channels, kernel_size=3, padding=1)]
        return nn.Sequential(*layers)
