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
        return repair_epoch_progress(load_training_checkpoint(path, map_location))


def repair_epoch_progress(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Undo a Lightning (2.6) miscount, so that every resume restores the loop state of an
    uninterrupted run.

    Resumed from a checkpoint taken after the last batch of an epoch, Lightning finishes that
    epoch but starts the next one without counting it as ready/started; the checkpoints of the
    continued run then hold an epoch count one short, and resuming from one of those shifts the
    validation schedule and the logged step by one (the weights are unaffected: the batches
    follow vaekit's own step counter). An uninterrupted run's counters satisfy
    ``ready == started == processed + 1`` inside a training batch's hooks (the batch counter has
    ``completed == ready - 1``) and ``ready == started == processed`` once the loop has ended;
    a checkpoint exactly one short of that is set right here.
    """
    try:
        loop = checkpoint["loops"]["fit_loop"]
        epochs = loop["epoch_progress"]
        batches = loop["epoch_loop.batch_progress"]["total"]
        total = epochs["total"]
        inside_batch = batches["completed"] == batches["ready"] - 1
        expected = total["processed"] + (1 if inside_batch else 0)
        if total["ready"] == total["started"] == expected - 1:
            for counters in (total, epochs["current"]):
                counters["ready"] += 1
                counters["started"] += 1
    except (KeyError, TypeError):
        pass  # not a Lightning fit checkpoint of this layout: leave it to Lightning
    return checkpoint


def load_training_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"training checkpoint not found: '{path}'")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read it means corrupt or foreign
        # (torch raises UnpicklingError, RuntimeError, EOFError, ... depending on the damage)
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"'{path}' is not a readable vaekit training checkpoint (corrupt, truncated or "
            f"foreign): {first_line}"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        # A readable torch file of something else (a bare state dict, a tensor, a list, ...).
        raise CheckpointError(
            f"'{path}' is not a vaekit training checkpoint (corrupt, truncated or foreign): it "
            f"holds a {type(checkpoint).__name__} without a 'state_dict' entry"
        )
    return checkpoint
