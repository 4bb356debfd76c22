"""The FactorVAE disentanglement score.

Kim & Mnih 2018, "Disentangling by Factorising" (ICML, arXiv:1802.05983), as implemented in
disentanglement_lib (Locatello et al. 2019, ``evaluation/metrics/factor_vae.py`` with the
study's ``prune_dims.threshold = 0.05``):

1. the global variance of each code dimension is estimated (``ddof=1``) on
   ``num_variance_estimate`` (10000) random points; dimensions whose global standard deviation
   is below 0.05 are considered collapsed and pruned;
2. each vote draws a factor ``k`` uniformly and a batch of ``batch_size`` (64) factor
   combinations that all share the first one's value of ``k``; the active dimension with the
   smallest ratio of within-batch variance (``ddof=1``) to global variance votes for ``k``;
3. a majority-vote classifier maps every code dimension to the factor it voted for most often
   in ``num_train`` (10000) votes; the score is its accuracy on ``num_eval`` (5000) fresh votes
   (``eval_accuracy``). Chance level is about ``1 / K``.

Dividing by the global variance makes the score invariant to rescaling code dimensions (as long
as none crosses the pruning threshold) and it is invariant to permuting them.

Deviations from disentanglement_lib: none in the algorithm. Its ``num_active_dims`` is
``len(active_dims)`` of a boolean mask, i.e. the total number of dimensions (a bug); here it is
the number of dimensions kept. Random numbers come from ``np.random.default_rng(seed)`` instead of
``np.random.RandomState`` (draw order per vote as in the reference: factor index, then batch);
observations of several votes are encoded per call, which does not change the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.data.base import GroundTruthDataset
from vaekit.evaluation.disentanglement.base import (
    RepresentationFn,
    mean_representation,
    sample_codes,
)
from vaekit.evaluation.disentanglement.utils import represent_factor_batches
from vaekit.registry import METRICS


def prune_dims(variances: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Mask of the active dimensions: global standard deviation at least ``threshold``."""
    return np.sqrt(np.asarray(variances, dtype=np.float64)) >= threshold


def factor_vae_vote(codes: np.ndarray, global_variances: np.ndarray, active: np.ndarray) -> int:
    """The vote of one batch ``(B, D)``: position, among the active dimensions, of the least
    varying one relative to its global variance."""
    local_variances = np.var(np.asarray(codes, dtype=np.float64), axis=0, ddof=1)
    return int(np.argmin(local_variances[active] / global_variances[active]))


def majority_vote_accuracy(train_votes: np.ndarray, eval_votes: np.ndarray
                           ) -> dict[str, float]:
    """Accuracy of the majority-vote classifier on ``(K, D)`` vote-count matrices.

    Entry ``[k, d]`` counts the votes in which factor ``k`` was fixed and dimension ``d`` varied
    least. Each dimension predicts the factor with most training votes (the first on ties, as
    ``np.argmax``); accuracy is the fraction of votes whose factor is the one predicted.
    """
    train_votes, eval_votes = np.asarray(train_votes), np.asarray(eval_votes)
    predicted = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])

    def accuracy(votes: np.ndarray) -> float:
        total = votes.sum()
        return float(votes[predicted, columns].sum() / total) if total else 0.0

    return {"train_accuracy": accuracy(train_votes), "eval_accuracy": accuracy(eval_votes)}


def generate_factor_vae_votes(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    num_votes: int,
    rng: np.random.Generator,
    global_variances: np.ndarray,
    active: np.ndarray,
    batch_size: int = 64,
    max_images_per_call: int = 1024,
) -> np.ndarray:
    """Vote counts ``(K, num_active)`` of ``num_votes`` interventions (see the module docstring)."""
    votes = np.zeros((dataset.num_factors, int(active.sum())), dtype=np.int64)
    per_call = max(1, max_images_per_call // batch_size)
    for start in range(0, num_votes, per_call):
        fixed, batches = [], []
        for _ in range(min(per_call, num_votes - start)):
            k = int(rng.integers(dataset.num_factors))
            factors = dataset.sample_factors(batch_size, rng)
            factors[:, k] = factors[0, k]  # the intervention: factor k held fixed in the batch
            fixed.append(k)
            batches.append(factors)
        codes = represent_factor_batches(dataset, represent, batches, max_images_per_call)
        for k, batch_codes in zip(fixed, codes):
            votes[k, factor_vae_vote(batch_codes, global_variances, active)] += 1
    return votes


def compute_factor_vae_score(
    dataset: GroundTruthDataset,
    represent: RepresentationFn,
    *,
    seed: int = 0,
    num_train: int = 10000,
    num_eval: int = 5000,
    num_variance_estimate: int = 10000,
    batch_size: int = 64,
    prune_threshold: float = 0.05,
    max_images_per_call: int = 1024,
) -> dict[str, Any]:
    """FactorVAE score (``eval_accuracy``) with disentanglement_lib's defaults.

    Returns ``{"train_accuracy", "eval_accuracy", "num_active_dims"}``; both accuracies are 0 when
    every dimension is pruned. ``batch_size`` is the number of observations behind each vote;
    ``max_images_per_call`` only sets how many observations go through ``represent`` at once.
    """
    rng = np.random.default_rng(seed)
    _, codes = sample_codes(dataset, represent, num_variance_estimate, rng, max_images_per_call)
    global_variances = np.var(np.asarray(codes, dtype=np.float64), axis=0, ddof=1)
    active = prune_dims(global_variances, prune_threshold)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train_votes = generate_factor_vae_votes(dataset, represent, num_train, rng, global_variances,
                                            active, batch_size, max_images_per_call)
    eval_votes = generate_factor_vae_votes(dataset, represent, num_eval, rng, global_variances,
                                           active, batch_size, max_images_per_call)
    return {**majority_vote_accuracy(train_votes, eval_votes),
            "num_active_dims": int(active.sum())}


@METRICS.register("factor_vae_score")
def factor_vae_score_metric(model: torch.nn.Module, dataset: GroundTruthDataset, **options: Any
                            ) -> dict[str, Any]:
    """Registered form: FactorVAE score of the posterior means of ``model`` on ``dataset``."""
    return compute_factor_vae_score(dataset, mean_representation(model), **options)
