"""A tiny ground-truth-factor dataset and a linear Gaussian encoder for metric tests."""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Independent, Normal

from vaekit.data.base import GroundTruthDataset

SIZES = np.array([4, 5, 3])


class ToyFactors(GroundTruthDataset):
    """3 factors of sizes 4, 5, 3; the observation holds the factor indices scaled to [0, 1]."""

    factor_names = ("a", "b", "c")
    factor_sizes = tuple(int(s) for s in SIZES)

    def factor_values(self) -> list[np.ndarray]:
        return [np.arange(s, dtype=np.float64) for s in SIZES]

    def render(self, factors: np.ndarray) -> torch.Tensor:
        x = np.asarray(factors) / (SIZES - 1)
        return torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1, 1, 3)


class ToyEncoder(torch.nn.Module):
    """q(z|x) = N(x W, std^2): codes are the (mixed) factors."""

    def __init__(self, weight: torch.Tensor, std: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(weight)
        self.std = std

    def encode(self, x: torch.Tensor) -> Independent:
        mean = x.reshape(len(x), -1) @ self.weight
        return Independent(Normal(mean, torch.full_like(mean, self.std)), 1)
