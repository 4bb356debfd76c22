"""Lightning checkpoint I/O that writes atomically and loads without arbitrary unpickling.

Lightning's resume checkpoints hold optimiser and loop state, which are not plain tensors, so they
are stored with ``torch.save``. We write them to a temporary file, fsync and ``os.replace`` it
onto the final name (a kill mid-write leaves the previous checkpoint intact), and always load
with ``weights_only=True``, torch's restricted unpickler that only rebuilds tensors and
primitive containers. The exported model itself is safetensors (see ``vaekit.checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from vaekit.checkpoint import atomic_write
from vaekit.errors import CheckpointError


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        atomic_write(Path(path), lambda tmp: torch.save(checkpoint, tmp))

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only=None
                        ) -> dict[str, Any]:
        return load_training_checkpoint(path, map_location)


def load_training_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training checkpoint not found: '{path}'")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read it means corrupt or foreign
        # (torch raises UnpicklingError, RuntimeError, EOFError, ... depending on the damage)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"'{path}' is not a readable vaekit training checkpoint (corrupt, truncated or "
            f"foreign): {first_line}"
        ) from None
