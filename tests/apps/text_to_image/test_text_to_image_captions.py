"""Caption generators: every attribute value and factor value is covered, held-out
combinations never reach training, and the text names the attributes."""

from __future__ import annotations

import numpy as np
import pytest

from vaekit.apps.text_to_image.captions import (
    CaptionedDataset,
    DSpritesCaptions,
    caption_set,
    holdout_combinations,
)
from vaekit.apps.text_to_image.tokenizer import words_of
from vaekit.errors import ConfigError

# The words by which a caption names each dSprites attribute value (synonyms included).
NAMES = {
    "shape": {"square": {"square", "box", "block"}, "ellipse": {"ellipse", "oval"},
              "heart": {"heart"}},
    "size": {"small": {"small", "tiny", "little"}, "medium": {"medium", "mid"},
             "large": {"large", "big", "huge"}},
}


def test_every_factor_value_maps_to_an_attribute_and_back():
    captions = DSpritesCaptions()
    sizes = (3, 6, 40, 32, 32)
    for k in (0, 1, 3, 4):  # the captioned factors; orientation is left to the latent code
        for value in range(sizes[k]):
            factors = np.zeros((1, 5), dtype=np.int64)
            factors[0, k] = value
            attributes = captions.attributes_of(factors)
            assert (attributes >= 0).all()
            again = captions.factors_for(attributes, np.random.default_rng(value))
            assert (captions.attributes_of(again) == attributes).all()
    # every factor value is reachable from its attribute class
    rng = np.random.default_rng(0)
    attrs = np.stack([rng.integers(0, 3, 20000) for _ in range(4)], axis=1)
    factors = captions.factors_for(attrs, rng)
    for k in (0, 1, 2, 3, 4):
        assert set(factors[:, k]) == set(range(sizes[k]))


def test_captions_cover_every_attribute_value_and_name_it():
    captions = caption_set("dsprites")
    rng = np.random.default_rng(0)
    seen_words = set()
    for combo in captions.combinations():
        for _ in range(5):
            text = captions.caption(combo, rng)
            words = set(words_of(text))
            seen_words |= words
            shape = captions.attribute_values[0][combo[0]]
            size = captions.attribute_values[1][combo[1]]
            assert words & NAMES["shape"][shape], text
            assert words & NAMES["size"][size], text
            for other, names in NAMES["shape"].items():
                if other != shape:
                    assert not words & names, text
            h = captions.attribute_values[2][combo[2]]
            v = captions.attribute_values[3][combo[3]]
            if h in ("left", "right"):
                assert h in words, text
            if v == "top":
                assert words & {"top", "upper"}, text
            if v == "bottom":
                assert words & {"bottom", "lower"}, text
            if (h, v) == ("center", "middle"):
                assert words & {"center", "centre", "middle", "centered"}, text
    for names in NAMES.values():
        for synonyms in names.values():
            assert synonyms <= seen_words | {"mid"}


def test_heldout_combinations_never_appear_in_training():
    captions = caption_set("dsprites")
    held = holdout_combinations(captions, 8, seed=0)
    assert len(held) == 8 and held == holdout_combinations(captions, 8, seed=0)
    data = CaptionedDataset(captions, size=5000, split="train", holdout=8)
    seen = {tuple(row) for row in data.attributes.tolist()}
    assert not seen & set(held)
    assert len(seen) == 81 - 8  # and every other combination is there
    assert (captions.attributes_of(data.factors) == data.attributes).all()
    test = CaptionedDataset(captions, size=500, split="heldout", holdout=8, seed=1)
    assert {tuple(row) for row in test.attributes.tolist()} == set(held)


def test_captioned_dataset_items_are_the_captioned_images():
    data = CaptionedDataset("dsprites", size=64, seed=2)
    images = data.__getitems__(list(range(8)))
    assert len(images) == 8 and images[0].shape == (1, 64, 64) == data.data_shape
    assert data.labels.shape == (64, 16)
    rendered = DSpritesCaptions().dataset().render(data.factors[:8])
    for i in range(8):
        assert (images[i] == rendered[i]).all() and (data[i] == rendered[i]).all()


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="split"):
        CaptionedDataset("dsprites", size=4, split="test")
    with pytest.raises(ConfigError, match="unknown caption set"):
        caption_set("cifar")
    with pytest.raises(ConfigError, match="holdout count"):
        holdout_combinations(caption_set("dsprites"), 81)


def test_shapes3d_captions_name_colours_and_cover_every_value():
    captions = caption_set("shapes3d")
    rng = np.random.default_rng(0)
    for k, values in enumerate(captions.attribute_values):
        for v in range(len(values)):
            combo = [0, 0, 0, 0, 0]
            combo[k] = v
            text = captions.caption(combo, rng)
            if k >= 2:  # colours are named as they are
                assert values[v] in words_of(text), text
    factors = captions.factors_for(np.array([[2, 1, 0, 7, 9]]), rng)
    assert captions.attributes_of(factors).tolist() == [[2, 1, 0, 7, 9]]
    text = captions.caption([2, 1, 0, 7, 9], rng)
    assert {"red", "blue", "pink"} <= set(words_of(text))
