"""The small real caption set in ``$VAEKIT_DATA/sample_images`` (``captions.json``).

21 photographs bundled with scikit-image, scikit-learn and matplotlib, 29 human-written
captions between them (each with its source). Far too few to learn text-to-image from; vaekit
uses them for a qualitative demo of the whole path on real language (a text_cvae fitted to
these pairs: does each caption bring back its picture?) and to check that real captions, with
words no synthetic caption uses, tokenize without errors (unknown words -> ``<unk>``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from vaekit.errors import DataError

CAPTIONS_FILE = "captions.json"


def load_caption_pairs(root: str | Path | None = None, size: int = 64
                       ) -> tuple[torch.Tensor, list[str], list[str]]:
    """(grey images ``(N, 1, size, size)`` in [0, 1], captions, file names), one row per
    caption (an image with two captions appears twice); images are centre-cropped to a
    square and resized."""
    from PIL import Image

    from vaekit.data.paths import dataset_dir

    folder = dataset_dir("sample_images", root)
    path = folder / CAPTIONS_FILE
    if not path.is_file():
        raise DataError(f"'{path}' not found: the real caption set is missing")
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"'{path}' is not valid JSON: {err}") from None
    images, texts, files = [], [], []
    for entry in entries:
        image_path = folder / entry["file"]
        if not image_path.is_file():
            raise DataError(f"'{image_path}' named in {CAPTIONS_FILE} not found")
        picture = Image.open(image_path).convert("L")
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side)).resize((size, size),
                                                                             Image.BILINEAR)
        array = torch.as_tensor(np.asarray(picture, dtype=np.float32) / 255.0)[None]
        for caption in entry["captions"]:
            images.append(array)
            texts.append(str(caption["text"]))
            files.append(str(entry["file"]))
    if not images:
        raise DataError(f"'{path}' holds no captions")
    return torch.stack(images), texts, files
