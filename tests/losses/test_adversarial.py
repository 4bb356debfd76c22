"""GAN losses: known values, the signs of their gradients, and bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vaekit.errors import ConfigError, ShapeError
from vaekit.losses.adversarial import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    generator_loss,
)


def test_non_saturating_known_values():
    out = discriminator_loss(torch.zeros(3), torch.zeros(5))
    # D = sigmoid(0) = 1/2 on both: -log(1/2) - log(1 - 1/2) = 2 log 2.
    assert float(out["loss"]) == pytest.approx(2 * math.log(2))
    assert float(out["d_real"]) == 0.0 and float(out["d_fake"]) == 0.0
    assert float(generator_loss(torch.zeros(4))) == pytest.approx(math.log(2))
    # -log sigmoid(2) for the generator at logit 2.
    assert float(generator_loss(torch.tensor([2.0]))) == pytest.approx(
        -math.log(1 / (1 + math.exp(-2.0))))


def test_non_saturating_is_the_binary_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, generator=gen) * 3, torch.randn(5, generator=gen) * 3
    out = discriminator_loss(real, fake)
    expected = (F.binary_cross_entropy_with_logits(real, torch.ones(7))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros(5)))
    torch.testing.assert_close(out["loss"], expected)
    torch.testing.assert_close(out["d_real"], real.mean())
    torch.testing.assert_close(out["d_fake"], fake.mean())
    torch.testing.assert_close(generator_loss(fake),
                               F.binary_cross_entropy_with_logits(fake, torch.ones(5)))


def test_hinge_known_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    out = discriminator_loss(real, fake, kind="hinge")
    # real: mean(max(0, 1 - [2, 0.5])) = 0.25; fake: mean(max(0, 1 + [-2, 0.5])) = 0.75.
    assert float(out["loss"]) == pytest.approx(1.0)
    assert float(generator_loss(torch.tensor([1.5, -0.5]), kind="hinge")) == pytest.approx(-0.5)
    # A discriminator beyond the margins on both sides has zero loss.
    assert float(discriminator_loss(torch.tensor([3.0]), torch.tensor([-1.5]),
                                    kind="hinge")["loss"]) == 0.0


@pytest.mark.parametrize("kind", ADVERSARIAL_LOSSES)
def test_gradient_signs(kind):
    """D's loss falls as real logits rise and as fake logits fall; the generator's loss falls as
    fake logits rise (inside hinge's margins, where its gradient is not zero)."""
    real = torch.tensor([-0.5, 0.0, 0.7], requires_grad=True)
    fake = torch.tensor([-0.7, 0.0, 0.5, 0.9], requires_grad=True)
    discriminator_loss(real, fake, kind)["loss"].backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake.grad = None
    generator_loss(fake, kind).backward()
    assert (fake.grad < 0).all()
    # And the values move the same way (not just the local gradient).
    with torch.no_grad():
        base = discriminator_loss(real, fake, kind)["loss"]
        assert discriminator_loss(real + 0.05, fake, kind)["loss"] < base
        assert discriminator_loss(real, fake - 0.05, kind)["loss"] < base
        assert generator_loss(fake + 0.05, kind) < generator_loss(fake, kind)


def test_terms_are_per_example_means():
    """Batches of different sizes: each half is a mean, so duplicating examples changes
    nothing."""
    real, fake = torch.tensor([0.3, -1.0]), torch.tensor([0.2])
    for kind in ADVERSARIAL_LOSSES:
        a = discriminator_loss(real, fake, kind)["loss"]
        b = discriminator_loss(real.repeat(3), fake.repeat(5), kind)["loss"]
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(generator_loss(fake, kind), generator_loss(fake.repeat(4), kind))


def test_column_logits_are_accepted_and_other_shapes_are_errors():
    out = discriminator_loss(torch.zeros(3, 1), torch.zeros(2, 1))
    assert out["loss"].dim() == 0
    with pytest.raises(ShapeError, match=r"one logit per example"):
        discriminator_loss(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ShapeError, match="fake_logits"):
        generator_loss(torch.zeros(0))


def test_unknown_kind_names_the_options():
    for call in (lambda: discriminator_loss(torch.zeros(2), torch.zeros(2), kind="wgan"),
                 lambda: generator_loss(torch.zeros(2), kind="wgan")):
        with pytest.raises(ConfigError, match="non_saturating, hinge.*'wgan'"):
            call()
