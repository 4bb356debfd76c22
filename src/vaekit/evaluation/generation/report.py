"""One call for the sample-quality numbers of a model or sampler.

Generated images and real images are embedded with a :class:`~vaekit.evaluation.generation.
classifier.FeatureClassifier` (trained by vaekit on the data set, **not** Inception: the
Fréchet distance reported here is not FID and is not comparable with published FID values),
then compared with :mod:`vaekit.evaluation.generation.distances`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from vaekit.evaluation.generation.classifier import FeatureClassifier
from vaekit.evaluation.generation.distances import (
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from vaekit.evaluation.likelihood import DataLike, evaluating


def as_sampler(model_or_sampler: Any) -> Callable[[int, torch.Generator | None], torch.Tensor]:
    """``(n, generator) -> images`` for a model with ``sample(n, generator=...)`` (run in eval
    mode) or a callable sampler."""
    if isinstance(model_or_sampler, nn.Module):
        model = model_or_sampler
        if not hasattr(model, "sample"):
            raise TypeError(f"{type(model).__name__} has no sample(n, generator) method")

        def sample(n: int, generator: torch.Generator | None) -> torch.Tensor:
            with evaluating(model):
                return model.sample(n, generator=generator)

        return sample
    if callable(model_or_sampler):
        return model_or_sampler
    if hasattr(model_or_sampler, "sample"):
        return lambda n, generator: model_or_sampler.sample(n, generator=generator)
    raise TypeError(f"expected a model or a sampler callable, got "
                    f"{type(model_or_sampler).__name__}")


def _real_subset(real: DataLike, num: int, seed: int) -> DataLike:
    """``num`` real examples chosen at random without replacement (all when there are fewer)."""
    if isinstance(real, np.ndarray):
        real = torch.from_numpy(real)
    if not hasattr(real, "__len__") or len(real) <= num:
        return real
    index = np.sort(np.random.default_rng(seed).choice(len(real), num, replace=False))
    if isinstance(real, torch.Tensor):
        return real[torch.from_numpy(index)]
    return torch.utils.data.Subset(real, index.tolist())


def generated_features(
    model_or_sampler: Any,
    classifier: FeatureClassifier,
    num_samples: int,
    *,
    seed: int = 0,
    batch_size: int = 500,
) -> np.ndarray:
    """Classifier features ``(num_samples, F)`` of generated images, drawn ``batch_size`` at a
    time from one generator seeded with ``seed`` (images are not kept)."""
    sample = as_sampler(model_or_sampler)
    generator = torch.Generator().manual_seed(int(seed))
    feats = []
    for start in range(0, num_samples, batch_size):
        images = sample(min(batch_size, num_samples - start), generator)
        feats.append(classifier.features(images.detach(), batch_size=batch_size))
    if not feats:
        raise ValueError("num_samples must be >= 1")
    return np.concatenate(feats)


def sample_quality(
    model_or_sampler: Any,
    real_dataset: DataLike,
    classifier: FeatureClassifier,
    num_samples: int = 10000,
    seed: int = 0,
    batch_size: int = 500,
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    k: int = 3,
) -> dict[str, float]:
    """Fréchet distance, KID and precision/recall of generated vs real images, on classifier
    features.

    ``model_or_sampler``: a vaekit model (``model.sample``, z ~ p(z)) or any
    ``sample(n, generator) -> (n, C, H, W)`` callable such as
    :class:`~vaekit.samplers.GaussianMixtureSampler`. ``real_dataset``: usually the *test*
    split; ``num_samples`` of its images (chosen at random with ``seed``; all if it is smaller)
    are compared with ``num_samples`` generated ones. Returns ``frechet_distance`` (Heusel et
    al. 2017), ``kid_mean``/``kid_std`` (Bińkowski et al. 2018), ``precision``/``recall``
    (Kynkäänniemi et al. 2019, k-NN with ``k``), and ``num_real``/``num_fake``. Reproducible
    for a given ``seed`` and ``batch_size`` (samples are drawn ``batch_size`` per sampler call
    from one generator seeded with ``seed``). The Fréchet distance depends on the sample size:
    compare models at the same ``num_samples``, with the same classifier. Not Inception FID.
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2, got {num_samples}")
    real = classifier.features(_real_subset(real_dataset, num_samples, seed),
                               batch_size=batch_size)
    fake = generated_features(model_or_sampler, classifier, num_samples, seed=seed,
                              batch_size=batch_size)
    kid = kernel_distance(real, fake, subsets=kid_subsets, subset_size=kid_subset_size,
                          seed=seed)
    pr = precision_recall(real, fake, k=k)
    return {
        "frechet_distance": frechet_distance(real, fake),
        "kid_mean": kid.mean,
        "kid_std": kid.std,
        "precision": pr.precision,
        "recall": pr.recall,
        "num_real": float(len(real)),
        "num_fake": float(len(fake)),
    }
