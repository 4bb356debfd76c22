"""Captions on real data: MNIST digits on a canvas, and the real caption set."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from vaekit.apps.text_to_image.captions import CaptionedDataset, caption_set
from vaekit.apps.text_to_image.tokenizer import UNK_ID, Tokenizer, words_of


@pytest.fixture(scope="module")
def mnist_captions(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data folder holds the first 10k training digits
        captions = caption_set("mnist_canvas")
        captions.dataset()
    return captions


def test_mnist_canvas_places_the_digit_where_the_caption_says(mnist_captions):
    data = CaptionedDataset(mnist_captions, size=300, holdout=9, seed=0)
    assert data.data_shape == (1, 64, 64)
    images = np.stack([t.numpy() for t in data.__getitems__(list(range(300)))])
    digits = mnist_captions.dataset().labels_of_images[data.factors[:, 0]]
    assert (digits == data.attributes[:, 0]).all()
    for image, (digit, h, v), text in zip(images, data.attributes, data.captions, strict=True):
        words = set(words_of(text))
        number_words = ("zero", "one", "two", "three", "four", "five", "six", "seven",
                        "eight", "nine")
        assert str(digit) in words or number_words[digit] in words, text
        rows, cols = np.nonzero(image[0] > 0.5)
        centre_row, centre_col = rows.mean(), cols.mean()  # ink centre ~ offset + 14
        assert abs(centre_col - (data_offset_centre(h))) < 17, (text, centre_col)
        assert abs(centre_row - (data_offset_centre(v))) < 17, (text, centre_row)


def data_offset_centre(position_class: int) -> float:
    return {0: 6 + 14, 1: 18 + 14, 2: 31 + 14}[int(position_class)]


def test_mnist_canvas_covers_every_digit_and_position(mnist_captions):
    data = CaptionedDataset(mnist_captions, size=3000, split="all", seed=1)
    for k, size in enumerate(mnist_captions.attribute_sizes):
        assert set(data.attributes[:, k]) == set(range(size))


def test_real_captions_tokenize_without_errors(shared_data):
    from vaekit.apps.text_to_image.real_captions import load_caption_pairs

    images, texts, files = load_caption_pairs()
    assert images.shape == (len(texts), 1, 64, 64) and len(files) == len(texts) >= 20
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    dsprites = caption_set("dsprites").vocabulary(max_tokens=32)
    ids = dsprites.encode_batch(texts)  # mostly unknown words: <unk>, never an error
    assert (ids == UNK_ID).any()
    own = Tokenizer.from_texts(texts, max_tokens=32)
    assert not (own.encode_batch(texts) == UNK_ID).any()
