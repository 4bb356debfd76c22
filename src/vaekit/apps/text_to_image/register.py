"""Registers the text-to-image models and captioned datasets (imported by vaekit.registry)."""

from __future__ import annotations

from vaekit.apps.text_to_image import models  # noqa: F401  (registers text_cvae, text_vq_vae)
from vaekit.apps.text_to_image.captions import CaptionedDataset
from vaekit.registry import DATASETS


@DATASETS.register("captioned_dsprites")
def captioned_dsprites(size: int = 50_000, split: str = "train", holdout: int = 8,
                       holdout_seed: int = 0, seed: int = 0, max_tokens: int = 16
                       ) -> CaptionedDataset:
    """dSprites with a generated caption per image (``split``: train / heldout / all); the
    ``holdout`` attribute combinations (seeded by ``holdout_seed``) never occur in ``train``."""
    return CaptionedDataset("dsprites", size, split, holdout, holdout_seed, seed, max_tokens)


@DATASETS.register("captioned_shapes3d")
def captioned_shapes3d(size: int = 50_000, split: str = "train", holdout: int = 40,
                       holdout_seed: int = 0, seed: int = 0, max_tokens: int = 20
                       ) -> CaptionedDataset:
    """The procedural 3D-shapes scenes with a generated caption per image (colours by name)."""
    return CaptionedDataset("shapes3d", size, split, holdout, holdout_seed, seed, max_tokens)


@DATASETS.register("captioned_mnist_canvas")
def captioned_mnist_canvas(size: int = 50_000, split: str = "train", holdout: int = 9,
                           holdout_seed: int = 0, seed: int = 0, max_tokens: int = 16
                           ) -> CaptionedDataset:
    """Real MNIST training digits on a 64x64 canvas, captioned with digit and position."""
    from vaekit.apps.text_to_image.captions import MNISTCanvasCaptions

    return CaptionedDataset(MNISTCanvasCaptions(), size, split, holdout, holdout_seed, seed,
                            max_tokens)
