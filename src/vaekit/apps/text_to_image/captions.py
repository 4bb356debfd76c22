"""Captions generated from ground-truth factors, and held-out attribute combinations.

A :class:`CaptionSet` turns the factor indices of a ground-truth dataset into a few discrete
*attributes* (the things a caption names, e.g. a dSprites sprite's shape, size class and
position) and writes varied captions for them: several sentence templates, synonyms for every
attribute value ("large" / "big" / "huge", "at the top left" / "in the upper-left corner"), so
a model cannot rely on one fixed phrasing. Factors the caption does not name (a sprite's exact
position inside its cell, its orientation) are left for the latent code to carry.

Compositional generalisation is tested on *held-out combinations*
(:func:`holdout_combinations`): full attribute tuples, e.g. (heart, large, left, top), that
never occur in training although each of their values does, with other partners. The
captioned datasets (:class:`CaptionedDataset`) draw training examples from the other
combinations only.

The attribute scheme for dSprites (:class:`DSpritesCaptions`):

==========  ========================  ===================================================
attribute   values                    from the dSprites factor (index)
==========  ========================  ===================================================
shape       square, ellipse, heart    shape
size        small, medium, large      scale 0-1, 2-3, 4-5
horizontal  left, center, right       posX 0-10, 11-21, 22-31
vertical    top, middle, bottom       posY 0-10, 11-21, 22-31 (rows grow downwards)
==========  ========================  ===================================================

:class:`Shapes3DCaptions` names the procedural 3D-shapes scenes' object shape, size and the
object, wall and floor colours (hue by name, as in ``vaekit.data.shapes3d``);
:class:`MNISTCanvasCaptions` names a real MNIST digit's class and its position on a 64x64
canvas (alignDRAW style: "the digit 3 is at the bottom right").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vaekit.apps.text_to_image.tokenizer import Tokenizer
from vaekit.data.base import GroundTruthDataset
from vaekit.errors import ConfigError, DataError


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class CaptionSet(ABC):
    """Attributes of a ground-truth dataset and the captions that describe them."""

    name: str
    attribute_names: tuple[str, ...]
    attribute_values: tuple[tuple[str, ...], ...]

    @abstractmethod
    def dataset(self) -> GroundTruthDataset:
        """The ground-truth dataset whose images the captions describe."""

    @abstractmethod
    def attributes_of(self, factors: np.ndarray) -> np.ndarray:
        """Attribute indices ``(n, A)`` of factor indices ``(n, K)``."""

    @abstractmethod
    def factors_for(self, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Random factor indices ``(n, K)`` whose attributes are ``attributes (n, A)``."""

    @abstractmethod
    def caption(self, attributes: Sequence[int], rng: np.random.Generator) -> str:
        """One caption for one attribute tuple, template and synonyms drawn from ``rng``."""

    @abstractmethod
    def phrase_pool(self) -> Iterable[str]:
        """Every string a caption can be made of (templates, synonyms, phrases)."""

    # ------------------------------------------------------------------------- helpers
    @property
    def attribute_sizes(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.attribute_values)

    def combinations(self) -> list[tuple[int, ...]]:
        """Every attribute tuple, in row-major order."""
        grid = np.stack(np.unravel_index(np.arange(int(np.prod(self.attribute_sizes))),
                                         self.attribute_sizes), axis=1)
        return [tuple(int(v) for v in row) for row in grid]

    def describe(self, attributes: Sequence[int]) -> str:
        """The canonical names, e.g. ``'heart, large, left, top'``."""
        return ", ".join(values[int(a)] for values, a in zip(self.attribute_values, attributes,
                                                             strict=True))

    def captions(self, attributes: np.ndarray, rng: np.random.Generator) -> list[str]:
        return [self.caption(row, rng) for row in np.asarray(attributes)]

    def vocabulary(self, max_tokens: int = 16) -> Tokenizer:
        """The tokenizer of every word a caption of this set can contain (sorted)."""
        return Tokenizer.from_texts(self.phrase_pool(), max_tokens)


