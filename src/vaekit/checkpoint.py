"""Pretrained-model files: ``config.json`` + ``model.safetensors``. Loading never unpickles.

Both files are written atomically (temporary file, fsync, ``os.replace``), so a crash during a
save leaves the previous files intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vaekit import __version__
from vaekit.config import to_dict
from vaekit.errors import CheckpointError, ConfigError, RegistryError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "vaekit-pretrained"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # what open() would give a new file


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then move the finished file onto ``path`` in one step.

    The temporary file sits beside ``path`` (``.NAME.XXXX.tmp``), is fsynced before the rename
    and removed if ``write`` fails; only a hard kill mid-write can leave one behind (see
    :func:`remove_stale_temp_files`), never a partial ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes it private (0600); give it a new file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temp_files(directory: Path, name: str) -> list[Path]:
    """Delete the temporary files that a process killed inside :func:`atomic_write` of
    ``directory/name`` left behind; returns them. Call only while no other process writes
    there."""
    stale = sorted(Path(directory).glob(f".{name}.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_pretrained(model: torch.nn.Module, directory: str | Path) -> Path:
    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "library": "vaekit",
        "library_version": __version__,
        "torch_version": torch.__version__,
        "model_type": model.config.config_type,
        "config": to_dict(model.config),
    }
    atomic_write(directory / WEIGHTS_NAME,
                 lambda tmp: save_file(state, tmp, metadata={"format": FORMAT}))
    atomic_write(directory / CONFIG_NAME,
                 lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2) + "\n"))
    return directory


def read_config(directory: str | Path) -> dict:
    """The parsed ``config.json`` of a pretrained directory, checked to be vaekit's."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory not found: '{directory}'")
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(
            f"'{directory}' has no {CONFIG_NAME}: it is not a vaekit checkpoint directory "
            "(save one with model.save_pretrained(dir) or vaekit train)"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"'{path}' is corrupt (not valid JSON: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"'{path}' is not a vaekit checkpoint config (no \"format\": \"{FORMAT}\")"
        )
    return meta


def load_pretrained(directory: str | Path, map_location: str = "cpu") -> torch.nn.Module:
    from vaekit.models.base import build_model

    directory = Path(directory)
    meta = read_config(directory)
    config = meta.get("config")
    if not isinstance(config, dict) or not isinstance(meta.get("model_type"), str):
        raise CheckpointError(f"'{directory / CONFIG_NAME}' is corrupt: it needs a \"model_type\" "
                              "string and a \"config\" mapping")
    try:
        model = build_model({"type": meta["model_type"], **_strip_type(config)})
    except (ConfigError, RegistryError, KeyError) as err:
        raise CheckpointError(f"'{directory}': cannot rebuild the model: {err}") from None
    except Exception as err:  # noqa: BLE001 - the stored config is untrusted input
        # Values that pass the config checks can still fail inside a network's constructor
        # (a negative width, a string where a list of sizes belongs, a size too big to allocate).
        raise CheckpointError(f"'{directory}': cannot rebuild the model from its config: "
                              f"{type(err).__name__}: {_one_line(err)}") from None
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"'{directory}' has no {WEIGHTS_NAME}")
    try:
        state = load_file(weights, device=map_location)
    except (SafetensorError, OSError, ValueError, OverflowError, MemoryError) as err:
        raise CheckpointError(f"'{weights}' is corrupt or not a safetensors file: "
                              f"{_one_line(err)}") from None
    missing, unexpected = _diff_keys(model.state_dict(), state)
    if missing or unexpected:
        raise CheckpointError(
            f"'{weights}' does not match a {meta.get('model_type')} model with this config: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    expected = model.state_dict()
    for name, tensor in state.items():
        if tensor.is_floating_point() != expected[name].is_floating_point():
            raise CheckpointError(f"'{weights}': tensor '{name}' is {tensor.dtype}, the model "
                                  f"holds {expected[name].dtype} there")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            # A vaekit run never saves these (a NaN loss stops training); loading them would
            # silently turn every output into NaN.
            raise CheckpointError(f"'{weights}': tensor '{name}' holds NaN or Inf values")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"'{weights}' has tensors of the wrong shape: "
                              f"{_one_line(err)}") from None
    return model.eval()


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _strip_type(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "type"}


def _diff_keys(expected: dict, found: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
