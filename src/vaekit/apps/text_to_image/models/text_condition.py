"""What the text-conditioned models share: their vocabulary settings and prompt handling.

A model's config names its caption set (``captions``) and holds the vocabulary (``vocab``, the
sorted words of that set's captions; filled in when left empty and saved with the model, so a
checkpoint keeps the tokenizer it was trained with) and ``max_tokens``, the longest prompt.
Prompts reach a model as a string (one prompt for every sample), a list of strings (one per
sample) or a ``(B, max_tokens)`` tensor of token ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vaekit.apps.text_to_image.tokenizer import Tokenizer
from vaekit.config import check
from vaekit.errors import ShapeError

Text = str | Sequence[str] | torch.Tensor | None


def resolve_vocab(config) -> None:
    """Check ``config.max_tokens`` and fill ``config.vocab`` from ``config.captions``."""
    from vaekit.apps.text_to_image.captions import caption_set

    check(config.max_tokens >= 1, f"model.max_tokens must be >= 1, got {config.max_tokens}")
    if not config.vocab:
        config.vocab = caption_set(config.captions).vocabulary(config.max_tokens).words
    config.vocab = [str(w) for w in config.vocab]


def prompt_tokens(tokenizer: Tokenizer, text: Text, n: int, device: torch.device
                  ) -> torch.Tensor | None:
    """Token ids ``(n, max_tokens)`` of ``text`` (see the module docstring); None stays None."""
    if text is None:
        return None
    if isinstance(text, str):
        tokens = tokenizer.encode_batch([text]).expand(n, -1)
    elif isinstance(text, torch.Tensor):
        tokens = text.long()
    else:
        tokens = tokenizer.encode_batch(list(text))
    if tokens.dim() != 2 or len(tokens) != n or tokens.shape[1] != tokenizer.max_tokens:
        raise ShapeError(f"expected {n} prompts of {tokenizer.max_tokens} token ids, got "
                         f"{tuple(tokens.shape)}")
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= tokenizer.vocab_size):
        raise ShapeError(f"token ids must be in 0..{tokenizer.vocab_size - 1}")
    return tokens.to(device)


def example_tokens(config, n: int, seed: int = 0) -> torch.Tensor:
    """Token ids ``(n, max_tokens)`` of ``n`` random training captions of ``config.captions``."""
    from vaekit.apps.text_to_image.captions import caption_set

    captions = caption_set(config.captions)
    rng = np.random.default_rng(seed)
    attributes = np.stack([rng.integers(0, s, n) for s in captions.attribute_sizes], axis=1)
    tokenizer = Tokenizer(config.vocab, config.max_tokens)
    return tokenizer.encode_batch(captions.captions(attributes, rng))


def split_text_batch(batch, model_name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x, token_ids)`` from a ``(x, token_ids)`` batch, ``(x, None)`` from a plain ``x``."""
    if isinstance(batch, (tuple, list)):
        if len(batch) != 2:
            raise ShapeError(f"a {model_name} batch is x or (x, token_ids), got a sequence of "
                             f"{len(batch)} items")
        x, tokens = batch
        tokens = torch.as_tensor(tokens, device=x.device).long()
        if tokens.dim() != 2 or len(tokens) != len(x):
            raise ShapeError(f"token ids {tuple(tokens.shape)} do not fit a batch of {len(x)} "
                             "images; expected (batch, max_tokens)")
        return x, tokens
    return batch, None
