"""Does a generated image show what its caption says? Attribute classifiers as judges.

An :class:`AttributeClassifier` (a small conv net with one softmax head per attribute) is
trained on *real* images, rendered from random factors of the ground-truth dataset over every
attribute combination, including the held-out ones (the judge must know them; the generator
never sees them). A text-to-image model is then scored by generating images for captions and
checking each attribute the caption names (:func:`attribute_accuracy`): accuracy per attribute,
and the fraction of images with *every* attribute right, on combinations seen in training and
on held-out ones (no image of a held-out combination was trained on, so these scores measure
compositional generalisation). The judge is only as good as its accuracy on real images,
reported by :func:`real_image_accuracy` as the ceiling.

:func:`sample_diversity` measures how different the samples for one caption are: the mean
pairwise absolute pixel difference, next to the same measure over real images with that
caption's attributes (a generator that ignores its noise scores 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaekit.apps.text_to_image.captions import CaptionSet
from vaekit.errors import ShapeError

Generate = Callable[[list[str], torch.Generator], torch.Tensor]


class AttributeClassifier(nn.Module):
    """Images ``(B, C, 64, 64)`` -> one logit vector per attribute: four conv blocks (3x3
    conv, batch norm, ReLU, 2x2 max-pool; 64 -> 4 pixels), a hidden layer, the heads."""

    def __init__(self, channels: int, attribute_sizes: Sequence[int], width: int = 16) -> None:
        super().__init__()
        self.attribute_sizes = tuple(int(s) for s in attribute_sizes)

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.ReLU(),
                    nn.MaxPool2d(2)]

        w = width
        self.features = nn.Sequential(
            *block(channels, w), *block(w, 2 * w), *block(2 * w, 2 * w), *block(2 * w, 4 * w),
            nn.Flatten(), nn.Linear(4 * w * 16, 128), nn.ReLU(),
            nn.Linear(128, sum(self.attribute_sizes)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4 or x.shape[-2:] != (64, 64):
            raise ShapeError(f"the attribute classifier takes (B, C, 64, 64) images, got "
                             f"{tuple(x.shape)}")
        return list(self.features(x).split(self.attribute_sizes, dim=-1))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """Predicted attribute indices ``(B, A)``."""
        self.eval()
        rows = [torch.stack([h.argmax(-1) for h in self(x[i:i + batch_size])], dim=1)
                for i in range(0, len(x), batch_size)]
        return torch.cat(rows).cpu().numpy()


def train_attribute_classifier(captions: CaptionSet, steps: int = 800, batch_size: int = 64,
                               lr: float = 3e-3, seed: int = 0) -> AttributeClassifier:
    """Train on fresh random real images each step (every attribute combination), Adam with
    a one-cycle learning-rate schedule (Smith & Topin 2019)."""
    source = captions.dataset()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    classifier = AttributeClassifier(source.data_shape[0], captions.attribute_sizes)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=max(steps, 1))
    classifier.train()
    for _ in range(steps):
        factors, images = source.sample(batch_size, rng)
        targets = torch.as_tensor(captions.attributes_of(factors))
        logits = classifier(images)
        loss = sum(F.cross_entropy(h, targets[:, k]) for k, h in enumerate(logits))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return classifier.eval()


def load_or_train_attribute_classifier(captions: CaptionSet, path: str | Path, steps: int = 800,
                                       seed: int = 0) -> AttributeClassifier:
    """The classifier stored at ``path`` (safetensors, with its settings in the metadata) if it
    was trained with the same settings, else a new one, trained and stored there."""
    from safetensors.torch import load_file, safe_open, save_file

    path = Path(path)
    settings = {"captions": captions.name, "steps": str(steps), "seed": str(seed)}
    if path.is_file():
        with safe_open(str(path), "pt") as handle:
            stored = handle.metadata() or {}
        if all(stored.get(k) == v for k, v in settings.items()):
            source = captions.dataset()
            classifier = AttributeClassifier(source.data_shape[0], captions.attribute_sizes)
            classifier.load_state_dict(load_file(str(path)))
            return classifier.eval()
    classifier = train_attribute_classifier(captions, steps=steps, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in classifier.state_dict().items()}, str(path),
              metadata=settings)
    return classifier


def accuracy_table(predicted: np.ndarray, attributes: np.ndarray, captions: CaptionSet
                   ) -> dict[str, float]:
    """Accuracy per attribute and ``all`` (every attribute right) of predictions ``(N, A)``."""
    correct = np.asarray(predicted) == np.asarray(attributes)
    table = {name: float(correct[:, k].mean()) for k, name in enumerate(captions.attribute_names)}
    table["all"] = float(correct.all(axis=1).mean())
    return table


def real_image_accuracy(classifier: AttributeClassifier, captions: CaptionSet, n: int = 2000,
                        seed: int = 1) -> dict[str, float]:
    """The judge's own accuracy on fresh real images (the ceiling for generated ones)."""
    factors, images = captions.dataset().sample(n, np.random.default_rng(seed))
    return accuracy_table(classifier.predict(images), captions.attributes_of(factors), captions)


