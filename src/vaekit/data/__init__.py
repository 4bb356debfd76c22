"""Datasets, registered by name in ``vaekit.registry.DATASETS``."""

from vaekit.data import (  # noqa: F401  (imported for their @DATASETS.register side effect)
    arrays,
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
from vaekit.data.base import ArrayDataset, ArrayImageDataset, GroundTruthDataset

__all__ = ["ArrayDataset", "ArrayImageDataset", "GroundTruthDataset"]
