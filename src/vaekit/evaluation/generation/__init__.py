"""Sample quality without downloaded weights: classifier features, distances, image metrics.

* :mod:`~vaekit.evaluation.generation.classifier`: a small conv classifier trained by vaekit on
  the data set, whose feature layer embeds images (:func:`load_or_train_classifier` caches it).
* :mod:`~vaekit.evaluation.generation.distances`: Fréchet distance, KID, precision/recall.
* :mod:`~vaekit.evaluation.generation.image_metrics`: PSNR, SSIM, reconstruction quality.
* :mod:`~vaekit.evaluation.generation.report`: :func:`sample_quality`, all numbers in one call.

The distances are computed on the trained classifier's features, **not** Inception-v3's: they
are not FID/KID and not comparable with published FID/KID numbers, only with each other (same
classifier, same sample size).
"""

from vaekit.evaluation.generation.classifier import (
    ClassifierConfig,
    FeatureClassifier,
    default_cache_dir,
    load_or_train_classifier,
    train_feature_classifier,
)
from vaekit.evaluation.generation.distances import (
    KernelDistance,
    PrecisionRecall,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    precision_recall,
)
from vaekit.evaluation.generation.image_metrics import psnr, reconstruction_quality, ssim
from vaekit.evaluation.generation.report import generated_features, sample_quality

__all__ = [
    "ClassifierConfig",
    "FeatureClassifier",
    "KernelDistance",
    "PrecisionRecall",
    "default_cache_dir",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_stats",
    "generated_features",
    "kernel_distance",
    "load_or_train_classifier",
    "precision_recall",
    "psnr",
    "reconstruction_quality",
    "sample_quality",
    "ssim",
    "train_feature_classifier",
]
