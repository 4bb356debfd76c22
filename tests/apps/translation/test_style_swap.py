"""The content/style model on a toy case whose content and style are known: swapping style codes
keeps the content (where the square is) and takes the other image's style (background level)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaekit.models import LossContext, build_model
from vaekit.models.unit import DISCRIMINATOR

SIZE = 8
POSITIONS = [(r, c) for r in (0, 5) for c in (0, 5)]  # four far-apart places of a 3x3 square


def squares(position: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Images ``(B, 1, 8, 8)``: a white 3x3 square at ``POSITIONS[position]`` on a grey
    ``background`` level."""
    x = background.reshape(-1, 1, 1, 1).expand(-1, 1, SIZE, SIZE).clone()
    for i, p in enumerate(position.tolist()):
        r, c = POSITIONS[p]
        x[i, 0, r:r + 3, c:c + 3] = 1.0
    return x


def where(x: torch.Tensor) -> torch.Tensor:
    """The position index whose 3x3 window is brightest, per image."""
    boxes = F.avg_pool2d(x, 3, stride=1)[:, 0]  # (B, 6, 6)
    scores = torch.stack([boxes[:, r, c] for r, c in POSITIONS], 1)
    return scores.argmax(1)


def toy_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Unpaired (A: squares on black, B: squares on a random grey level)."""
    a = squares(torch.randint(0, 4, (n,), generator=generator), torch.zeros(n))
    b = squares(torch.randint(0, 4, (n,), generator=generator),
                0.6 * torch.rand(n, generator=generator))
    return a, b


def test_swapping_style_codes_keeps_content_and_takes_the_style():
    torch.manual_seed(0)
    model = build_model({"type": "munit", "data_shape": [1, SIZE, SIZE], "latent_dim": 4,
                         "style_dim": 2, "conv_channels": [8, 16], "shared_hidden": 32,
                         "discriminator_width": 4, "adversarial_weight": 0.1})
    groups = model.optimizer_groups()
    optimisers = {g: torch.optim.Adam(p, lr=3e-3) for g, p in groups.items()}
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        batch = toy_batch(32, generator)
        ctx = LossContext()
        for group in (next(iter(groups)), DISCRIMINATOR):
            out = model.loss(batch, ctx, group)
            optimisers[group].zero_grad()
            out["loss"].backward()
            optimisers[group].step()
    model.eval()
    n = 64
    content_pos = torch.randint(0, 4, (n,), generator=generator)
    style_pos = (content_pos + 1 + torch.randint(0, 3, (n,), generator=generator)) % 4
    level_content, level_style = 0.1 * torch.ones(n), 0.5 * torch.ones(n)
    x_content = squares(content_pos, level_content)
    x_style = squares(style_pos, level_style)
    swapped = model.swap_style(x_content, x_style, "b")
    # Content kept: the square stays where x_content has it (never where x_style has it).
    assert (where(swapped) == content_pos).float().mean() >= 0.9
    # Style taken: the background moves from x_content's level to x_style's.
    mask = squares(content_pos, torch.zeros(n)) < 0.5  # background pixels of x_content
    background = (swapped * mask).sum((1, 2, 3)) / mask.sum((1, 2, 3))
    assert (background - level_style).abs().mean() < (background - level_content).abs().mean()
    # And the same content with its own style is reconstructed in place.
    own = model.swap_style(x_content, x_content, "b")
    assert (where(own) == content_pos).float().mean() >= 0.9
