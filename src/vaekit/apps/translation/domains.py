"""Image domains with a known ground-truth translation: real digits and their restyled versions.

Translation models (UNIT, the content/style model) train on *unpaired* batches ``(x_a, x_b)``:
the two images of a pair are different digits (the training split is cut into two disjoint
halves, one per domain), so nothing tells the model which restyled image belongs to which digit.
Because every domain-B image is a deterministic function of a real image, the test split can
still be served *paired* -- ``(x, restyle(x))`` with the digit's label -- and a translation is
scored against the exact answer instead of only being looked at (see ``evaluation.py``).

Restyles (all deterministic, on float images ``(B, C, H, W)`` in [0, 1]):

- ``invert``: ``1 - x``.
- ``thicken``: grey-level dilation with a 3x3 square (max over the neighbourhood), strokes ~2
  pixels wider.
- ``slant``: an italic shear: each row moves right by ``SLANT`` = 0.35 pixel per row above the
  centre (left below it), bilinear.
- ``edges``: the morphological gradient ``dilate(x) - erode(x)``, the outline of each stroke.
- ``colour``: three channels, ``x * FOREGROUND + (1 - x) * BACKGROUND`` (a yellow digit on navy).
- ``outline``: for binary shapes (dSprites): ``x - erode(x)``, the one-pixel inner boundary.

``random_colour`` is not a function of the image alone: each image gets its own foreground and
background colour drawn from a seeded generator (the *style* of the content/style model, whose
ground truth for "digit x in the style of image y" is x painted in y's colours).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.errors import DataError
from vaekit.registry import DATASETS

FOREGROUND = (1.0, 0.85, 0.1)  # the ``colour`` restyle: a yellow digit ...
BACKGROUND = (0.05, 0.1, 0.45)  # ... on navy
SLANT = 0.35  # horizontal shear of the ``slant`` restyle


def _check_images(x: torch.Tensor, name: str) -> None:
    if x.dim() != 4:
        raise DataError(f"restyle '{name}' takes image batches (B, C, H, W), got {tuple(x.shape)}")


def dilate(x: torch.Tensor) -> torch.Tensor:
    """Grey-level dilation by a 3x3 square: the maximum of each pixel's neighbourhood."""
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def erode(x: torch.Tensor) -> torch.Tensor:
    """Grey-level erosion by a 3x3 square (the image border counts as background)."""
    return -F.max_pool2d(-F.pad(x, (1, 1, 1, 1)), kernel_size=3, stride=1)


def invert(x: torch.Tensor) -> torch.Tensor:
    return 1.0 - x


def thicken(x: torch.Tensor) -> torch.Tensor:
    return dilate(x)


