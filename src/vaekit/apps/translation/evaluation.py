"""Scores for image-to-image translation and style transfer against known ground truth.

The domains of :mod:`vaekit.apps.translation.domains` are built so the right answer is known:

- **label preservation**: the fraction of translated images that a digit classifier trained on
  the *target* domain (restyled training digits with their labels) assigns the source digit's
  label. The UNIT paper reports this for SVHN -> MNIST (90.5%, Liu et al. 2017, table 2).
- **pixel error**: mean absolute per-pixel error (images in [0, 1], averaged over pixels and
  channels) between a translation and the exact restyled version of the same image; the
  *identity* translation (the input itself, grey repeated to the target's channels) is the
  floor any translator must beat.
- **diversity**: the mean pairwise per-pixel L1 distance between several translations of the
  same input (different latent draws or styles), averaged over inputs; 0 for a deterministic
  translator.
- **style swap**: for a content/style model, ``G(content(x), style(y))`` should keep x's digit
  (content preservation: classifier accuracy against x's labels) and take y's style (style
  recovery: pixel error against x painted in y's colours, and the error of re-encoding the
  style code).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vaekit.errors import ShapeError

Translator = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def in_batches(fn: Translator, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """``fn`` applied to ``x`` in batches, concatenated."""
    return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey images repeated to ``channels`` (the identity translation into a colour domain)."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] != 1:
        raise ShapeError(f"cannot compare {x.shape[1]}-channel images with {channels}-channel "
                         "ones")
    return x.expand(-1, channels, -1, -1)


def pixel_error(translated: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute per-pixel error between two image batches of the same shape."""
    if translated.shape != target.shape:
        raise ShapeError(f"translated images {tuple(translated.shape)} and ground truth "
                         f"{tuple(target.shape)} differ in shape")
    return float((translated.float() - target.float()).abs().mean())


def identity_error(x_a: torch.Tensor, x_b: torch.Tensor) -> float:
    """Pixel error of the identity translation: the input taken as its own translation."""
    return pixel_error(match_channels(x_a, x_b.shape[1]), x_b)


def label_preservation(classifier: object, translated: torch.Tensor,
                       labels: np.ndarray | torch.Tensor) -> float:
    """Fraction of translations classified as their source's label (``classifier.predict``
    as in :class:`vaekit.evaluation.generation.classifier.FeatureClassifier`)."""
    predicted = np.asarray(classifier.predict(translated))
    labels = np.asarray(labels)
    if len(predicted) != len(labels):
        raise ShapeError(f"{len(predicted)} translations for {len(labels)} labels")
    return float(np.mean(predicted == labels))


def diversity(draws: torch.Tensor) -> float:
    """Mean pairwise per-pixel L1 distance between ``K`` translations of each input,
    ``draws`` of shape ``(K, B, C, H, W)``; averaged over the K(K-1)/2 pairs and the B inputs."""
    if draws.dim() != 5 or len(draws) < 2:
        raise ShapeError(f"diversity needs (K >= 2, B, C, H, W) translations, got "
                         f"{tuple(draws.shape)}")
    flat = draws.flatten(2).float()  # (K, B, P)
    k = len(flat)
    total = flat.new_zeros(())
    for i in range(k):
        for j in range(i + 1, k):
            total = total + (flat[i] - flat[j]).abs().mean()
    return float(total / (k * (k - 1) / 2))


def translation_report(translate: Translator, x_a: torch.Tensor, x_b: torch.Tensor,
                       labels: np.ndarray, classifier: object | None = None,
                       sample: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       num_draws: int = 5, diversity_inputs: int = 100) -> dict[str, float]:
    """Scores of a translator on paired test data ``x_b = restyle(x_a)``.

    ``translate``: x_a -> translations (deterministic). ``sample`` (optional): x_a -> one
    random translation per input, called ``num_draws`` times on the first ``diversity_inputs``
    inputs for the diversity score.
    """
    translated = in_batches(translate, x_a)
    report = {"pixel_error": pixel_error(translated, x_b),
              "identity_pixel_error": identity_error(x_a, x_b)}
    if classifier is not None:
        report["label_preservation"] = label_preservation(classifier, translated, labels)
        report["classifier_accuracy_on_ground_truth"] = label_preservation(classifier, x_b,
                                                                           labels)
        report["identity_label_preservation"] = label_preservation(
            classifier, match_channels(x_a, x_b.shape[1]), labels)
    if sample is not None:
        subset = x_a[:diversity_inputs]
        report["diversity"] = diversity(torch.stack([in_batches(sample, subset)
                                                     for _ in range(num_draws)]))
    return report


def target_classifier(style: str, steps: int = 1500, seed: int = 0,
                      cache_dir: str | None = None) -> object:
    """The digit classifier of the target domain: trained (once, then cached; see
    :func:`vaekit.evaluation.generation.classifier.load_or_train_classifier`) on every training
    digit restyled with ``style``, with its label."""
    from vaekit.evaluation.generation.classifier import load_or_train_classifier

    return load_or_train_classifier("restyled_digits", cache_dir, steps=steps, seed=seed,
                                    dataset_options={"style": style})


