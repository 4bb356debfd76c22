"""The caption tokenizer: unknown words, empty and over-long prompts, round trips."""

from __future__ import annotations

import pytest
import torch

from vaekit.apps.text_to_image.captions import caption_set
from vaekit.apps.text_to_image.tokenizer import PAD_ID, UNK_ID, PromptError, Tokenizer
from vaekit.errors import VaekitError


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return caption_set("dsprites").vocabulary(max_tokens=16)


def test_known_words_round_trip_and_ids_are_stable(tokenizer):
    ids = tokenizer.encode("A small heart near the TOP-left corner!")
    assert UNK_ID not in ids
    assert tokenizer.decode(ids) == "a small heart near the top left corner"
    assert Tokenizer(tokenizer.words, 16).encode("a small heart") == ids[:3]


def test_unknown_words_map_to_unk_and_never_crash(tokenizer):
    ids = tokenizer.encode("a purple giraffe at the top")
    assert ids[1] == UNK_ID and ids[2] == UNK_ID
    assert ids[0] != UNK_ID and ids[-1] != UNK_ID
    assert tokenizer.unknown_words("a purple giraffe at the top") == ["purple", "giraffe"]
    batch = tokenizer.encode_batch(["zzz qqq", "a heart"])
    assert batch.shape == (2, 16)
    assert batch[0, :2].tolist() == [UNK_ID, UNK_ID] and (batch[0, 2:] == PAD_ID).all()


@pytest.mark.parametrize("prompt", ["", "   ", "!!! ,,, --"])
def test_empty_prompt_is_a_clear_error(tokenizer, prompt):
    with pytest.raises(PromptError, match="no words"):
        tokenizer.encode(prompt)
    assert issubclass(PromptError, VaekitError)  # the CLI prints it on one line


def test_too_long_prompt_is_a_clear_error(tokenizer):
    with pytest.raises(PromptError, match="17 words, more than this model's limit of 16"):
        tokenizer.encode_batch(["a heart " + "very " * 15])
    assert len(tokenizer.encode("heart " * 16)) == 16  # exactly the limit is fine


def test_vocabulary_is_built_from_the_training_captions():
    from vaekit.apps.text_to_image.captions import CaptionedDataset

    data = CaptionedDataset("dsprites", size=3000, seed=3)
    from_captions = Tokenizer.from_texts(data.captions)
    assert from_captions.words == caption_set("dsprites").vocabulary().words
    assert from_captions.words == sorted(from_captions.words)
    assert torch.equal(data.labels[0, : len(data.captions[0].split())] != PAD_ID,
                       torch.ones(len(data.captions[0].replace("-", " ").replace(",", "")
                                      .split()), dtype=torch.bool))
