"""A folder of image files (any format Pillow reads) as a dataset.

All images below ``root`` (recursively, sorted by path) are loaded once into one uint8 array
``(N, C, H, W)``. Rules, so that a folder never silently turns into a wrong dataset:

- sizes: without ``image_size`` every image must have the size of the first one, otherwise a
  :class:`DataError` names the first file that differs and the fix (``image_size``). With
  ``image_size`` each image is centre-cropped to the target's aspect ratio and resized: to
  ``N x N`` for ``image_size=N``, to ``H x W`` (non-square) for ``image_size=[H, W]``;
- channels: ``channels=1`` converts to grayscale, ``channels=3`` to RGB (alpha is dropped:
  composited on black; 16-bit images are scaled to 8 bits). With ``channels=None`` all images
  must be grayscale or all colour;
- unreadable files (corrupt, or not images although their extension says so) are skipped, with
  one ``warnings.warn`` that names them; a folder with no readable image is a :class:`DataError`;
- labels: when every image lies in a sub-folder of ``root``, the sorted first-level sub-folder
  names are the classes (``dataset.classes``) and ``dataset.labels`` their indices.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from vaekit.data.base import ArrayImageDataset, is_count
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm", ".pbm")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
_MAX_LISTED = 5


def list_images(root: Path) -> list[Path]:
    """Image files below ``root`` by extension (case-insensitive), sorted, hidden files out."""
    return sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _natural_channels(image: Image.Image) -> int:
    if image.mode == "P":  # palette: grayscale only if the palette is
        image = image.convert("RGB")
        r, g, b = image.split()
        return 1 if r.tobytes() == g.tobytes() == b.tobytes() else 3
    return 1 if image.mode in _GRAY_MODES else 3


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on black so transparent areas are background, not undefined colour.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit / 32-bit / float images: rescale to 8 bits instead of letting convert() clip.
        array = np.asarray(image, dtype=np.float64)
        if image.mode != "F" and array.min() >= 0 and array.max() <= 65535:
            array = array / 257.0  # 16-bit range onto 0..255
        else:  # unknown range: stretch this image's own min..max
            span = array.max() - array.min()
            array = (array - array.min()) / span * 255 if span > 0 else np.zeros_like(array)
        image = Image.fromarray(array.round().astype(np.uint8))
    return image.convert("L" if channels == 1 else "RGB")


def _fit(image: Image.Image, height: int, width: int) -> Image.Image:
    # Centre crop to the target's aspect ratio first: resizing straight would distort.
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS)


def _target_size(image_size: object) -> tuple[int, int] | None:
    """``(height, width)`` from ``image_size`` = N or [H, W]; a DataError for anything else."""
    if image_size is None:
        return None
    sizes = list(image_size) if isinstance(image_size, (list, tuple)) else [image_size, image_size]
    if len(sizes) != 2 or not all(is_count(s) for s in sizes):
        raise DataError(f"image_folder: image_size must be a positive integer N or a pair "
                        f"[H, W] of them, got {image_size!r}")
    return int(sizes[0]), int(sizes[1])


@DATASETS.register("image_folder")
def image_folder(root: str | None = None, image_size: int | list[int] | None = None,
                 channels: int | None = None, limit: int | None = None) -> ArrayImageDataset:
    """Every image below ``root`` as uint8 ``(N, C, H, W)``; see the module docstring.

    ``root`` defaults to ``$VAEKIT_DATA/image_folder``. ``image_size``: centre-crop and resize to
    N x N (an integer) or H x W (a pair ``[H, W]``); default: keep sizes, which must then all be
    equal. ``channels``: 1 or 3
    to convert, None to require all images alike. ``limit``: load only the first N files.
    """
    target = _target_size(image_size)
    if channels not in (None, 1, 3):
        raise DataError(f"image_folder: channels must be 1, 3 or None, got {channels!r}")
    if limit is not None and not is_count(limit):
        raise DataError(f"image_folder: limit must be a positive integer, got {limit!r}")
    folder = dataset_dir("image_folder", root)
    paths = list_images(folder)
    if not paths:
        raise DataError(f"image_folder: no image files in '{folder}' (searched recursively for "
                        f"{', '.join(IMAGE_EXTENSIONS)})")
    paths = paths[:limit]

    arrays: list[np.ndarray] = []
    kept: list[Path] = []
    skipped: list[str] = []
    first: tuple[Path, tuple[int, int], int] | None = None  # file, size, channels
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                image = ImageOps.exif_transpose(image)  # camera photos: apply the rotation tag
                natural = _natural_channels(image)
                converted = _to_mode(image, channels or natural)
        except Exception as err:  # noqa: BLE001
            # Pillow signals a corrupt file with UnidentifiedImageError, OSError, ValueError,
            # SyntaxError (bad PNG chunks) and, for some damage, others: DecompressionBombError
            # for a header that claims billions of pixels, struct.error, IndexError, ...
            skipped.append(f"{path.relative_to(folder)} ({type(err).__name__}: {err})")
            continue
        if target is not None:
            converted = _fit(converted, *target)
        if first is None:
            first = (path, converted.size, natural)
        elif channels is None and natural != first[2]:
            raise DataError(
                f"image_folder: '{path}' is {'grayscale' if natural == 1 else 'colour'} but "
                f"'{first[0]}' is {'grayscale' if first[2] == 1 else 'colour'}; pass channels=1 "
                "or channels=3 (--data.options.channels=...) to convert all images"
            )
        elif converted.size != first[1]:
            raise DataError(
                f"image_folder: '{path}' is {converted.size[0]}x{converted.size[1]} but "
                f"'{first[0]}' is {first[1][0]}x{first[1][1]}; pass image_size=N "
                "(--data.options.image_size=N) to crop and resize every image to NxN, or "
                "image_size=[H, W] for H x W"
            )
        array = np.asarray(converted, dtype=np.uint8)
        arrays.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
        kept.append(path)
    if skipped:
        listed = "; ".join(skipped[:_MAX_LISTED])
        more = f" and {len(skipped) - _MAX_LISTED} more" if len(skipped) > _MAX_LISTED else ""
        warnings.warn(f"image_folder: skipped {len(skipped)} unreadable file(s) in '{folder}': "
                      f"{listed}{more}", stacklevel=2)
    if not arrays:
        raise DataError(f"image_folder: none of the {len(paths)} image files in '{folder}' could "
                        "be read")
    labels, classes = _folder_labels(folder, kept)
    dataset = ArrayImageDataset(np.stack(arrays), labels, name=f"image_folder:{folder.name}")
    dataset.classes = classes  # type: ignore[attr-defined]
    dataset.files = kept  # type: ignore[attr-defined]
    return dataset


def _folder_labels(root: Path, paths: list[Path]) -> tuple[np.ndarray | None, list[str]]:
    """Class index = first-level sub-folder, when every image is inside one."""
    tops = [p.relative_to(root).parts for p in paths]
    if any(len(parts) < 2 for parts in tops):
        return None, []
    classes = sorted({parts[0] for parts in tops})
    index = {name: i for i, name in enumerate(classes)}
    return np.array([index[parts[0]] for parts in tops], dtype=np.int64), classes
