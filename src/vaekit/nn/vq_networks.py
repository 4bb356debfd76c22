"""Convolutional encoder and decoder of VQ-VAE, which keep the spatial grid of the latents.

van den Oord, Vinyals & Kavukcuoglu (2017), sec. 4.1: "the encoder consists of 2 strided
convolutional layers with stride 2 and window size 4 x 4, followed by two residual 3 x 3 blocks
(implemented as ReLU, 3x3 conv, ReLU, 1x1 conv) ... The decoder similarly has two residual
3 x 3 blocks, followed by two transposed convolutions with stride 2 and window size 4 x 4."
Here the number of stride-2 stages (``downsample``), the width (256 in the paper) and the
number of residual blocks are settings; a 1x1 conv maps to and from ``code_dim`` channels.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.errors import ShapeError


class ResidualBlock(nn.Module):
    """``x + conv1x1(relu(conv3x3(relu(x))))``, the paper's residual block."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, hidden, kernel_size=3, padding=1),
            nn.ReLU(), nn.Conv2d(hidden, channels, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def check_image_shape(data_shape: tuple[int, ...], downsample: int) -> tuple[int, int]:
    """The latent grid ``(H / 2**d, W / 2**d)`` for images ``(C, H, W)``, or a ShapeError."""
    if len(data_shape) != 3:
        raise ShapeError(f"VQ-VAE needs image data (C, H, W), got data_shape {tuple(data_shape)}")
    factor = 2**downsample
    height, width = int(data_shape[1]), int(data_shape[2])
    if height % factor or width % factor:
        raise ShapeError(
            f"VQ-VAE with downsample={downsample} needs image height and width divisible by "
            f"{factor}, got {height}x{width}; lower model.downsample or resize the images"
        )
    return height // factor, width // factor


def vq_encoder(in_channels: int, code_dim: int, hidden: int, residual_blocks: int,
               residual_hidden: int, downsample: int) -> nn.Sequential:
    """``x (B, C, H, W) -> z_e (B, code_dim, H / 2**downsample, W / 2**downsample)``."""
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(downsample):
        layers += [nn.Conv2d(channels, hidden, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        channels = hidden
    layers.append(nn.Conv2d(channels, hidden, kernel_size=3, padding=1))
    layers += [ResidualBlock(hidden, residual_hidden) for _ in range(residual_blocks)]
    layers += [nn.ReLU(), nn.Conv2d(hidden, code_dim, kernel_size=1)]
    return nn.Sequential(*layers)


def vq_decoder(code_dim: int, out_channels: int, hidden: int, residual_blocks: int,
               residual_hidden: int, downsample: int) -> nn.Sequential:
    """``z_q (B, code_dim, h, w) -> params (B, out_channels, h * 2**d, w * 2**d)``."""
    layers: list[nn.Module] = [nn.Conv2d(code_dim, hidden, kernel_size=3, padding=1)]
    layers += [ResidualBlock(hidden, residual_hidden) for _ in range(residual_blocks)]
    layers.append(nn.ReLU())
    for stage in range(downsample):
        last = stage == downsample - 1
        layers.append(nn.ConvTranspose2d(hidden, out_channels if last else hidden,
                                         kernel_size=4, stride=2, padding=1))
        if not last:
            layers.append(nn.ReLU())
    if downsample == 0:
        layers.append(nn.Conv2d(hidden, out_channels, kernel_size=3, padding=1))
    return nn.Sequential(*layers)
