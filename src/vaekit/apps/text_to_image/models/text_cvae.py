"""Text-conditional VAE: a CVAE whose condition is a caption encoded by a GRU.

Sohn, Lee & Yan (2015), "Learning Structured Output Representation using Deep Conditional
Generative Models", NeurIPS, with the condition ``c`` a caption. The conditional ELBO (their
eq. 4)::

    log p(x | c) >= E_q(z|x,c)[log p(x | z, c)] - KL(q(z | x, c) || p(z | c))

- ``h = GRU(c)``: the caption's feature (:class:`GRUTextEncoder`, trained with the model; or,
  with ``text_encoder="pretrained"``, a trained projection of a frozen pretrained sentence
  embedding, :class:`PretrainedTextEncoder`, which needs optional packages);
- ``q(z | x, c) = N(mu, sigma)``, ``[mu, sigma_raw] = MLP([relu(f(x)), h])``;
- ``p(z | c) = N(mu_c, sigma_c)``, ``[mu_c, log sigma_c] = MLP(h)``: Sohn et al.'s learned
  *prior network* (its last layer starts near zero, so training starts near N(0, I));
- ``p(x | z, c) = g([z, h])``, ``g`` the configured decoder family.

Generation draws ``z ~ p(z | c)`` and decodes it with the caption. ``gsnn_weight = w > 0``
adds Sohn et al.'s hybrid objective (their eq. 7), ``(1 - w) L_CVAE + w L_GSNN`` with
``L_GSNN = -log p(x | z, c), z ~ p(z | c)``, which trains the decoder on the prior's latents,
the ones it sees at generation time.

Without a caption (a plain ``x`` batch, ``text=None``) the text feature is the zero vector and
the prior is N(0, I): the generic tools (``encode(x)``, ``decode(z)``, ``prior()``) then see an
ordinary VAE with the same weights, which was not trained for that case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from vaekit.apps.text_to_image.models.text_condition import (
    Text,
    example_tokens,
    prompt_tokens,
    resolve_vocab,
    split_text_batch,
)
from vaekit.apps.text_to_image.text_encoder import GRUTextEncoder, PretrainedTextEncoder
from vaekit.apps.text_to_image.tokenizer import Tokenizer
from vaekit.config import check
from vaekit.losses.elbo import elbo_loss
from vaekit.models.base import BaseVAE, LossContext, VAEConfig, _call_with_options
from vaekit.registry import MODELS, NETWORKS


@dataclass
class TextCVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "text_cvae"

    captions: str = "dsprites"  # caption set whose words make the vocabulary
    vocab: list[str] = field(default_factory=list)  # empty: the caption set's words
    max_tokens: int = 16
    embed_dim: int = 64  # word embeddings
    text_hidden: int = 128  # GRU state per direction
    text_dim: int = 64  # caption feature h
    feature_dim: int = 256  # image encoder features
    hidden_dim: int = 256  # posterior and prior MLPs
    gsnn_weight: float = 0.0  # Sohn et al.'s hybrid objective weight (eq. 7); 0: plain CVAE
    text_encoder: str = "gru"  # or "pretrained": a frozen sentence embedding (optional package)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.prior == "standard_normal",
              f"model.prior: a text_cvae learns its prior p(z|text), got '{self.prior}'")
        check(min(self.embed_dim, self.text_hidden, self.text_dim, self.feature_dim,
                  self.hidden_dim) > 0, "model.embed_dim, text_hidden, text_dim, feature_dim "
                                        "and hidden_dim must be positive")
        check(0.0 <= self.gsnn_weight <= 1.0,
              f"model.gsnn_weight must be in [0, 1], got {self.gsnn_weight}")
        check(self.text_encoder in ("gru", "pretrained"),
              f"model.text_encoder must be 'gru' or 'pretrained', got '{self.text_encoder}'")
        resolve_vocab(self)


@MODELS.register("text_cvae")
class TextCVAE(BaseVAE):
    """Caption-conditioned VAE with a learned prior p(z | text); see the module docstring."""

    config_class: ClassVar[type] = TextCVAEConfig
    uses_labels: ClassVar[bool] = True  # the trainer serves (images, token_ids) batches

    def __init__(self, config: TextCVAEConfig) -> None:
        super().__init__(config)
        latent, text_dim, hidden = config.latent_dim, config.text_dim, config.hidden_dim
        self.tokenizer = Tokenizer(config.vocab, config.max_tokens)
        if config.text_encoder == "pretrained":  # needs optional packages, imported lazily
            self.text_encoder = PretrainedTextEncoder(self.tokenizer, text_dim)
        else:
            self.text_encoder = GRUTextEncoder(self.tokenizer.vocab_size, text_dim,
                                               config.embed_dim, config.text_hidden)
        self.posterior_in = nn.Sequential(nn.Linear(config.feature_dim + text_dim, hidden),
                                          nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.prior_net = nn.Sequential(nn.Linear(text_dim, hidden), nn.ReLU(),
                                       nn.Linear(hidden, 2 * latent))
        nn.init.normal_(self.prior_net[-1].weight, std=1e-3)  # near N(0, I)
        nn.init.zeros_(self.prior_net[-1].bias)
        # p(x|z,c) takes [z, h] (replaces the base class's decoder of z alone).
        self.decoder = _call_with_options(
            NETWORKS.get(config.network).decoder, "network", config.network, latent + text_dim,
            config.data_shape, self.likelihood.params_per_channel * config.data_shape[0],
            **config.network_options)

    def encoder_features(self) -> int:
        return self.config.feature_dim

    # --------------------------------------------------------------------------- text
    def text_features(self, text: Text, n: int) -> torch.Tensor:
        """Caption features ``(n, text_dim)``; zeros without a caption."""
        device = self.prior_net[0].weight.device
        tokens = prompt_tokens(self.tokenizer, text, n, device)
        if tokens is None:
            return torch.zeros(n, self.config.text_dim, device=device)
        return self.text_encoder(tokens)

    def example_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, token_ids)`` with random training captions (for tests and smoke runs)."""
        return x, example_tokens(self.config, len(x)).to(x.device)

    # ------------------------------------------------------------------ distributions
    def _posterior(self, x: torch.Tensor, h: torch.Tensor) -> Distribution:
        features = F.relu(self.encoder(x))
        return self.posterior_head(self.posterior_in(torch.cat([features, h], dim=-1)))

    def _decode(self, z: torch.Tensor, h: torch.Tensor) -> Distribution:
        lead = z.shape[:-1]  # (..., B)
        h = h.expand(*lead, h.shape[-1])
        return super().decode(torch.cat([z, h], dim=-1))

    def _prior(self, h: torch.Tensor | None, n: int) -> Distribution:
        if h is None:
            zeros = torch.zeros(n, self.latent_dim, device=self.prior_net[0].weight.device)
            return Independent(Normal(zeros, torch.ones_like(zeros)), 1)
        mean, log_std = self.prior_net(h).chunk(2, dim=-1)
        return Independent(Normal(mean, log_std.exp()), 1)

    def encode(self, x: torch.Tensor, text: Text = None) -> Distribution:
        """q(z | x, text), batch ``(B,)``."""
        return self._posterior(x, self.text_features(text, len(x)))

    def decode(self, z: torch.Tensor, text: Text = None) -> Distribution:
        """p(x | z, text) for latents ``(..., B, D)`` and ``B`` captions (or one string)."""
        n = z.shape[-2] if z.dim() >= 2 else 1
        return self._decode(z, self.text_features(text, n))

    def conditional_prior(self, text: Text, n: int) -> Distribution:
        """p(z | text) with batch shape ``(n,)``; N(0, I) without a caption."""
        return self._prior(None if text is None else self.text_features(text, n), n)

    # ---------------------------------------------------------------------- training
    def loss(self, x, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        """Negative conditional ELBO (eq. 4 of Sohn et al.), or the hybrid of eq. 7."""
        ctx = ctx or LossContext()
        x, tokens = split_text_batch(x, "text_cvae")
        n = len(x)
        h = self.text_features(tokens, n)
        qz_x = self._posterior(x, h)
        pz = self._prior(None if tokens is None else h, n)
        z = qz_x.rsample()
        out = elbo_loss(x, qz_x, pz, self._decode(z, h), z, kl_weight=ctx.kl_weight,
                        free_bits=ctx.free_bits)
        weight = self.config.gsnn_weight
        if weight > 0:
            gsnn = -self._decode(pz.rsample(), h).log_prob(x).mean()
            out["gsnn_recon"] = gsnn.detach()
            out["loss"] = (1.0 - weight) * out["loss"] + weight * gsnn
        return out

    # --------------------------------------------------------------------- generation
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               text: Text = None, temperature: float = 1.0) -> torch.Tensor:
        """Means of p(x | z, text) for ``n`` draws ``z ~ p(z | text)`` (noise scaled by
        ``temperature``); ``text`` is one prompt for all, ``n`` prompts or token ids."""
        device = self.prior_net[0].weight.device
        gen_device = generator.device if generator is not None else device
        eps = torch.randn((n, self.latent_dim), generator=generator, device=gen_device)
        h = self.text_features(text, n)
        pz = self._prior(None if text is None else h, n)
        z = pz.mean + temperature * pz.stddev * eps.to(device)
        return self.likelihood.mean_image(self._decode(z, h))