def slant(x: torch.Tensor, shear: float = SLANT) -> torch.Tensor:
    """Italic shear: the output at (u, v) samples the input at (u + shear * v, v) in the
    normalised coordinates of ``affine_grid`` (v down), so rows above the centre move right."""
    theta = torch.tensor([[1.0, shear, 0.0], [0.0, 1.0, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def edges(x: torch.Tensor) -> torch.Tensor:
    return (dilate(x) - erode(x)).clamp(0.0, 1.0)


def outline(x: torch.Tensor) -> torch.Tensor:
    return (x - erode(x)).clamp(0.0, 1.0)


def paint(x: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Grey images ``(B, 1, H, W)`` -> RGB ``(B, 3, H, W)``: ``x * fg + (1 - x) * bg`` with
    colours ``(3,)`` or one per image ``(B, 3)``."""
    if x.shape[1] != 1:
        raise DataError(f"colour restyles take one-channel images, got {x.shape[1]} channels")
    fg = foreground.to(x).reshape(-1, 3, 1, 1)
    bg = background.to(x).reshape(-1, 3, 1, 1)
    return x * fg + (1.0 - x) * bg


def colour(x: torch.Tensor) -> torch.Tensor:
    return paint(x, torch.tensor(FOREGROUND), torch.tensor(BACKGROUND))


RESTYLES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "invert": invert,
    "thicken": thicken,
    "slant": slant,
    "edges": edges,
    "colour": colour,
    "outline": outline,
}
STYLE_NAMES = (*RESTYLES, "random_colour")


def restyle(x: torch.Tensor, style: str) -> torch.Tensor:
    """Apply the deterministic restyle ``style`` (one of :data:`RESTYLES`) to a batch."""
    if style not in RESTYLES:
        raise DataError(f"unknown restyle '{style}'; known: {', '.join(RESTYLES)}")
    _check_images(x, style)
    return RESTYLES[style](x)


def restyled_channels(style: str, channels: int = 1) -> int:
    return 3 if style in ("colour", "random_colour") else channels


def random_colours(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded foreground and background colours ``(n, 3)`` that differ clearly in brightness
    (foreground channels in [0.5, 1], background in [0, 0.4]), so the digit stays legible."""
    generator = torch.Generator().manual_seed(int(seed))
    fg = 0.5 + 0.5 * torch.rand((n, 3), generator=generator)
    bg = 0.4 * torch.rand((n, 3), generator=generator)
    return fg, bg


class DomainPairs(Dataset):
    """Items ``(x_a, x_b)``: a domain-A image and a domain-B image.

    ``images_a`` / ``images_b``: float or uint8 tensors ``(N, C, H, W)`` of the *source* images
    of each domain (uint8 is scaled by 1/255); domain B is ``restyle(images_b)``. With
    ``paired=True`` the two sources are the same images and ``x_b`` is the ground-truth
    translation of ``x_a``. ``labels`` (of the A images) and ``labels_b`` are exposed for
    evaluation. ``__getitems__`` returns one ``(x_a, x_b)`` tuple of batches, which the training
    loader passes on unchanged.
    """

    def __init__(self, images_a: torch.Tensor, images_b: torch.Tensor, style: str, *,
                 labels: np.ndarray | None = None, labels_b: np.ndarray | None = None,
                 paired: bool = False, colour_seed: int = 0, name: str = "domains") -> None:
        if style not in STYLE_NAMES:
            raise DataError(f"{name}: unknown style '{style}'; known: {', '.join(STYLE_NAMES)}")
        if len(images_a) == 0 or len(images_b) == 0:
            raise DataError(f"{name}: a domain is empty")
        if paired and len(images_a) != len(images_b):
            raise DataError(f"{name}: paired domains need as many B as A images")
        self.images_a, self.images_b = images_a, images_b
        self.style, self.paired, self.name = style, paired, name
        self.labels = None if labels is None else np.asarray(labels)
        self.labels_b = None if labels_b is None else np.asarray(labels_b)
        if style == "random_colour":
            self.foreground, self.background = random_colours(len(images_b), colour_seed)

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.images_a.shape[1:])

    @property
    def data_shape_b(self) -> tuple[int, ...]:
        c, h, w = self.images_b.shape[1:]
        return (restyled_channels(self.style, int(c)), int(h), int(w))

    def __len__(self) -> int:
        return len(self.images_a)

    @staticmethod
    def _float(raw: torch.Tensor) -> torch.Tensor:
        return raw.float() / 255.0 if raw.dtype == torch.uint8 else raw.float()

    def b_indices(self, indices: torch.Tensor) -> torch.Tensor:
        return indices % len(self.images_b)

    def domain_b(self, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Domain-B images for these B indices."""
        index = torch.as_tensor(indices, dtype=torch.long)
        source = self._float(self.images_b[index])
        if self.style == "random_colour":
            return paint(source, self.foreground[index], self.background[index])
        return restyle(source, self.style)

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        x_a = self._float(self.images_a[index])
        return x_a, self.domain_b(self.b_indices(index))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x_a, x_b = self.__getitems__([int(index)])
        return x_a[0], x_b[0]


def _split_images(dataset: object) -> tuple[torch.Tensor, np.ndarray]:
    images = getattr(dataset, "images", None)
    labels = getattr(dataset, "labels", None)
    if images is None or labels is None:
        raise DataError(f"{type(dataset).__name__} has no images/labels arrays")
    return images, np.asarray(labels)


def digit_domains(source: str, style: str, split: str = "train", root: str | None = None,
                  limit: int | None = None, paired: bool | None = None, seed: int = 0
                  ) -> DomainPairs:
    """Digits of ``source`` (mnist, fashion_mnist) as domain A and their ``style`` as domain B.

    ``paired`` (default: False on ``train``, True otherwise). Unpaired: the split's images are
    shuffled (seeded) and cut in two disjoint halves, A from one, B (restyled) from the other.
    Paired: every image is in both domains, ``x_b = restyle(x_a)``.
    """
    if limit is not None and not is_count(limit, 2):
        raise DataError(f"{source}: limit must be an integer >= 2, got {limit!r}")
    images, labels = _split_images(DATASETS.build(source, root=root, split=split, limit=limit))
    paired = split != "train" if paired is None else bool(paired)
    name = f"{source}-{style}-{split}"
    if paired:
        return DomainPairs(images, images, style, labels=labels, labels_b=labels, paired=True,
                           colour_seed=seed, name=name)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(int(seed)))
    half = len(images) // 2
    a, b = order[:half], order[half:2 * half]
    return DomainPairs(images[a], images[b], style, labels=labels[a.numpy()],
                       labels_b=labels[b.numpy()], paired=False, colour_seed=seed, name=name)


@DATASETS.register("restyled_mnist")
def restyled_mnist(root: str | None = None, split: str = "train", style: str = "invert",
                   limit: int | None = None, paired: bool | None = None, seed: int = 0
                   ) -> DomainPairs:
    """MNIST (domain A) -> restyled MNIST (domain B) pairs ``(x_a, x_b)`` for translation.

    ``style``: invert, thicken, slant, edges, colour, random_colour (see
    :mod:`vaekit.apps.translation.domains`). Unpaired on ``train`` (disjoint halves), paired
    ground truth on ``test``.
    """
    return digit_domains("mnist", style, split, root, limit, paired, seed)


class ShapeOutlines(Dataset):
    """dSprites shapes (Matthey et al. 2017), filled (domain A) vs outlined (domain B), rendered
    at ``size`` pixels (32 fits the ``conv28`` network). The A and B shapes of an item have
    different factors unless ``paired``; ``labels`` is the shape class (square, ellipse,
    heart)."""

    def __init__(self, count: int = 6000, size: int = 32, paired: bool = False,
                 seed: int = 0) -> None:
        from vaekit.data.dsprites import DSprites

        if not is_count(count, 1):
            raise DataError(f"dsprites_outline: count must be a positive integer, got {count!r}")
        sprites = DSprites(render_size=size)
        rng = np.random.default_rng(seed)
        factors_a = sprites.sample_factors(count, rng)
        factors_b = factors_a if paired else sprites.sample_factors(count, rng)
        self.images_a = sprites.render(factors_a).reshape(count, 1, size, size).float()
        filled_b = sprites.render(factors_b).reshape(count, 1, size, size).float()
        self.images_b = outline(filled_b)
        self.labels = factors_a[:, 0].astype(np.int64)  # factor 0 is the shape
        self.labels_b = factors_b[:, 0].astype(np.int64)
        self.paired, self.style = paired, "outline"

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.images_a.shape[1:])

    @property
    def data_shape_b(self) -> tuple[int, ...]:
        return tuple(self.images_b.shape[1:])

    def __len__(self) -> int:
        return len(self.images_a)

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return self.images_a[index], self.images_b[index]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images_a[index], self.images_b[index]


@DATASETS.register("dsprites_outline")
def dsprites_outline(split: str = "train", count: int = 6000, size: int = 32,
                     paired: bool | None = None) -> ShapeOutlines:
    """Filled dSprites shapes -> their outlines; unpaired on ``train``, paired otherwise (the
    test split uses another seed)."""
    paired = split != "train" if paired is None else bool(paired)
    return ShapeOutlines(count, size, paired, seed=0 if split == "train" else 1)


@DATASETS.register("restyled_digits")
def restyled_digits(root: str | None = None, split: str = "train", style: str = "invert",
                    limit: int | None = None, seed: int = 0) -> ArrayImageDataset:
    """One domain only: every MNIST image of ``split`` restyled, with its label (float images
    ``(N, C, 28, 28)``). The target-domain digit classifier of the translation scores trains on
    the ``train`` split of this."""
    source = DATASETS.build("mnist", root=root, split=split, limit=limit)
    pairs = DomainPairs(source.images, source.images, style, labels=source.labels, paired=True,
                        colour_seed=seed, name=f"mnist-{style}")
    images = torch.cat([pairs.domain_b(range(i, min(i + 2000, len(pairs))))
                        for i in range(0, len(pairs), 2000)])
    return ArrayImageDataset(images.numpy(), source.labels, name=f"restyled_digits-{style}")
