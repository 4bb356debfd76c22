"""The conv1d family: exact lengths back, gradients through, clear errors for other shapes."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import ShapeError
from vaekit.registry import NETWORKS


@pytest.mark.parametrize("shape, channels", [((1, 64), (8, 16, 16)), ((3, 40), (8, 8)),
                                             ((2, 8), (4,))])
def test_decoder_returns_exactly_the_input_length(shape, channels):
    family = NETWORKS.get("conv1d")
    family.check(shape, channels=channels)
    encoder = family.encoder(shape, 6, hidden=16, channels=channels)
    decoder = family.decoder(3, shape, 2 * shape[0], hidden=16, channels=channels)
    x = torch.randn(5, *shape, requires_grad=True)
    assert encoder(x).shape == (5, 6)
    out = decoder(torch.randn(5, 3))
    assert out.shape == (5, 2 * shape[0], shape[1])
    encoder(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_encoder_is_local_in_time():
    # A convolutional encoder's first feature map at the start of the sequence does not depend
    # on the far end of the sequence (unlike an MLP): a property, not a shape.
    family = NETWORKS.get("conv1d")
    encoder = family.encoder((1, 64), 4, hidden=8, channels=(4, 4))
    first_conv = encoder[0]
    x = torch.randn(1, 1, 64)
    y = x.clone()
    y[..., 40:] += 5.0
    assert torch.equal(first_conv(x)[..., :10], first_conv(y)[..., :10])


@pytest.mark.parametrize("shape, match", [
    ((1, 60), "length divisible by 8"),
    ((64,), r"takes sequences \(C, L\)"),
    ((1, 28, 28), r"takes sequences \(C, L\)"),
])
def test_shapes_it_cannot_take_are_explained(shape, match):
    with pytest.raises(ShapeError, match=match):
        NETWORKS.get("conv1d").check(shape)
