"""A word-level tokenizer whose vocabulary is built from the training captions.

Words are lower-cased runs of letters and digits (``"upper-left"`` is ``upper``, ``left``).
Index 0 is ``<pad>`` (fills a prompt up to ``max_tokens``), index 1 is ``<unk>`` (any word the
training captions never used, so a prompt with new words still works instead of crashing);
the vocabulary words follow in sorted order, so the same captions always give the same ids.

A prompt with no words, or with more than ``max_tokens`` words, is a :class:`PromptError` that
says what is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch

from vaekit.errors import DataError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
_WORD = re.compile(r"[a-z0-9]+")


class PromptError(DataError):
    """A text prompt the tokenizer cannot take (empty, or longer than the model's limit)."""


def words_of(text: str) -> list[str]:
    """The lower-cased words of ``text`` (punctuation and hyphens separate words)."""
    if not isinstance(text, str):
        raise PromptError(f"a prompt must be a string, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class Tokenizer:
    """Words -> ids with ``<pad>`` = 0 and ``<unk>`` = 1; see the module docstring."""

    def __init__(self, vocab: Sequence[str], max_tokens: int = 16) -> None:
        words = list(vocab)
        if len(set(words)) != len(words):
            raise DataError("tokenizer vocabulary has repeated words")
        if PAD in words or UNK in words:
            raise DataError(f"the vocabulary words must not include {PAD} or {UNK}")
        if max_tokens < 1:
            raise DataError(f"max_tokens must be >= 1, got {max_tokens}")
        self.words = words
        self.max_tokens = int(max_tokens)
        self.index = {word: i + 2 for i, word in enumerate(words)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], max_tokens: int = 16) -> Tokenizer:
        """The vocabulary of every word in ``texts`` (sorted)."""
        vocab: set[str] = set()
        for text in texts:
            vocab.update(words_of(text))
        return cls(sorted(vocab), max_tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.words) + 2

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` that the vocabulary does not hold (they become ``<unk>``)."""
        return [w for w in words_of(text) if w not in self.index]

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text`` (no padding); unknown words give ``<unk>``."""
        words = words_of(text)
        if not words:
            raise PromptError(f"the prompt {text!r} has no words; describe the image, e.g. "
                              "'a small heart at the top left'")
        if len(words) > self.max_tokens:
            raise PromptError(f"the prompt has {len(words)} words, more than this model's limit "
                              f"of {self.max_tokens}; shorten it")
        return [self.index.get(w, UNK_ID) for w in words]

    def encode_batch(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Ids ``(B, max_tokens)`` int64, padded with ``<pad>`` on the right."""
        if isinstance(texts, str):
            texts = [texts]
        if len(texts) == 0:
            raise PromptError("no prompts given")
        ids = torch.full((len(texts), self.max_tokens), PAD_ID, dtype=torch.long)
        for row, text in enumerate(texts):
            tokens = self.encode(text)
            ids[row, : len(tokens)] = torch.tensor(tokens)
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Words of ``ids`` joined by spaces, padding dropped (unknowns as ``<unk>``)."""
        names = [PAD, UNK, *self.words]
        out = []
        for i in torch.as_tensor(ids).tolist():
            if i == PAD_ID:
                continue
            if not 0 <= i < len(names):
                raise DataError(f"token id {i} is outside this vocabulary of {len(names)}")
            out.append(names[i])
        return " ".join(out)
