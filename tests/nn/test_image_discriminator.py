"""The image discriminator: shapes for any image size >= 8, per-example outputs, spectral
normalisation, clear errors, and that it can learn to tell two image sets apart."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import ConfigError, ShapeError
from vaekit.losses.adversarial import discriminator_loss
from vaekit.nn.image_discriminator import ImageDiscriminator

# (shape, F at width 4): stride-2 convs (4, 8, 16 channels) until the smaller side is 3 to 7.
FEATURES = [((1, 8, 8), 4 * 4 * 4), ((1, 28, 28), 16 * 3 * 3), ((3, 32, 32), 16 * 4 * 4),
            ((3, 64, 64), 16 * 8 * 8), ((2, 9, 13), 4 * 4 * 6), ((1, 8, 40), 4 * 4 * 20)]


@pytest.mark.parametrize(("shape", "feature_dim"), FEATURES)
@pytest.mark.parametrize("spectral", [False, True])
def test_output_shapes(shape, feature_dim, spectral):
    torch.manual_seed(0)
    disc = ImageDiscriminator(shape, width=4, spectral_norm=spectral)
    logits, features = disc(torch.rand(3, *shape))
    assert disc.feature_dim == feature_dim
    assert logits.shape == (3,) and features.shape == (3, feature_dim)
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()


def test_examples_do_not_interact():
    """No batch statistics: an example's logit and features depend on that example only."""
    torch.manual_seed(0)
    disc = ImageDiscriminator((1, 8, 8), width=4)
    x = torch.rand(4, 1, 8, 8)
    logits, features = disc(x)
    y = x.clone()
    y[1:] = torch.rand(3, 1, 8, 8)
    logits2, features2 = disc(y)
    torch.testing.assert_close(logits[0], logits2[0])
    torch.testing.assert_close(features[0], features2[0])
    one, _ = disc(x[:1])
    torch.testing.assert_close(one[0], logits[0])


def test_spectral_norm_bounds_each_layer():
    torch.manual_seed(0)
    disc = ImageDiscriminator((1, 16, 16), width=4, spectral_norm=True).train()
    x = torch.rand(2, 1, 16, 16)
    for _ in range(30):  # power iterations converge on the top singular vectors
        disc(x)
    layers = [m for m in disc.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 3  # two convolutions (16 -> 8 -> 4) and the head
    for layer in layers:
        weight = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        assert float(torch.linalg.matrix_norm(weight, ord=2)) == pytest.approx(1.0, abs=0.02)
    plain = ImageDiscriminator((1, 16, 16), width=4)
    assert not any("parametrizations" in name for name, _ in plain.named_parameters())


@pytest.mark.parametrize("shape", [(1, 7, 8), (1, 8, 7), (0, 8, 8)])
def test_small_images_are_shape_errors(shape):
    with pytest.raises(ShapeError, match="at least 8x8"):
        ImageDiscriminator(shape)


def test_other_errors():
    with pytest.raises(ShapeError, match=r"images \(C, H, W\)"):
        ImageDiscriminator((64,))
    with pytest.raises(ConfigError, match="width"):
        ImageDiscriminator((1, 8, 8), width=0)
    disc = ImageDiscriminator((1, 8, 8), width=4)
    with pytest.raises(ShapeError, match=r"built for batches of \(1, 8, 8\)"):
        disc(torch.rand(2, 1, 16, 16))


@pytest.mark.parametrize("kind", ["non_saturating", "hinge"])
def test_it_learns_to_separate_two_image_sets(kind):
    """Bright top halves (real) vs bright bottom halves (fake): a few Adam steps on the GAN loss
    make real logits exceed fake ones on fresh draws."""
    torch.manual_seed(0)
    disc = ImageDiscriminator((1, 8, 8), width=8, spectral_norm=kind == "hinge")
    optimiser = torch.optim.Adam(disc.parameters(), lr=1e-2)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = 0.3 * torch.rand(2 * n, 1, 8, 8)
        real, fake = noise[:n].clone(), noise[n:].clone()
        real[:, :, :4] += 0.7
        fake[:, :, 4:] += 0.7
        return real, fake

    real, fake = draw(32)
    with torch.no_grad():
        before = float(discriminator_loss(disc(real)[0], disc(fake)[0], kind)["loss"])
    for _ in range(40):
        real, fake = draw(32)
        loss = discriminator_loss(disc(real)[0], disc(fake)[0], kind)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    disc.eval()
    real, fake = draw(64)
    with torch.no_grad():
        out = discriminator_loss(disc(real)[0], disc(fake)[0], kind)
    assert float(out["loss"]) < 0.5 * before
    assert float(out["d_real"]) > float(out["d_fake"])
