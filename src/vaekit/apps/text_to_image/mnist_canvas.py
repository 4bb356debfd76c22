"""MNIST digits placed on a larger canvas (alignDRAW's "moving MNIST" captions setting).

Mansimov, Parisotto, Ba & Salakhutdinov (2016), "Generating Images from Captions with
Attention" (ICLR), caption MNIST digits placed at varying positions of a 60x60 canvas ("the
digit 3 is at the bottom right"). Here a real 28x28 MNIST digit is pasted onto a black 64x64
canvas with its top-left corner at ``(row, col)``, each in 0..36: the factors of this dataset
are (digit image index, row, col). The digit's class is the label of that image; the real
training files are read from ``$VAEKIT_DATA/mnist`` (nothing is downloaded).
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.errors import DataError

CANVAS = 64
DIGIT = 28
OFFSETS = CANVAS - DIGIT + 1  # 37 positions per axis


class MNISTCanvas(GroundTruthDataset):
    """Real MNIST digits on a 64x64 canvas; factors (image index, row, col)."""

    factor_names = ("image", "row", "col")

    def __init__(self, root: str | None = None, split: str = "train",
                 limit: int | None = None) -> None:
        from vaekit.data.idx import mnist

        digits = mnist(root=root, split=split, limit=limit)
        self.digits = torch.as_tensor(np.asarray(digits.images)).reshape(-1, DIGIT, DIGIT)
        self.labels_of_images = np.asarray(digits.labels, dtype=np.int64)
        if len(self.digits) == 0:
            raise DataError("mnist canvas: no digits")
        self.factor_sizes = (len(self.digits), OFFSETS, OFFSETS)

    def factor_values(self) -> list[np.ndarray]:
        return [np.arange(size, dtype=np.float64) for size in self.factor_sizes]

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (1, CANVAS, CANVAS)

    def render(self, factors: np.ndarray) -> torch.Tensor:
        factors = np.asarray(factors, dtype=np.int64).reshape(-1, 3)
        if (factors < 0).any() or (factors >= np.array(self.factor_sizes)).any():
            raise DataError(f"mnist canvas: factors out of range {self.factor_sizes}")
        canvas = torch.zeros(len(factors), 1, CANVAS, CANVAS)
        for i, (index, row, col) in enumerate(factors):
            canvas[i, 0, row:row + DIGIT, col:col + DIGIT] = self.digits[index].float() / 255.0
        return canvas
