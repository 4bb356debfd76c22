"""The BetaVAE disentanglement score.

Higgins, Matthey, Pal, Burgess, Glorot, Botvinick, Mohamed & Lerchner 2017, "beta-VAE: Learning
Basic Visual Concepts with a Constrained Variational Framework" (ICLR,
openreview.net/forum?id=Sy2fzU9gl), as implemented with scikit-learn in disentanglement_lib
(Locatello et al. 2019, ``evaluation/metrics/beta_vae.py``, ``beta_vae_sklearn``). Each training
point is made from an intervention: draw a factor index ``k`` uniformly, draw two batches of
``batch_size`` (64) factor combinations, give the second batch the first one's values of factor
``k``, and take the mean over the batch of ``|z(x1) - z(x2)|`` as the feature vector, labelled
``k``. A ``LogisticRegression`` is trained on ``num_train`` (10000) such points; the score is its
accuracy on ``num_eval`` (5000) fresh points (``eval_accuracy``). Chance level is ``1 / K``.

Deviations from disentanglement_lib: none in the algorithm. ``LogisticRegression`` is used with
the current sklearn defaults (lbfgs, multinomial, ``max_iter=100``), as disentanglement_lib's
call ``LogisticRegression(random_state=...)`` gets today; the sklearn of 2018-2019 defaulted to
liblinear with one-vs-rest. Random numbers come from ``np.random.default_rng(seed)`` instead of
``np.random.RandomState`` (draw order per point as in the reference: factor index, batch 1,
batch 2). Observations of several points are encoded per call, which does not change the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import RepresentationFn, mean_representation
from vaekit.evaluation.disentanglement.utils import represent_factor_batches
from vaekit.registry import METRICS


def beta_vae_feature(codes1: np.ndarray, codes2: np.ndarray) -> np.ndarray:
    """The feature vector ``(D,)`` of one intervention: mean over the batch of ``|z1 - z2|``."""
    return np.mean(np.abs(np.asarray(codes1) - np.asarray(codes2)), axis=0)


def beta_vae_accuracy(
    train_points: np.ndarray,
    train_labels: np.ndarray,
    eval_points: np.ndarray,
    eval_labels: np.ndarray,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the linear classifier on feature vectors ``(N, D)`` and their fixed-factor labels.

    Returns ``{"train_accuracy", "eval_accuracy"}``. When every training label is the same (only
    possible with a single factor or very few points) that label is predicted, as
    ``LogisticRegression`` cannot be fit on one class.
    """
    train_points, eval_points = np.asarray(train_points), np.asarray(eval_points)
    train_labels, eval_labels = np.asarray(train_labels), np.asarray(eval_labels)
    classes = np.unique(train_labels)
    if len(classes) < 2:
        return {"train_accuracy": 1.0, "eval_accuracy": float(np.mean(eval_labels == classes[0]))}
    model = LogisticRegression(random_state=seed).fit(train_points, train_labels)
    return {
        "train_accuracy": float(np.mean(model.predict(train_points) == train_labels)),
        "eval_accuracy": float(np.mean(model.predict(eval_points) == eval_labels)),
    }


def generate_beta_vae_points(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 64,
    max_images_per_call: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_points`` feature vectors ``(num_points, D)`` and their labels (the fixed factor)."""
    # Enough interventions per encoder call to fill about max_images_per_call observations.
    per_call = max(1, max_images_per_call // (2 * batch_size))
    features, labels = [], np.zeros(num_points, dtype=np.int64)
    for start in range(0, num_points, per_call):
        batches = []
        for n in range(start, min(start + per_call, num_points)):
            labels[n] = rng.integers(dataset.num_factors)
            first = dataset.sample_factors(batch_size, rng)
            second = dataset.sample_factors(batch_size, rng)
            second[:, labels[n]] = first[:, labels[n]]  # the intervention: factor k shared
            batches += [first, second]
        codes = represent_factor_batches(dataset, represent, batches, max_images_per_call)
        features += [beta_vae_feature(codes[i], codes[i + 1]) for i in range(0, len(codes), 2)]
    return np.stack(features), labels


def compute_beta_vae_score(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    num_eval: int = 5000,
    batch_size: int = 64,
    max_images_per_call: int = 1024,
) -> dict[str, Any]:
    """BetaVAE score (``eval_accuracy``) with disentanglement_lib's defaults.

    ``batch_size`` is the number of observation pairs behind each feature vector;
    ``max_images_per_call`` only sets how many observations go through ``represent`` at once.
    """
    rng = np.random.default_rng(seed)
    train = generate_beta_vae_points(dataset, represent, num_train, rng, batch_size,
                                     max_images_per_call)
    evaluation = generate_beta_vae_points(dataset, represent, num_eval, rng, batch_size,
                                          max_images_per_call)
    return beta_vae_accuracy(*train, *evaluation, seed=seed)


@METRICS.register("beta_vae_score")
def beta_vae_score_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
                          ) -> dict[str, Any]:
    """Registered form: BetaVAE score of the posterior means of ``model`` on ``dataset``."""
    return compute_beta_vae_score(dataset, mean_representation(model), **options)