# ------------------------------------------------------------------------------ dSprites
_DS_SHAPES = {"square": ("square", "box", "block"), "ellipse": ("ellipse", "oval"),
              "heart": ("heart",)}
_DS_SIZES = {"small": ("small", "tiny", "little"), "medium": ("medium", "medium-sized",
                                                              "mid-sized"),
             "large": ("large", "big", "huge")}
_V_AT = {"top": "top", "bottom": "bottom"}
_V_ADJ = {"top": ("upper", "top"), "bottom": ("lower", "bottom")}


def _position_phrases(v: str, h: str) -> tuple[list[str], list[str]]:
    """(full phrases, short phrases) for a vertical and a horizontal position class."""
    if v == "middle" and h == "center":
        return (["in the center", "in the middle", "at the centre", "in the middle of the image"],
                ["center", "centered", "middle"])
    if v == "middle":
        return ([f"on the {h}", f"at the {h} side", f"near the {h} edge", f"on the {h} side"],
                [f"{h} side", f"{h} edge"])
    if h == "center":
        at = _V_AT[v]
        return ([f"at the {at}", f"near the {at}", f"at the {at} center", f"along the {at} edge"],
                [f"{at} center", f"{at} edge"])
    at = _V_AT[v]
    full = [f"at the {at} {h}", f"near the {at} {h}"]
    full += [f"in the {adj}-{h} corner" for adj in _V_ADJ[v]]
    short = [f"{adj}-{h} corner" for adj in _V_ADJ[v]] + [f"{at} {h}"]
    return full, short


_DS_TEMPLATES_FULL = (
    "{a} {size} {shape} {pos}",
    "{size} {shape} {pos}",
    "there is {a} {size} {shape} {pos}",
    "an image of {a} {size} {shape} {pos}",
    "{pos} there is {a} {size} {shape}",
    "the {shape} is {size} and sits {pos}",
)
_DS_TEMPLATES_SHORT = (
    "{size} {shape}, {short}",
    "{a} {size} {shape}, {short}",
)


