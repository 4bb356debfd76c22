"""Residual fully connected cells for hierarchical VAEs."""

from __future__ import annotations

import torch
from torch import nn

from vaekit.nn.mlp import _activation


class ResidualMLPBlock(nn.Module):
    """``h + W2 act(W1 act(h))``: a pre-activation residual cell on vectors of width ``width``.

    The last layer starts at ``out_scale`` times its default initialisation, so a deep stack of
    cells starts close to the identity, as VDVAE does (Child 2021, section 3.3) to keep the
    activations of many residual branches from growing with depth.
    """

    def __init__(self, width: int, hidden: int | None = None, activation: str = "gelu",
                 out_scale: float = 0.1) -> None:
        super().__init__()
        hidden = hidden or width
        act = _activation(activation)
        self.branch = nn.Sequential(act(), nn.Linear(width, hidden), act(),
                                    nn.Linear(hidden, width))
        with torch.no_grad():
            self.branch[-1].weight.mul_(out_scale)
            self.branch[-1].bias.zero_()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.branch(h)


def residual_stack(width: int, blocks: int, activation: str = "gelu") -> nn.Sequential:
    """``blocks`` residual cells in a row (the identity when ``blocks`` is 0)."""
    return nn.Sequential(*(ResidualMLPBlock(width, activation=activation) for _ in range(blocks)))
