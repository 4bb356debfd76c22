"""VQ-VAE whose code prior is conditioned on a caption (a small DALL-E).

van den Oord, Vinyals & Kavukcuoglu (2017), "Neural Discrete Representation Learning" for the
autoencoder (:class:`vaekit.models.vq_vae.VQVAE`, reused unchanged: encoder, codebook with EMA
updates and dead-code restarts, decoder, and its two optimiser groups); Ramesh et al. (2021),
"Zero-Shot Text-to-Image Generation", for the prior: a transformer over the caption's tokens
followed by the code grid (:class:`TextConditionedCodePrior`). Generation samples a code grid
given the caption and decodes it.

Groups, stepped in this order each training step::

    model: -log p(x|z_q) + beta ||z_e - sg(z_q)||^2      (VQ-VAE, text not used)
    prior: -log p_prior(codes(x) | text)                   (caption dropped with text_dropout)

Without a caption (plain ``x`` batches, ``text=None``) the prior reads an all-padding caption:
the unconditional prior, which ``text_dropout`` trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from vaekit.apps.text_to_image.models.text_code_prior import TextConditionedCodePrior
from vaekit.apps.text_to_image.models.text_condition import (
    Text,
    example_tokens,
    prompt_tokens,
    resolve_vocab,
    split_text_batch,
)
from vaekit.apps.text_to_image.tokenizer import PAD_ID, Tokenizer
from vaekit.config import check
from vaekit.models.base import LossContext
from vaekit.models.vq_vae import CODES_CACHE_KEY, PRIOR, VQVAE, VQVAEConfig
from vaekit.registry import MODELS


@dataclass
class TextVQVAEConfig(VQVAEConfig):
    config_type: ClassVar[str] = "text_vq_vae"

    captions: str = "dsprites"
    vocab: list[str] = field(default_factory=list)  # empty: the caption set's words
    max_tokens: int = 16
    text_dropout: float = 0.1  # fraction of prior steps' captions replaced by padding

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0.0 <= self.text_dropout < 1.0,
              f"model.text_dropout must be in [0, 1), got {self.text_dropout}")
        resolve_vocab(self)


@MODELS.register("text_vq_vae")
class TextVQVAE(VQVAE):
    """VQ-VAE + caption-conditioned transformer prior; see the module docstring."""

    config_class: ClassVar[type] = TextVQVAEConfig
    uses_labels: ClassVar[bool] = True  # the trainer serves (images, token_ids) batches

    def __init__(self, config: TextVQVAEConfig) -> None:
        super().__init__(config)
        self.tokenizer = Tokenizer(config.vocab, config.max_tokens)
        self.code_prior = TextConditionedCodePrior(
            config.num_codes, self.grid_shape, self.tokenizer.vocab_size, config.max_tokens,
            width=config.prior_width, layers=config.prior_layers, heads=config.prior_heads,
            dropout=config.prior_dropout)

    def example_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, token_ids)`` with random training captions (for tests and smoke runs)."""
        return x, example_tokens(self.config, len(x)).to(x.device)

    def loss(self, x, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        x, tokens = split_text_batch(x, "text_vq_vae")
        if group == PRIOR:
            return self.text_prior_loss(x, tokens, ctx)
        return self.model_loss(x, ctx)

    def text_prior_loss(self, x: torch.Tensor, tokens: torch.Tensor | None, ctx: LossContext
                        ) -> dict[str, torch.Tensor]:
        """-log p_prior(codes | text) per example (nats) on the model pass's codes."""
        codes = ctx.cache.get(CODES_CACHE_KEY)
        if codes is None:
            codes = self.encode_codes(x)
        if tokens is not None and self.training and self.config.text_dropout > 0:
            drop = torch.rand(len(tokens), device=tokens.device) < self.config.text_dropout
            tokens = tokens.masked_fill(drop[:, None], PAD_ID)
        nll = -self.code_prior.log_prob(codes, tokens).mean()
        learning = float(ctx.step >= self.config.prior_start_step)
        positions = self.grid_shape[0] * self.grid_shape[1]
        return {"loss": learning * nll, "prior_nll": nll.detach(),
                "prior_bits_per_code": nll.detach() / (positions * math.log(2.0))}

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | None = None,
                     temperature: float = 1.0, text: Text = None) -> torch.Tensor:
        tokens = prompt_tokens(self.tokenizer, text, n, self.code_prior.text_position.device)
        return self.code_prior.sample(n, generator=generator, temperature=temperature,
                                      text=tokens)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0, text: Text = None) -> torch.Tensor:
        """Mean images ``(n, *data_shape)`` decoded from code grids drawn given ``text``."""
        codes = self.sample_codes(n, generator, temperature, text)
        return self.likelihood.mean_image(self.decode_codes(codes))
