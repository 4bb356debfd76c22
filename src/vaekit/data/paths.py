"""Where datasets live on disk.

One setting finds every dataset: the ``VAEKIT_DATA`` environment variable, defaulting to
``../shared/data`` relative to the current directory (the layout of this project's machines).
A loader given an explicit ``root`` uses that instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from vaekit.errors import DataError

DATA_ENV = "VAEKIT_DATA"
DEFAULT_DATA_DIR = "../shared/data"


def data_root() -> Path:
    """The directory that holds one sub-folder per dataset.

    ``$VAEKIT_DATA`` if set; else ``../shared/data`` from the current directory, or, when that
    does not exist, from the source checkout (so tests work from any directory).
    """
    if DATA_ENV in os.environ:
        return Path(os.environ[DATA_ENV]).expanduser()
    default = Path(DEFAULT_DATA_DIR)
    if default.is_dir():
        return default
    checkout = Path(__file__).resolve().parents[3]  # src/vaekit/data/paths.py -> checkout
    beside_checkout = checkout / DEFAULT_DATA_DIR
    return beside_checkout if beside_checkout.is_dir() else default


def dataset_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of dataset ``name``: ``root`` if given, else ``data_root()/name``.

    Raises :class:`DataError` naming the path and the setting to change when it does not exist.
    """
    path = Path(root).expanduser() if root is not None else data_root() / name
    if not path.is_dir():
        raise DataError(
            f"dataset folder not found: '{path}'. Pass root=... (--data.root on the CLI) or set "
            f"{DATA_ENV} to the folder that contains '{name}/'."
        )
    return path


def require_file(path: Path, hint: str = "") -> Path:
    if not path.is_file():
        raise DataError(f"data file not found: '{path}'. {hint}".strip())
    return path
