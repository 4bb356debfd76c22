"""Stride-2 conv encoder / transposed-conv decoder stacks shared by the conv families.

Kernel 4, stride 2, padding 1 halves an even side exactly, and the transposed convolution with
the same settings doubles it back, so the decoder returns exactly the input size.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from vaekit.errors import ConfigError
from vaekit.nn.base import Reshape


def check_conv_options(name: str, hidden: int, channels: Sequence[int],
                       num_convs: range) -> tuple[int, ...]:
    """Validate ``hidden`` and one width per stride-2 conv; return the widths as ints."""
    widths = tuple(int(c) for c in channels)
    if int(hidden) <= 0:
        raise ConfigError(f"network '{name}': hidden must be positive, got {hidden}")
    if len(widths) not in num_convs or any(c <= 0 for c in widths):
        count = (f"{num_convs.start}" if len(num_convs) == 1
                 else f"{num_convs.start} to {num_convs.stop - 1}")
        raise ConfigError(
            f"network '{name}': channels must be {count} positive widths (one per stride-2 "
            f"conv), got {list(widths)}"
        )
    return widths


_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_DECONV = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}


def conv_encoder(in_channels: int, widths: Sequence[int], side: int, hidden: int,
                 out_features: int, dims: int = 2) -> nn.Sequential:
    """[conv 4x4 s2, ReLU] per width, flatten, FC ``hidden``, ReLU, FC ``out_features``.

    ``side`` is the side of the last feature map (input side / 2**len(widths)); ``dims`` = 2
    for images, 1 for sequences (kernel 4, stride 2 along the one axis).
    """
    layers: list[nn.Module] = []
    n_in = in_channels
    for n_out in widths:
        layers += [_CONV[dims](n_in, n_out, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        n_in = n_out
    layers += [nn.Flatten(), nn.Linear(n_in * side ** dims, hidden), nn.ReLU(),
               nn.Linear(hidden, out_features)]
    return nn.Sequential(*layers)


def deconv_decoder(latent_dim: int, widths: Sequence[int], side: int, hidden: int,
                   out_channels: int, dims: int = 2) -> nn.Sequential:
    """The mirror of :func:`conv_encoder`: FC ``hidden``, FC to a ``widths[-1]`` x side x side
    map (x side for ``dims=1``), then transposed convs through the widths in reverse and
    finally to ``out_channels`` (no activation there: the likelihood reads those as its
    parameters)."""
    up_widths = [*reversed(widths[:-1]), out_channels]
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, widths[-1] * side ** dims), nn.ReLU(),
        Reshape(widths[-1], *[side] * dims),
    ]
    n_in = widths[-1]
    for i, n_out in enumerate(up_widths):
        layers.append(_DECONV[dims](n_in, n_out, kernel_size=4, stride=2, padding=1))
        if i < len(up_widths) - 1:
            layers.append(nn.ReLU())
        n_in = n_out
    return nn.Sequential(*layers)
