"""Scoring a spectrogram VAE on labelled recordings (e.g. FSDD digits and speakers).

- **Spectral distances** of reconstructions: each test image is reconstructed, turned into audio
  (mel -> linear by NNLS, Griffin-Lim phases, a fixed seed) and compared with the original clip
  by :func:`~vaekit.audio.metrics.multiscale_spectral_distance` and
  :func:`~vaekit.audio.metrics.log_spectral_distance`. :func:`pipeline_reference` scores the
  real images through the same inversion: the floor that a perfect reconstruction would reach.
- **Classifier accuracies**: two small conv classifiers
  (:func:`~vaekit.evaluation.generation.classifier.train_feature_classifier`), one for the digit
  and one for the speaker, trained on the *real training* spectrograms; their accuracy on the
  real test images is the reference, and they are applied to reconstructions of the test images
  and, for a conditional model, to samples drawn for each digit (the sample's digit must be the
  one asked for). They see spectrogram images, not re-analysed audio.
- **Disentanglement** of the posterior means with the digit and the speaker as the two factors:
  MIG (Chen et al. 2018, :func:`~vaekit.evaluation.disentanglement.mig.mig`), DCI (Eastwood &
  Williams 2018, binned boosting) and SAP (Kumar et al. 2018), all on plain arrays.

A conditional model (:class:`~vaekit.models.cvae.CVAE`) encodes and reconstructs with the true
digit label; its latent code is then expected to carry the speaker and little of the digit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vaekit.audio.metrics import log_spectral_distance, multiscale_spectral_distance
from vaekit.data.base import ArrayImageDataset
from vaekit.evaluation.disentanglement.dci import dci
from vaekit.evaluation.disentanglement.mig import mig
from vaekit.evaluation.disentanglement.sap import sap
from vaekit.evaluation.generation.classifier import FeatureClassifier, train_feature_classifier
from vaekit.evaluation.likelihood import evaluating
from vaekit.models.base import BaseVAE


def is_conditional(model: BaseVAE) -> bool:
    from vaekit.models.cvae import CVAE

    return isinstance(model, CVAE)


def relabel(dataset: ArrayImageDataset, labels: np.ndarray, name: str) -> ArrayImageDataset:
    """The same images (shared memory) with other labels, e.g. speakers instead of digits."""
    images = dataset.images.numpy()
    return ArrayImageDataset(images, np.asarray(labels), name=name)


def train_audio_classifiers(train_set: Any, *, steps: int = 1500, batch_size: int = 64,
                            seed: int = 0, channels: tuple[int, ...] = (16, 32),
                            feature_dim: int = 64) -> dict[str, FeatureClassifier]:
    """``{"digit": ..., "speaker": ...}`` classifiers trained on the real training images
    (``train_set.labels`` and ``train_set.speakers``); small (two conv stages of 16 and 32
    channels) so they train in about a minute on one CPU thread."""
    options = dict(steps=steps, batch_size=batch_size, seed=seed, channels=channels,
                   feature_dim=feature_dim)
    return {
        "digit": train_feature_classifier(relabel(train_set, train_set.labels, "digits"),
                                          **options),
        "speaker": train_feature_classifier(relabel(train_set, train_set.speakers, "speakers"),
                                            **options),
    }


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


@torch.no_grad()
def encode_means(model: BaseVAE, images: torch.Tensor, labels: np.ndarray | None = None,
                 batch_size: int = 256) -> np.ndarray:
    """Posterior means ``(N, D)``; with the labels for a conditional model."""
    out = []
    with evaluating(model):
        for part in _batches(len(images), batch_size):
            if is_conditional(model):
                qz = model.encode(images[part], torch.as_tensor(labels[part]))
            else:
                qz = model.encode(images[part])
            out.append(qz.mean.cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def reconstruct_images(model: BaseVAE, images: torch.Tensor, labels: np.ndarray | None = None,
                       batch_size: int = 256) -> torch.Tensor:
    """Reconstructions (means of p(x|z = E q)); with the labels for a conditional model."""
    out = []
    with evaluating(model):
        for part in _batches(len(images), batch_size):
            if is_conditional(model):
                out.append(model.reconstruct(images[part], torch.as_tensor(labels[part])))
            else:
                out.append(model.reconstruct(images[part]))
    return torch.cat(out).cpu()


def spectral_scores(dataset: Any, images: torch.Tensor, griffin_lim_iter: int = 32,
                    seed: int = 0) -> dict[str, float]:
    """Mean multi-scale spectral distance and LSD between the dataset's clips and the audio of
    ``images`` (one per clip)."""
    generator = torch.Generator().manual_seed(seed)
    audio = torch.cat([dataset.to_audio(images[part], griffin_lim_iter, generator)
                       for part in _batches(len(images), 100)])
    reference = dataset.waveforms[:, :audio.shape[-1]]
    return {
        "msd": float(multiscale_spectral_distance(audio, reference).mean()),
        "lsd_db": float(log_spectral_distance(audio, reference).mean()),
    }


def pipeline_reference(test_set: Any, classifiers: dict[str, FeatureClassifier],
                       griffin_lim_iter: int = 32, seed: int = 0) -> dict[str, float]:
    """The scores of the real test images themselves (no model): spectral distances of their
    inversion, and the classifiers' accuracies on them."""
    return {
        **spectral_scores(test_set, test_set.images, griffin_lim_iter, seed),
        "digit_acc_recon": _accuracy(classifiers["digit"], test_set.images, test_set.labels),
        "speaker_acc_recon": _accuracy(classifiers["speaker"], test_set.images,
                                       test_set.speakers),
    }