def paired_test_data(style: str, num_test: int, root: str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """``(x_a, x_b = restyle(x_a), labels)`` for the first ``num_test`` MNIST test digits."""
    from vaekit.registry import DATASETS

    test = DATASETS.build("restyled_mnist", root=root, split="test", style=style,
                          limit=num_test, paired=True)
    x_a, x_b = test.__getitems__(list(range(len(test))))
    return x_a, x_b, np.asarray(test.labels)


def unit_report(model: object, style: str, num_test: int = 2000, classifier: object = None,
                num_draws: int = 5) -> dict[str, float]:
    """:func:`translation_report` of a translation model translating A -> B on the paired test
    digits; diversity from draws z ~ q(z|x) (UNIT) or from prior styles (content/style model,
    whose deterministic translation then uses a prior style too)."""
    x_a, x_b, labels = paired_test_data(style, num_test)
    classifier = classifier if classifier is not None else target_classifier(style)

    def sample(x: torch.Tensor) -> torch.Tensor:
        if hasattr(model, "sample_style"):  # content/style model: a style from the prior
            return model.translate(x, "a")
        z = model.encode(x, "a").sample()  # UNIT: a draw from q(z|x)
        return model.likelihoods["b"].mean_image(model.decode(z, "b"))

    return translation_report(lambda x: model.translate(x, "a"), x_a, x_b, labels, classifier,
                              sample=sample, num_draws=num_draws)


def style_report(model: object, num_test: int = 2000, classifier: object = None,
                 num_draws: int = 5, seed: int = 0) -> dict[str, float]:
    """Scores of a content/style model trained on ``random_colour`` digits.

    - ``label_preservation`` / ``diversity``: A -> B translations with styles drawn from the
      prior (``sample``), as for UNIT; ``pixel_error`` is not defined for a random style.
    - ``swap_content_preservation``: ``G_b(content(x_a), style(y_b))`` for each test digit x and
      the B image y of another digit, classified as x's label.
    - ``swap_pixel_error``: the same images against the exact answer, x painted in y's colours;
      ``swap_pixel_error_other_colours`` is the error of x painted in a *third* image's colours
      (what a translation that ignored the style image would score on average).
    - ``style_recovery_error``: mean squared error of re-encoding drawn style codes,
      ``|E^s_b(G_b(c, s)) - s|^2`` per dimension, against the prior's variance (1) for guessing.
    """
    from vaekit.apps.translation.domains import paint, random_colours

    x_a, _, labels = paired_test_data("colour", num_test)
    classifier = classifier if classifier is not None else target_classifier("random_colour")
    n = len(x_a)
    fg, bg = random_colours(n, seed + 1)
    order = torch.roll(torch.arange(n), 1)  # y = another digit, painted in colours i
    y_b = paint(x_a[order], fg, bg)
    generator = torch.Generator().manual_seed(seed)
    swapped = torch.cat([model.swap_style(x_a[i:i + 500], y_b[i:i + 500], "b", "a")
                         for i in range(0, n, 500)])
    truth = paint(x_a, fg, bg)
    third = torch.roll(torch.arange(n), 2)
    report = translation_report(
        lambda x: model.translate(x, "a", generator=generator), x_a, truth, labels,
        classifier, sample=lambda x: model.translate(x, "a", generator=generator),
        num_draws=num_draws)
    for key in ("pixel_error", "identity_pixel_error", "identity_label_preservation"):
        del report[key]
    report["swap_content_preservation"] = label_preservation(classifier, swapped, labels)
    report["swap_pixel_error"] = pixel_error(swapped, truth)
    report["swap_pixel_error_other_colours"] = pixel_error(paint(x_a, fg[third], bg[third]),
                                                           truth)
    with torch.no_grad():
        s = model.sample_style(n, generator)
        c = model.content(x_a, "a")
        rendered = model.likelihoods["b"].mean_image(model.generate(c, s, "b"))
        report["style_recovery_error"] = float((model.style(rendered, "b") - s).square().mean())
    return report


def evaluate_run(model: object, config: object, num_test: int = 2000,
                 extra: list[str] | None = None) -> dict[str, float]:
    """Scores of a trained run on restyled MNIST (its ``data.options.style``)."""
    from vaekit.errors import ConfigError

    options = dict(getattr(getattr(config, "data", None), "options", None) or {})
    if config is None or config.data.name != "restyled_mnist":
        raise ConfigError("vaekit translate evaluate scores runs trained on restyled_mnist "
                          "(this run's data is not)")
    style = options.get("style", "invert")
    if model.config.config_type == "munit" and style == "random_colour":
        return style_report(model, num_test)
    return unit_report(model, style, num_test)
