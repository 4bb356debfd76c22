"""Datasets, registered by name in ``vaekit.registry.DATASETS``."""

from vaekit.data import (  # noqa: F401  (imported for their @DATASETS.register side effect)
    binarized_mnist,
    dsprites,
    dsprites_variants,
    fsdd,
    idx,
    image_folder,
    image_patches,
    shapes3d,
    sklearn_digits,
)
from vaekit.data.base import ArrayImageDataset, GroundTruthDataset

__all__ = ["ArrayImageDataset", "GroundTruthDataset"]