def _accuracy(classifier: FeatureClassifier, images: torch.Tensor, labels: np.ndarray) -> float:
    return float(np.mean(classifier.predict(images) == np.asarray(labels)))


@torch.no_grad()
def conditional_samples(model: BaseVAE, num_classes: int, per_class: int, seed: int = 0
                        ) -> tuple[torch.Tensor, np.ndarray]:
    """``per_class`` samples of each class ``0..num_classes-1`` and their labels."""
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    with evaluating(model):
        samples = model.sample(len(labels), torch.Generator().manual_seed(seed), labels=labels)
    return samples.cpu(), labels.numpy()


def evaluate_audio_model(model: BaseVAE, test_set: Any, classifiers: dict[str, FeatureClassifier],
                         *, mig_set: Any | None = None, samples_per_class: int = 100,
                         griffin_lim_iter: int = 32, seed: int = 0) -> dict[str, Any]:
    """Every score of the module docstring for one model, as a flat dict of floats (None where
    a score does not apply: digit accuracy of samples needs a conditional model).

    ``mig_set`` (default ``test_set``): the recordings whose codes MIG is computed on.
    """
    recon = reconstruct_images(model, test_set.images, test_set.labels)
    scores: dict[str, Any] = spectral_scores(test_set, recon, griffin_lim_iter, seed)
    scores["image_l1"] = float((recon - test_set.images).abs().mean())
    scores["digit_acc_recon"] = _accuracy(classifiers["digit"], recon, test_set.labels)
    scores["speaker_acc_recon"] = _accuracy(classifiers["speaker"], recon, test_set.speakers)
    scores["digit_acc_samples"] = None
    if is_conditional(model):
        samples, labels = conditional_samples(model, model.num_classes, samples_per_class, seed)
        scores["digit_acc_samples"] = _accuracy(classifiers["digit"], samples, labels)
    scores.update(disentanglement_scores(model, test_set if mig_set is None else mig_set,
                                         test_set, seed))
    return scores


def disentanglement_scores(model: BaseVAE, train_set: Any, test_set: Any, seed: int = 0
                           ) -> dict[str, float]:
    """MIG (on ``train_set``'s codes), DCI (Eastwood & Williams 2018; binned gradient-boosted
    trees fit on ``train_set``, scored on ``test_set``) and SAP (Kumar et al. 2018) of the
    posterior means, with digit and speaker as the two factors."""
    def arrays(data: Any) -> tuple[np.ndarray, np.ndarray]:
        codes = encode_means(model, data.images, data.labels)
        return np.stack([data.labels, data.speakers], axis=1), codes

    (f_train, c_train), (f_test, c_test) = arrays(train_set), arrays(test_set)
    result = mig(f_train, c_train)
    scores = {"mig": result["discrete_mig"]}
    scores["mig_digit"], scores["mig_speaker"] = result["discrete_mig_per_factor"]
    result = dci(f_train, c_train, f_test, c_test, fast=True, seed=seed)
    scores.update(dci_disentanglement=result["disentanglement"],
                  dci_completeness=result["completeness"],
                  dci_informativeness=result["informativeness_test"])
    scores["sap"] = sap(f_train, c_train, f_test, c_test, seed=seed)["SAP_score"]
    return scores
