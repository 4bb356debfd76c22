"""The translation scores on cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.apps.translation.evaluation import (
    diversity,
    identity_error,
    label_preservation,
    match_channels,
    pixel_error,
    translation_report,
)
from vaekit.errors import ShapeError


class MeanThreshold:
    """A 'classifier' of 2 classes: 1 when the image's mean is above 0.5."""

    def predict(self, images: torch.Tensor) -> np.ndarray:
        return (images.flatten(1).mean(1) > 0.5).long().numpy()


def test_pixel_error_and_identity():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.25)
    assert pixel_error(x, y) == pytest.approx(0.25)
    assert pixel_error(y, y) == 0.0
    assert identity_error(x, 1.0 - x) == pytest.approx(1.0)  # inversion: identity is worst
    rgb = torch.full((2, 3, 4, 4), 0.5)
    assert identity_error(torch.full((2, 1, 4, 4), 0.5), rgb) == 0.0
    assert match_channels(x, 3).shape == (2, 3, 4, 4)
    with pytest.raises(ShapeError):
        pixel_error(x, rgb)


def test_diversity_is_zero_for_identical_draws_and_the_mean_pairwise_distance_otherwise():
    same = torch.rand(1, 3, 1, 2, 2).expand(4, -1, -1, -1, -1)
    assert diversity(same) == 0.0
    draws = torch.stack([torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2),
                         torch.full((3, 1, 2, 2), 0.5)])
    assert diversity(draws) == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    with pytest.raises(ShapeError):
        diversity(draws[:1])


def test_label_preservation_and_report_on_an_inverting_translator():
    x_a = torch.cat([torch.zeros(3, 1, 4, 4), torch.ones(2, 1, 4, 4)])
    x_b = 1.0 - x_a
    labels = np.array([1, 1, 1, 0, 0])  # B-domain labels: bright for the dark A images
    classifier = MeanThreshold()
    assert label_preservation(classifier, x_b, labels) == 1.0
    assert label_preservation(classifier, x_a, labels) == 0.0
    report = translation_report(lambda x: 1.0 - x, x_a, x_b, labels, classifier,
                                sample=lambda x: (1.0 - x + 0.1 * torch.rand_like(x)).clamp(0, 1))
    assert report["pixel_error"] == 0.0 and report["identity_pixel_error"] == 1.0
    assert report["label_preservation"] == 1.0 and report["identity_label_preservation"] == 0.0
    assert 0.0 < report["diversity"] < 0.1