class DSpritesCaptions(CaptionSet):
    """Captions of procedural dSprites (:mod:`vaekit.data.dsprites`); see the module table."""

    name = "dsprites"
    attribute_names = ("shape", "size", "horizontal", "vertical")
    attribute_values = (("square", "ellipse", "heart"), ("small", "medium", "large"),
                        ("left", "center", "right"), ("top", "middle", "bottom"))
    # Factor-index bins of the 32 positions and the 6 scales.
    position_bins = ((0, 11), (11, 22), (22, 32))
    scale_bins = ((0, 2), (2, 4), (4, 6))

    def dataset(self) -> GroundTruthDataset:
        from vaekit.data.dsprites import DSprites

        return DSprites()

    @staticmethod
    def _bin(index: np.ndarray, bins: tuple[tuple[int, int], ...]) -> np.ndarray:
        out = np.full(index.shape, -1, dtype=np.int64)
        for k, (lo, hi) in enumerate(bins):
            out[(index >= lo) & (index < hi)] = k
        if (out < 0).any():
            raise DataError(f"factor index out of range: {index[out < 0][:5]}")
        return out

    def attributes_of(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors, dtype=np.int64).reshape(-1, 5)
        return np.stack([factors[:, 0], self._bin(factors[:, 1], self.scale_bins),
                         self._bin(factors[:, 3], self.position_bins),
                         self._bin(factors[:, 4], self.position_bins)], axis=1)

    def factors_for(self, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        attributes = np.asarray(attributes, dtype=np.int64).reshape(-1, 4)
        n = len(attributes)

        def within(bins: tuple[tuple[int, int], ...], which: np.ndarray) -> np.ndarray:
            lo = np.array([b[0] for b in bins])[which]
            hi = np.array([b[1] for b in bins])[which]
            return lo + (rng.random(n) * (hi - lo)).astype(np.int64)

        return np.stack([attributes[:, 0], within(self.scale_bins, attributes[:, 1]),
                         rng.integers(0, 40, n), within(self.position_bins, attributes[:, 2]),
                         within(self.position_bins, attributes[:, 3])], axis=1)

    def caption(self, attributes: Sequence[int], rng: np.random.Generator) -> str:
        shape_i, size_i, h_i, v_i = (int(a) for a in attributes)
        shape = str(rng.choice(_DS_SHAPES[self.attribute_values[0][shape_i]]))
        size = str(rng.choice(_DS_SIZES[self.attribute_values[1][size_i]]))
        full, short = _position_phrases(self.attribute_values[3][v_i],
                                        self.attribute_values[2][h_i])
        templates = _DS_TEMPLATES_FULL + _DS_TEMPLATES_SHORT
        template = templates[int(rng.integers(len(templates)))]
        return template.format(a=_article(size), size=size, shape=shape,
                               pos=str(rng.choice(full)), short=str(rng.choice(short)))

    def phrase_pool(self) -> Iterable[str]:
        for template in _DS_TEMPLATES_FULL + _DS_TEMPLATES_SHORT:
            yield template.format(a="a an", size="", shape="", pos="", short="")
        for table in (_DS_SHAPES, _DS_SIZES):
            for synonyms in table.values():
                yield from synonyms
        for v in self.attribute_values[3]:
            for h in self.attribute_values[2]:
                full, short = _position_phrases(v, h)
                yield from full
                yield from short


# ---------------------------------------------------------------------------- 3D shapes
# Hue i/10 of the procedural 3D shapes (HSV, saturation 0.85) by name.
HUE_NAMES = ("red", "orange", "yellow", "lime", "green", "cyan", "azure", "blue", "purple",
             "pink")
_S3_SHAPES = {"cube": ("cube", "block"), "cylinder": ("cylinder", "tube"),
              "sphere": ("sphere", "ball"), "capsule": ("capsule", "pill")}
_S3_SIZES = {"small": ("small", "tiny"), "medium": ("medium", "mid-sized"),
             "large": ("large", "big")}
_S3_TEMPLATES = (
    "{a} {size} {color} {shape} in front of {a_wall} {wall} wall on {a_floor} {floor} floor",
    "{a} {size} {color} {shape}, {wall} wall, {floor} floor",
    "{wall} wall, {floor} floor and {a} {size} {color} {shape}",
    "there is {a} {size} {color} {shape} on the {floor} floor by the {wall} wall",
)


class Shapes3DCaptions(CaptionSet):
    """Captions of the procedural 3D-shapes scenes (:mod:`vaekit.data.shapes3d`): object
    shape, size class (scale 0-2, 3-4, 5-7) and the object, wall and floor colours by name."""

    name = "shapes3d"
    attribute_names = ("shape", "size", "object_color", "wall_color", "floor_color")
    attribute_values = (("cube", "cylinder", "sphere", "capsule"), ("small", "medium", "large"),
                        HUE_NAMES, HUE_NAMES, HUE_NAMES)
    scale_bins = ((0, 3), (3, 5), (5, 8))

    def dataset(self) -> GroundTruthDataset:
        from vaekit.data.shapes3d import ProceduralShapes3D

        return ProceduralShapes3D()

    def attributes_of(self, factors: np.ndarray) -> np.ndarray:
        # factors: floor_hue, wall_hue, object_hue, scale, shape, orientation
        factors = np.asarray(factors, dtype=np.int64).reshape(-1, 6)
        return np.stack([factors[:, 4], DSpritesCaptions._bin(factors[:, 3], self.scale_bins),
                         factors[:, 2], factors[:, 1], factors[:, 0]], axis=1)

    def factors_for(self, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        attributes = np.asarray(attributes, dtype=np.int64).reshape(-1, 5)
        n = len(attributes)
        lo = np.array([b[0] for b in self.scale_bins])[attributes[:, 1]]
        hi = np.array([b[1] for b in self.scale_bins])[attributes[:, 1]]
        scale = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
        return np.stack([attributes[:, 4], attributes[:, 3], attributes[:, 2], scale,
                         attributes[:, 0], rng.integers(0, 15, n)], axis=1)

    def caption(self, attributes: Sequence[int], rng: np.random.Generator) -> str:
        shape_i, size_i, obj, wall, floor = (int(a) for a in attributes)
        size = str(rng.choice(_S3_SIZES[self.attribute_values[1][size_i]]))
        template = _S3_TEMPLATES[int(rng.integers(len(_S3_TEMPLATES)))]
        return template.format(
            a=_article(size), size=size, color=HUE_NAMES[obj],
            shape=str(rng.choice(_S3_SHAPES[self.attribute_values[0][shape_i]])),
            a_wall=_article(HUE_NAMES[wall]), wall=HUE_NAMES[wall],
            a_floor=_article(HUE_NAMES[floor]), floor=HUE_NAMES[floor])

    def phrase_pool(self) -> Iterable[str]:
        for template in _S3_TEMPLATES:
            yield template.format(a="a an", size="", color="", shape="", a_wall="", wall="",
                                  a_floor="", floor="")
        for table in (_S3_SHAPES, _S3_SIZES):
            for synonyms in table.values():
                yield from synonyms
        yield from HUE_NAMES


# ---------------------------------------------------------------------- MNIST on a canvas
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_MN_TEMPLATES = (
    "the digit {d} is {pos}",
    "{a_digit} {pos}",
    "{pos} there is {a_digit}",
    "{a_digit}, {short}",
)


class MNISTCanvasCaptions(CaptionSet):
    """alignDRAW-style captions of real MNIST digits on a 64x64 canvas
    (:mod:`vaekit.apps.text_to_image.mnist_canvas`): the digit's class (as a numeral or a
    number word) and its horizontal / vertical position class (offsets 0-11, 12-24, 25-36)."""

    name = "mnist_canvas"
    attribute_names = ("digit", "horizontal", "vertical")
    attribute_values = (tuple(str(d) for d in range(10)), ("left", "center", "right"),
                        ("top", "middle", "bottom"))
    offset_bins = ((0, 12), (12, 25), (25, 37))

    def __init__(self, root: str | None = None, split: str = "train",
                 limit: int | None = None) -> None:
        self._options = {"root": root, "split": split, "limit": limit}
        self._dataset = None

    def dataset(self) -> GroundTruthDataset:
        if self._dataset is None:  # reads the MNIST files on first use
            from vaekit.apps.text_to_image.mnist_canvas import MNISTCanvas

            self._dataset = MNISTCanvas(**self._options)
        return self._dataset

    def attributes_of(self, factors: np.ndarray) -> np.ndarray:
        factors = np.asarray(factors, dtype=np.int64).reshape(-1, 3)
        labels = self.dataset().labels_of_images[factors[:, 0]]
        return np.stack([labels, DSpritesCaptions._bin(factors[:, 2], self.offset_bins),
                         DSpritesCaptions._bin(factors[:, 1], self.offset_bins)], axis=1)

    def factors_for(self, attributes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        attributes = np.asarray(attributes, dtype=np.int64).reshape(-1, 3)
        labels = self.dataset().labels_of_images
        by_digit = [np.flatnonzero(labels == d) for d in range(10)]
        index = np.array([rng.choice(by_digit[d]) for d in attributes[:, 0]], dtype=np.int64)
        lo = np.array([b[0] for b in self.offset_bins])
        hi = np.array([b[1] for b in self.offset_bins])

        def within(which: np.ndarray) -> np.ndarray:
            return lo[which] + (rng.random(len(which)) * (hi - lo)[which]).astype(np.int64)

        return np.stack([index, within(attributes[:, 2]), within(attributes[:, 1])], axis=1)

    def caption(self, attributes: Sequence[int], rng: np.random.Generator) -> str:
        digit, h_i, v_i = (int(a) for a in attributes)
        full, short = _position_phrases(self.attribute_values[2][v_i],
                                        self.attribute_values[1][h_i])
        d = str(digit) if rng.random() < 0.5 else _NUMBER_WORDS[digit]
        a_digit = str(rng.choice([f"the digit {digit}", f"a handwritten {d}",
                                  f"the number {_NUMBER_WORDS[digit]}"]))
        template = _MN_TEMPLATES[int(rng.integers(len(_MN_TEMPLATES)))]
        return template.format(d=d, a_digit=a_digit, pos=str(rng.choice(full)),
                               short=str(rng.choice(short)))

    def phrase_pool(self) -> Iterable[str]:
        for template in _MN_TEMPLATES:
            yield template.format(d="", a_digit="the digit a handwritten the number", pos="",
                                  short="")
        yield from _NUMBER_WORDS
        yield from (str(d) for d in range(10))
        for v in self.attribute_values[2]:
            for h in self.attribute_values[1]:
                full, short = _position_phrases(v, h)
                yield from full
                yield from short


CAPTION_SETS: dict[str, type[CaptionSet]] = {"dsprites": DSpritesCaptions,
                                             "shapes3d": Shapes3DCaptions,
                                             "mnist_canvas": MNISTCanvasCaptions}


def caption_set(name: str) -> CaptionSet:
    """The caption set called ``name`` (``dsprites``, ``shapes3d``, ``mnist_canvas``)."""
    if name not in CAPTION_SETS:
        raise ConfigError(f"unknown caption set '{name}'; known: {', '.join(sorted(CAPTION_SETS))}")
    return CAPTION_SETS[name]()


def holdout_combinations(captions: CaptionSet, count: int, seed: int = 0
                         ) -> list[tuple[int, ...]]:
    """``count`` attribute tuples (seeded) to keep out of training. Every attribute value
    keeps at least one training combination, so each held-out tuple is a new *combination* of
    values the model has seen (checked here)."""
    combos = captions.combinations()
    if not 0 <= count < len(combos):
        raise ConfigError(f"holdout count must be in 0..{len(combos) - 1}, got {count}")
    order = np.random.default_rng(seed).permutation(len(combos))
    held = sorted(combos[i] for i in order[:count])
    kept = set(combos) - set(held)
    for k, size in enumerate(captions.attribute_sizes):
        if {c[k] for c in kept} != set(range(size)):
            raise ConfigError(f"holding out {count} combinations leaves some value of "
                              f"'{captions.attribute_names[k]}' without training data; hold out "
                              "fewer")
    return held


SPLITS = ("train", "heldout", "all")


class CaptionedDataset(Dataset):
    """Images of a ground-truth dataset with one generated caption each (seeded).

    ``split``: ``train`` draws attribute tuples uniformly from the combinations that are not
    held out, ``heldout`` only from the held-out ones, ``all`` from every combination. Items
    are images; ``labels`` holds the caption token ids ``(N, max_tokens)``, so the vaekit
    trainer serves ``(images, token_ids)`` batches to models with ``uses_labels``. ``captions``,
    ``factors`` and ``attributes`` keep the text and the ground truth of every example.
    """

    def __init__(self, captions: CaptionSet | str = "dsprites", size: int = 50_000,
                 split: str = "train", holdout: int = 8, holdout_seed: int = 0, seed: int = 0,
                 max_tokens: int = 16) -> None:
        if isinstance(captions, str):
            captions = caption_set(captions)
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got '{split}'")
        if size < 1:
            raise ConfigError(f"size must be >= 1, got {size}")
        self.caption_set = captions
        self.heldout = holdout_combinations(captions, holdout, holdout_seed)
        if split == "heldout" and not self.heldout:
            raise ConfigError("split 'heldout' needs holdout >= 1")
        held = set(self.heldout)
        pool = {"train": [c for c in captions.combinations() if c not in held],
                "heldout": list(self.heldout), "all": captions.combinations()}[split]
        rng = np.random.default_rng(seed)
        self.attributes = np.asarray(pool)[rng.integers(0, len(pool), size)]
        self.factors = captions.factors_for(self.attributes, rng)
        self.captions = captions.captions(self.attributes, rng)
        self.tokenizer = captions.vocabulary(max_tokens)
        self.labels = self.tokenizer.encode_batch(self.captions)
        self.source = captions.dataset()

    @property
    def data_shape(self) -> tuple[int, ...]:
        return self.source.data_shape

    def __len__(self) -> int:
        return len(self.factors)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.source.render(self.factors[index][None])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        return list(self.source.render(self.factors[np.asarray(indices)]).unbind(0))
