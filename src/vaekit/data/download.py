"""Downloading the public datasets, with checksum verification. Never called implicitly.

Nothing in vaekit downloads on its own: loaders read local folders (``VAEKIT_DATA``) and say
where a missing file belongs. These functions fetch the official files into a folder for users
who have none; every file is checked against the published MD5 before it is kept.

MNIST copies are often re-gzipped (so the ``.gz`` checksum changes) while the content is the
same; :func:`verify_files` therefore also accepts the MD5 of the decompressed content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vaekit.errors import DataError

_BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """A file of a dataset release: its name, MD5 as published, MD5 of its gunzipped content."""

    name: str
    md5: str | None = None
    content_md5: str | None = None


# MNIST: LeCun's page (yann.lecun.com/exdb/mnist) and the mirror torchvision uses.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
               "6bbc9ace898e44ae57da46a324031adb"),
    RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
               "a25bea736e30d166cdddb491f175f624"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
               "2646ac647ad5339dbf082846283269ea"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
               "27ae3e4e09519cfbb04c329615203637"),
)
# Fashion-MNIST: the URLs and MD5s of github.com/zalandoresearch/fashion-mnist's README.
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
               "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
               "9018921c3c673c538a1fc5bad174d6f9"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
               "8181f5470baa50b63fa0f6fddb340f0a"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
               "15d484375f8d13e6eb1aabb0c3f46965"),
)
# dSprites: the file of github.com/deepmind/dsprites-dataset (26 MB).
DSPRITES_MIRRORS = ("https://github.com/deepmind/dsprites-dataset/raw/master/",)
DSPRITES_FILES = (
    RemoteFile("dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
               "7da33b31b13a06f4b04a70402ce90c2e"),
)
# Binarized MNIST (Larochelle & Murray 2011): no checksum was ever published, so the downloaded
# files are checked by parsing them instead.
BINARIZED_MNIST_MIRRORS = (
    "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
)


def file_digest(path: str | os.PathLike, algorithm: str = "md5", *,
                decompress: bool = False) -> str:
    """Hex digest of a file (of its gunzipped content when ``decompress``)."""
    digest = hashlib.new(algorithm)
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as stream:
            for block in iter(lambda: stream.read(_BLOCK), b""):
                digest.update(block)
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read '{path}' to check it: {err}") from err
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, *, md5: str | None = None,
                sha256: str | None = None, content_md5: str | None = None) -> str:
    """Check ``path`` against the given checksums; return which one matched.

    The file passes when its MD5 or SHA-256 matches, or, for a gzip file, when the MD5 of its
    decompressed content does (re-compressed copies). Raises :class:`DataError` otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: '{path}'")
    if md5 is None and sha256 is None and content_md5 is None:
        raise DataError(f"no checksum given to verify '{path}'")
    found = {}
    if md5 is not None:
        found["md5"] = file_digest(path, "md5")
        if found["md5"] == md5.lower():
            return "md5"
    if sha256 is not None:
        found["sha256"] = file_digest(path, "sha256")
        if found["sha256"] == sha256.lower():
            return "sha256"
    if content_md5 is not None and _is_gzip(path):
        found["content md5"] = file_digest(path, "md5", decompress=True)
        if found["content md5"] == content_md5.lower():
            return "content md5"
    expected = {"md5": md5, "sha256": sha256, "content md5": content_md5}
    details = "; ".join(f"{k} {v} (expected {expected[k]})" for k, v in found.items())
    raise DataError(f"checksum mismatch for '{path}': {details}. The file is corrupt, truncated "
                    "or another version: delete it and download it again.")


def verify_files(folder: str | os.PathLike, files: tuple[RemoteFile, ...]) -> list[str]:
    """Verify every file of ``files`` present in ``folder`` (as ``name`` or without ``.gz``).

    Returns the names verified; files that are absent are skipped, a mismatch raises.
    """
    folder = Path(folder)
    verified = []
    for remote in files:
        path = folder / remote.name
        if path.is_file():
            verify_file(path, md5=remote.md5, content_md5=remote.content_md5)
            verified.append(remote.name)
        elif remote.name.endswith(".gz") and (folder / remote.name[:-3]).is_file():
            if remote.content_md5 is not None:  # an uncompressed copy: its MD5 is the content's
                verify_file(folder / remote.name[:-3], md5=remote.content_md5)
                verified.append(remote.name[:-3])
    return verified


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def download_file(url: str, dest: str | os.PathLike, *, md5: str | None = None,
                  sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically; with a checksum, keep it only if it matches."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, _BLOCK)
        if md5 is not None or sha256 is not None:
            verify_file(tmp, md5=md5, sha256=sha256)
        tmp.replace(dest)
    except OSError as err:  # URLError and HTTPError are OSErrors
        raise DataError(f"download of {url} failed: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _download_release(dest: str | os.PathLike, mirrors: tuple[str, ...],
                      files: tuple[RemoteFile, ...]) -> Path:
    dest = Path(dest).expanduser()
    for remote in files:
        target = dest / remote.name
        if target.is_file():
            verify_file(target, md5=remote.md5, content_md5=remote.content_md5)
            continue
        errors = []
        for mirror in mirrors:
            try:
                download_file(mirror + remote.name, target, md5=remote.md5)
                break
            except DataError as err:
                errors.append(str(err))
        else:
            raise DataError(f"could not download {remote.name}: " + " | ".join(errors))
    return dest


def download_mnist(dest: str | os.PathLike, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> Path:
    """Fetch the four MNIST files into ``dest`` (e.g. ``$VAEKIT_DATA/mnist``), MD5-checked."""
    return _download_release(dest, mirrors, MNIST_FILES)


def download_fashion_mnist(dest: str | os.PathLike,
                           mirrors: tuple[str, ...] = FASHION_MNIST_MIRRORS) -> Path:
    """Fetch the four Fashion-MNIST files into ``dest``, MD5-checked."""
    return _download_release(dest, mirrors, FASHION_MNIST_FILES)


def download_dsprites(dest: str | os.PathLike,
                      mirrors: tuple[str, ...] = DSPRITES_MIRRORS) -> Path:
    """Fetch the dSprites npz into ``dest``, MD5-checked; returns the file's path.

    Not needed for training (``DSprites`` renders the same images); read it with
    ``DSprites.from_npz(path)``.
    """
    return _download_release(dest, mirrors, DSPRITES_FILES) / DSPRITES_FILES[0].name


def download_binarized_mnist(dest: str | os.PathLike,
                             mirrors: tuple[str, ...] = BINARIZED_MNIST_MIRRORS) -> Path:
    """Fetch Larochelle's ``binarized_mnist_{train,valid,test}.amat`` into ``dest``.

    No checksum exists for them; each file is parsed after download (784 0/1 values per line,
    50,000 / 10,000 / 10,000 lines) and deleted if it does not parse.
    """
    from vaekit.data.binarized_mnist import SPLIT_SIZES, read_amat

    dest = Path(dest).expanduser()
    for split, size in SPLIT_SIZES.items():
        target = dest / f"binarized_mnist_{split}.amat"
        if not target.is_file():
            errors = []
            for mirror in mirrors:
                try:
                    download_file(mirror + target.name, target)
                    break
                except DataError as err:
                    errors.append(str(err))
            else:
                raise DataError(f"could not download {target.name}: " + " | ".join(errors))
        try:
            rows = len(read_amat(target))
        except DataError:
            target.unlink()
            raise
        if rows != size:
            target.unlink()
            raise DataError(f"{target.name}: {rows} rows, expected {size}; deleted it")
    return dest
