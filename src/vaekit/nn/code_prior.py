"""An autoregressive prior over a grid of discrete codes: a small causal transformer.

VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, sec. 3.3) fits an autoregressive prior to the
encoder's code grids after (or while) training the autoencoder, and generates images by sampling
a grid from it and decoding. The paper uses a gated PixelCNN; this module uses a causal
transformer over the raster-scanned grid instead (Vaswani et al. 2017, "Attention Is All You
Need"; as in Esser, Rombach & Ommer 2021, "Taming Transformers for High-Resolution Image
Synthesis", for VQ codes): with a causal attention mask it sees the whole previous context with
no blind spot, and for the small grids here (7x7 for 28x28 images) it is fast on a CPU.

    p(c) = prod_t p(c_t | c_<t),  t over the H*W positions in raster order.

The input at position t is the code at t - 1 (a learned start token at t = 0) plus a learned
position embedding, so the output at t depends on codes before t only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalTransformerPrior(nn.Module):
    """p(codes) for ``(B, H, W)`` grids of indices in ``[0, num_codes)``; see the module doc."""

    def __init__(self, num_codes: int, grid_shape: tuple[int, int], width: int = 128,
                 layers: int = 4, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"prior width {width} must be divisible by its heads {heads}")
        self.num_codes = int(num_codes)
        self.grid_shape = (int(grid_shape[0]), int(grid_shape[1]))
        self.num_positions = self.grid_shape[0] * self.grid_shape[1]
        self.start_token = self.num_codes  # one extra embedding row, never predicted
        self.token_embedding = nn.Embedding(self.num_codes + 1, width)
        self.position_embedding = nn.Parameter(torch.randn(self.num_positions, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width,
                                           dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        # Nested tensors are for padding masks, which a fixed-size grid never has.
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(width)  # pre-norm layers leave the output unnormalised
        self.head = nn.Linear(width, self.num_codes)
        # Zero logits: the untrained prior is uniform, log p = -H*W*log K, a clear baseline.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        mask = torch.full((self.num_positions, self.num_positions), -math.inf).triu(1)
        self.register_buffer("causal_mask", mask, persistent=False)

    # ------------------------------------------------------------------------- densities
    def _logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T, K)`` of the next code after each prefix token of ``inputs (B, T)``."""
        length = inputs.shape[1]
        hidden = self.token_embedding(inputs) + self.position_embedding[:length]
        hidden = self.transformer(hidden, mask=self.causal_mask[:length, :length],
                                  is_causal=True)
        return self.head(self.final_norm(hidden))

    def conditional_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, H*W, K)`` of p(c_t | c_<t) for every raster position t of ``codes``."""
        self._check(codes)
        sequence = codes.reshape(codes.shape[0], self.num_positions)
        start = sequence.new_full((len(sequence), 1), self.start_token)
        return self._logits(torch.cat([start, sequence[:, :-1]], dim=1))

    def position_log_probs(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(c_t | c_<t) at every position, shaped like ``codes (B, H, W)``, in nats."""
        log_probs = F.log_softmax(self.conditional_logits(codes).float(), dim=-1)
        sequence = codes.reshape(codes.shape[0], self.num_positions, 1)
        return log_probs.gather(-1, sequence).reshape(codes.shape)

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(codes) ``(B,)`` in nats: the sum of the per-position conditionals."""
        return self.position_log_probs(codes).flatten(1).sum(1)

    # -------------------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Draw ``n`` grids ``(n, H, W)`` one raster position at a time.

        ``temperature`` divides the logits (below 1: sharper, fewer odd codes). Draws use the
        Gumbel-max trick with uniform noise from ``generator`` (on the generator's own device), so
        a CPU generator reproduces the same grids for a model on any device.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        device = self.position_embedding.device
        tokens = torch.full((n, 1), self.start_token, dtype=torch.long, device=device)
        for _ in range(self.num_positions):
            logits = self._logits(tokens)[:, -1].float() / temperature
            tokens = torch.cat([tokens, _gumbel_argmax(logits, generator).unsqueeze(1)], dim=1)
        return tokens[:, 1:].reshape(n, *self.grid_shape)

    def _check(self, codes: torch.Tensor) -> None:
        if codes.dim() != 3 or tuple(codes.shape[1:]) != self.grid_shape:
            raise ValueError(f"expected code grids (B, {self.grid_shape[0]}, "
                             f"{self.grid_shape[1]}), got {tuple(codes.shape)}")


def _gumbel_argmax(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of Categorical(logits) as argmax(logits + Gumbel noise)."""
    noise_device = generator.device if generator is not None else logits.device
    uniform = torch.rand(logits.shape, generator=generator, device=noise_device)
    uniform = uniform.to(logits.device).clamp(1e-20, 1.0 - 1e-7)
    return (logits - torch.log(-torch.log(uniform))).argmax(dim=-1)
