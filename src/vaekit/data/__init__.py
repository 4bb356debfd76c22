"""Datasets, registered by name in ``vaekit.registry.DATASETS``."""

from vaekit.data import (  # noqa: F401  (imported for their @DATASETS.register side effect)
    binarized_mnist,
    dsprites,
    idx,
    image_folder,
    sklearn_digits,
)
from vaekit.data.base import ArrayImageDataset, GroundTruthDataset

__all__ = ["ArrayImageDataset", "GroundTruthDataset"]
