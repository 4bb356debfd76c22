"""A causal transformer prior over VQ code grids that reads a caption first (DALL-E style).

Ramesh et al. (2021), "Zero-Shot Text-to-Image Generation" (DALL-E): one autoregressive
transformer over the caption's tokens followed by the image's discrete codes, so
``p(codes | text) = prod_t p(c_t | text, c_<t)``. Here, small: the caption is the padded
``(B, L)`` token ids, embedded with their own table and position embeddings, then a start
token and the raster-scanned code grid as in :class:`vaekit.nn.code_prior.CausalTransformerPrior`,
whose embeddings, layers and output head this class reuses. The causal mask runs over the
whole sequence; only the code positions are predicted.

Without a caption the prefix is all ``<pad>``; training with caption dropout (the model's
``text_dropout``) teaches that prefix to mean "any image", the unconditional prior.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaekit.apps.text_to_image.tokenizer import PAD_ID
from vaekit.nn.code_prior import CausalTransformerPrior, _gumbel_argmax


class TextConditionedCodePrior(CausalTransformerPrior):
    """p(codes | text) for ``(B, H, W)`` code grids and ``(B, L)`` caption token ids."""

    def __init__(self, num_codes: int, grid_shape: tuple[int, int], vocab_size: int,
                 max_tokens: int, width: int = 128, layers: int = 4, heads: int = 4,
                 dropout: float = 0.0) -> None:
        super().__init__(num_codes, grid_shape, width, layers, heads, dropout)
        self.max_tokens = int(max_tokens)
        self.text_embedding = nn.Embedding(vocab_size, width)
        self.text_position = nn.Parameter(torch.randn(self.max_tokens, width) * 0.02)
        total = self.max_tokens + self.num_positions
        mask = torch.full((total, total), -math.inf).triu(1)
        self.register_buffer("prefix_causal_mask", mask, persistent=False)

    def _text(self, text: torch.Tensor | None, n: int) -> torch.Tensor:
        if text is None:
            return torch.full((n, self.max_tokens), PAD_ID, dtype=torch.long,
                              device=self.position_embedding.device)
        if text.shape != (n, self.max_tokens):
            raise ValueError(f"expected caption ids ({n}, {self.max_tokens}), got "
                             f"{tuple(text.shape)}")
        return text

    def _prefixed_logits(self, text: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, K)`` of the next code after each code-stream token of ``inputs``."""
        length = self.max_tokens + inputs.shape[1]
        hidden = torch.cat([self.text_embedding(text) + self.text_position,
                            self.token_embedding(inputs)
                            + self.position_embedding[: inputs.shape[1]]], dim=1)
        hidden = self.transformer(hidden, mask=self.prefix_causal_mask[:length, :length],
                                  is_causal=True)
        return self.head(self.final_norm(hidden[:, self.max_tokens:]))

    def conditional_logits(self, codes: torch.Tensor, text: torch.Tensor | None = None
                           ) -> torch.Tensor:
        """Logits ``(B, H*W, K)`` of p(c_t | text, c_<t) at every raster position."""
        self._check(codes)
        sequence = codes.reshape(codes.shape[0], self.num_positions)
        start = sequence.new_full((len(sequence), 1), self.start_token)
        inputs = torch.cat([start, sequence[:, :-1]], dim=1)
        return self._prefixed_logits(self._text(text, len(codes)), inputs)

    def position_log_probs(self, codes: torch.Tensor, text: torch.Tensor | None = None
                           ) -> torch.Tensor:
        log_probs = F.log_softmax(self.conditional_logits(codes, text).float(), dim=-1)
        sequence = codes.reshape(codes.shape[0], self.num_positions, 1)
        return log_probs.gather(-1, sequence).reshape(codes.shape)

    def log_prob(self, codes: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """log p(codes | text) ``(B,)`` in nats (all-pad caption without ``text``)."""
        return self.position_log_probs(codes, text).flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0, text: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` grids ``(n, H, W)`` given captions ``text (n, L)`` (Gumbel-max draws from
        ``generator``, as in the unconditional prior)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        text = self._text(text, n)
        tokens = torch.full((n, 1), self.start_token, dtype=torch.long, device=text.device)
        for _ in range(self.num_positions):
            logits = self._prefixed_logits(text, tokens)[:, -1].float() / temperature
            tokens = torch.cat([tokens, _gumbel_argmax(logits, generator).unsqueeze(1)], dim=1)
        return tokens[:, 1:].reshape(n, *self.grid_shape)
