"""The FactorVAE discriminator and the dimension-wise permutation that feeds it.

Kim & Mnih (2018), "Disentangling by Factorising", ICML. The discriminator tells samples of the
aggregate posterior q(z) (class 0) from samples of the product of its marginals prod_j q(z_j)
(class 1); by the density-ratio trick its logit difference estimates
``log q(z) / prod_j q(z_j)``, whose mean under q(z) is the total correlation. Appendix A of the
paper (and disentanglement_lib's ``fc_discriminator``): 6 hidden layers of 1000 units, leaky
ReLU (slope 0.2), 2 logits, for every dataset.

Not a network family (it does not map data to latents), so nothing is registered here.
"""

from __future__ import annotations

import torch
from torch import nn


class FactorDiscriminator(nn.Sequential):
    """MLP ``z (B, D) -> logits (B, 2)``: column 0 "from q(z)", column 1 "permuted"."""

    def __init__(self, latent_dim: int, hidden: int = 1000, layers: int = 6,
                 negative_slope: float = 0.2) -> None:
        if latent_dim < 1 or hidden < 1 or layers < 1:
            raise ValueError("latent_dim, hidden and layers must be positive, got "
                             f"{latent_dim}, {hidden}, {layers}")
        modules: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), nn.LeakyReLU(negative_slope)]
            width = hidden
        modules.append(nn.Linear(width, 2))
        super().__init__(*modules)

    @staticmethod
    def log_ratio(logits: torch.Tensor) -> torch.Tensor:
        """``log D(z) / (1 - D(z)) = logit_0 - logit_1`` per example: the density-ratio
        estimate of ``log q(z) - log prod_j q(z_j)``."""
        return logits[:, 0] - logits[:, 1]


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle each latent dimension independently across the batch (Kim & Mnih 2018,
    PERMUTE-DIMS): rows of the result are samples of prod_j q(z_j) when rows of ``z (B, D)``
    are samples of q(z)."""
    if z.dim() != 2:
        raise ValueError(f"permute_dims takes z of shape (B, D), got {tuple(z.shape)}")
    noise = torch.rand(z.shape, generator=generator, device=z.device if generator is None
                       else generator.device)
    order = noise.argsort(dim=0).to(z.device)  # an independent permutation per column
    return z.gather(0, order)
