"""A convolutional image discriminator that also exposes an intermediate feature layer.

The layout follows the DCGAN discriminator (Radford, Metz & Chintala 2016, "Unsupervised
Representation Learning with Deep Convolutional GANs", ICLR: strided convolutions, leaky ReLU
with slope 0.2, no pooling) scaled to small images, without batch normalisation so each
example's logit depends on that example only (batch statistics would mix real and fake
batches). The features returned with the logits are the last convolution's activations,
flattened: VAE-GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity
metric", ICML, sec. 2.2) measures reconstruction error on such an intermediate layer ``Dis_l``.

Layout for an image ``(C, H, W)``::

    S times: conv 4x4, stride 2, padding 1 (halves each side), leaky ReLU;
             channels: width, then 2x the previous
    features: flatten (B, F);  logit: linear F -> 1

where ``S`` (1 to 3) is the number of halvings that keep the smaller side at least 3 (8x8 -> 4x4
with S = 1; 28x28 -> 3x3 and 64x64 -> 8x8 with S = 3). ``spectral_norm=True`` wraps every
convolution and the linear layer in spectral normalisation (Miyato et al. 2018, "Spectral
Normalization for Generative Adversarial Networks", ICLR), one power iteration per forward pass
in training mode.

Not a network family (it does not map data to latents), so nothing is registered here.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from vaekit.errors import ConfigError, ShapeError

MIN_SIDE = 8
MAX_HALVINGS = 3
NEGATIVE_SLOPE = 0.2


def halvings(height: int, width: int) -> int:
    """How many stride-2 convolutions the discriminator uses for an ``height x width`` image."""
    steps, side = 0, min(height, width)
    while steps < MAX_HALVINGS and side // 2 >= 3:
        side //= 2
        steps += 1
    return steps


class ImageDiscriminator(nn.Module):
    """``x (B, C, H, W) -> (logits (B,), features (B, F))`` for images with H, W >= 8."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 32,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if len(data_shape) != 3:
            raise ShapeError(
                f"the image discriminator takes images (C, H, W), got data of shape "
                f"{tuple(data_shape)}; adversarial image models need image data"
            )
        channels, height, side_w = (int(s) for s in data_shape)
        if channels < 1 or height < MIN_SIDE or side_w < MIN_SIDE:
            raise ShapeError(
                f"the image discriminator takes images of at least {MIN_SIDE}x{MIN_SIDE} with 1 "
                f"or more channels, got data shape {tuple(data_shape)}; resize the images"
            )
        if int(width) < 1:
            raise ConfigError(f"discriminator width must be positive, got {width}")
        self.data_shape = (channels, height, side_w)
        wrap = _spectral_norm if spectral_norm else (lambda module: module)
        layers: list[nn.Module] = []
        c_in, c_out, h, w = channels, int(width), height, side_w
        for _ in range(halvings(height, side_w)):
            layers += [wrap(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(NEGATIVE_SLOPE)]
            c_in, c_out, h, w = c_out, 2 * c_out, h // 2, w // 2
        layers.append(nn.Flatten(1))
        self.features = nn.Sequential(*layers)
        self.feature_dim = c_in * h * w
        self.head = wrap(nn.Linear(self.feature_dim, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if tuple(x.shape[1:]) != self.data_shape or x.dim() != 4:
            raise ShapeError(
                f"the image discriminator was built for batches of {self.data_shape}, got "
                f"{tuple(x.shape)}"
            )
        features = self.features(x)  # (B, F)
        logits = self.head(features)[:, 0]  # (B,)
        return logits, features

    def extra_repr(self) -> str:
        return f"data_shape={self.data_shape}, feature_dim={self.feature_dim}"