def attribute_accuracy(generate: Generate, classifier: AttributeClassifier,
                       captions: CaptionSet, combinations: Sequence[Sequence[int]],
                       per_combination: int, seed: int = 0, batch_size: int = 64
                       ) -> dict[str, float]:
    """Generate one image per caption, ``per_combination`` fresh captions (random templates
    and synonyms) for each attribute tuple, and score every attribute with the classifier."""
    rng = np.random.default_rng(seed)
    attributes = np.repeat(np.asarray(combinations, dtype=np.int64), per_combination, axis=0)
    texts = captions.captions(attributes, rng)
    generator = torch.Generator().manual_seed(seed)
    images = torch.cat([generate(texts[i:i + batch_size], generator)
                        for i in range(0, len(texts), batch_size)])
    table = accuracy_table(classifier.predict(images), attributes, captions)
    table["images"] = len(texts)
    return table


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean absolute pixel difference over all pairs of ``images (N, ...)``."""
    flat = images.flatten(1).float()
    n = len(flat)
    if n < 2:
        raise ShapeError("diversity needs at least two images")
    distances = torch.cdist(flat, flat, p=1) / flat.shape[1]
    return float(distances.sum() / (n * (n - 1)))


def sample_diversity(generate: Generate, captions: CaptionSet, attributes: Sequence[int],
                     n: int = 32, seed: int = 0) -> dict[str, float | str]:
    """Diversity of ``n`` samples for one caption vs ``n`` real images of its attributes."""
    rng = np.random.default_rng(seed)
    text = captions.caption(attributes, rng)
    samples = generate([text] * n, torch.Generator().manual_seed(seed))
    factors = captions.factors_for(np.asarray([attributes] * n), rng)
    real = captions.dataset().render(factors)
    return {"caption": text, "samples": mean_pairwise_distance(samples),
            "real": mean_pairwise_distance(real)}


def model_generator(model: nn.Module, temperature: float = 1.0) -> Generate:
    """``generate(texts, generator)`` for a text_cvae or text_vq_vae."""

    def generate(texts: list[str], generator: torch.Generator) -> torch.Tensor:
        return model.sample(len(texts), generator=generator, text=list(texts),
                            temperature=temperature)

    return generate


@torch.no_grad()
def word_effects(model: nn.Module, captions: CaptionSet, captions_per_combination: int = 4,
                 seed: int = 0) -> np.ndarray:
    """Which attribute's words steer which latent dimension of a ``text_cvae``: ``(A, D)``,
    entry ``(k, d)`` the fraction of the variance of the prior mean ``E[p(z_d | text)]``
    over all attribute combinations that attribute ``k`` explains (the variance across its
    values, the other attributes fixed, averaged; means over ``captions_per_combination``
    phrasings). Rows need not sum to 1 (interactions); 0 where the prior ignores the text."""
    rng = np.random.default_rng(seed)
    combos = np.asarray(captions.combinations())
    texts = captions.captions(np.repeat(combos, captions_per_combination, axis=0), rng)
    means = model.conditional_prior(texts, len(texts)).mean  # (C * n, D)
    means = means.reshape(len(combos), captions_per_combination, -1).mean(1).cpu().numpy()
    grid = means.reshape(*captions.attribute_sizes, means.shape[-1])
    total = grid.reshape(-1, grid.shape[-1]).var(axis=0)  # (D,)
    effects = np.stack([grid.var(axis=k).reshape(-1, grid.shape[-1]).mean(axis=0)
                        for k in range(len(captions.attribute_sizes))])
    return np.divide(effects, total, out=np.zeros_like(effects), where=total > 1e-12)
