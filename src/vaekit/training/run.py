"""``train(config)``: build data and model, fit with Lightning, export the model.

A run directory holds everything about one run::

    run_dir/config.yaml          the full experiment config (reload with load_experiment)
    run_dir/run.json             versions, seed, git commit, command line, timings, status
                                 (written when training starts: running, then finished,
                                 interrupted or failed)
    run_dir/checkpoints/last.ckpt  Lightning state for resuming (atomic writes, safe loading)
                                   written every train.checkpoint_every steps, at the end, and
                                   when Ctrl-C stops the run (between two steps, so it resumes
                                   exactly; see TrainingInterrupted)
    run_dir/logs/metrics.csv     CSV metrics of the whole run (logs/csv/part-N per segment)
    run_dir/logs/tensorboard/    TensorBoard events
    run_dir/model/               the trained model: config.json + model.safetensors
"""

from __future__ import annotations

import csv
import json
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from vaekit import __version__
from vaekit.checkpoint import CONFIG_NAME, WEIGHTS_NAME, atomic_write, remove_stale_temp_files
from vaekit.config import save_file
from vaekit.errors import CheckpointError, ConfigError, ShapeError
from vaekit.models.base import BaseVAE, build_model
from vaekit.training.checkpoint_io import AtomicCheckpointIO, load_training_checkpoint
from vaekit.training.config import ExperimentConfig, TrainConfig
from vaekit.training.data import (
    LabelledDataset,
    ResumableBatchSampler,
    ResumableLoader,
    data_shape_of,
    make_loader,
    train_val_datasets,
)
from vaekit.training.module import VAEModule

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
INTERRUPTED_CHECKPOINT = "interrupted.ckpt"  # written on exceptions by vaekit <= 0.1.0; still read
MODEL_DIR = "model"
LOG_DIR = "logs"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped training. ``str(err)`` is a one-line summary that says where the
    run stopped and how to resume it; ``steps`` is the number of training batches done and
    ``checkpoint`` the file holding them (None when a second Ctrl-C aborted without saving)."""

    def __init__(self, message: str, steps: int, checkpoint: Path | None) -> None:
        super().__init__(message)
        self.steps = steps
        self.checkpoint = checkpoint


class _StopOnInterrupt(Callback):
    """Turn the first Ctrl-C during training into a clean stop between two training steps.

    Lightning's own handling of a KeyboardInterrupt raised inside a step ends the process with
    ``sys.exit(1)``, and a checkpoint taken at that moment can hold a half-applied update. Here
    the signal only sets a flag; the current step finishes, the loop stops the way it does at
    ``max_steps`` and :func:`train` saves ``last.ckpt``, which therefore resumes exactly. A second
    Ctrl-C raises KeyboardInterrupt at once (the last checkpoint written before is kept).
    Installed only in the main thread, in a single process, when SIGINT has Python's default
    handler (a handler of the caller's own, or an ignored SIGINT, is left alone).
    """

    def __init__(self) -> None:
        self.requests = 0
        self.enabled = True  # train() turns it off for several processes
        self._previous: Any = None

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            # Remembered in any case: Lightning ignores SIGINT after a KeyboardInterrupt, and
            # the caller's handler must be back when train() returns or raises.
            self._previous = signal.getsignal(signal.SIGINT)
            if self.enabled and self._previous is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.requests += 1
        if self.requests > 1:
            raise KeyboardInterrupt

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.requests:
            trainer.should_stop = True


class _FlushLogsWithCheckpoints(Callback):
    """Write buffered log rows when a checkpoint is saved (the CSV logger otherwise keeps up to
    100 steps in memory), so that a run killed outright and resumed has no gap in its metrics
    between its last flush and the checkpoint it resumed from. The row of the checkpoint's own
    step reaches the logger just after the checkpoint is taken, so rows are written again at
    the next epoch end or batch start (a kill in the few milliseconds between can lose that one
    row; the weights are unaffected)."""

    def __init__(self) -> None:
        self._pending = False

    def on_save_checkpoint(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        self._flush(trainer)
        self._pending = True

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if self._pending:
            self._flush(trainer)
            self._pending = False

    on_train_epoch_end = on_train_batch_start  # checkpoints often fall on an epoch's last batch

    @staticmethod
    def _flush(trainer: L.Trainer) -> None:
        for logger in trainer.loggers:
            logger.save()


@dataclass
class TrainResult:
    run_dir: Path
    model: BaseVAE
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0


def resume_checkpoint(run_dir: Path) -> Path | None:
    """The newest resumable checkpoint of a run (last or interrupted), or None."""
    folder = run_dir / CHECKPOINT_DIR
    candidates = [p for p in (folder / LAST_CHECKPOINT, folder / INTERRUPTED_CHECKPOINT)
                  if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def run_metadata(config: ExperimentConfig) -> dict[str, Any]:
    return {
        "vaekit_version": __version__,
        "torch_version": torch.__version__,
        "lightning_version": L.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "seed": config.train.seed,
        "git_commit": _git_commit(),
        "command": sys.argv,
        "threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _write_run_json(run_dir: Path, meta: dict[str, Any]) -> None:
    text = json.dumps(meta, indent=2, default=str) + "\n"
    atomic_write(run_dir / "run.json", lambda tmp: Path(tmp).write_text(text))


def _check_resumable(path: Path, module: VAEModule) -> None:
    """Refuse a checkpoint that the configured model cannot take, before the run directory is
    touched (a resume with other model settings would otherwise fail deep inside Lightning)."""
    state = load_training_checkpoint(path)["state_dict"]
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if isinstance(state.get(k), torch.Tensor) and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        found = [f"{label} {items[:3]}" for label, items in
                 (("missing", missing), ("unexpected", unexpected),
                  ("shapes (checkpoint vs config)", wrong)) if items]
        raise CheckpointError(
            f"'{path}' holds a different model than the config describes ({'; '.join(found)}); "
            "resume with the run's own config.yaml (no --model.* overrides) or start a new "
            "run_dir"
        )


def _csv_parts(run_dir: Path) -> list[Path]:
    parts = (run_dir / LOG_DIR / "csv").glob("part-*/metrics.csv")
    return sorted(parts, key=lambda p: int(p.parent.name.split("-")[1]))


def merge_csv_logs(run_dir: Path) -> Path | None:
    """Join the CSV logs of every segment of a run (first run, then each resume) into
    ``logs/metrics.csv``, so a resumed run's curve continues the original one."""
    rows: list[dict[str, str]] = []
    columns: list[str] = []
    for part in _csv_parts(run_dir):
        with part.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns += [c for c in reader.fieldnames or [] if c not in columns]
            part_rows = list(reader)
        steps = [s for s in map(_row_step, part_rows) if s is not None]
        if steps:
            # A segment that was killed logged steps after its last checkpoint; the next
            # segment redid them from the checkpoint, so its rows replace those.
            rows = [r for r in rows if (_row_step(r) or 0) < min(steps)]
        rows += part_rows
    if not rows:
        return None
    out = run_dir / LOG_DIR / "metrics.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return out


def _row_step(row: dict[str, str]) -> int | None:
    try:
        return int(float(row.get("step") or ""))
    except ValueError:
        return None


def _loggers(train: TrainConfig, run_dir: Path) -> list:
    from lightning.pytorch import loggers

    # Lightning's CSV logger rewrites its file on restart, so each segment of a run (first
    # run, then each resume) logs to its own part; merge_csv_logs joins them.
    part = f"part-{len(_csv_parts(run_dir))}"
    makers = {
        "csv": lambda: loggers.CSVLogger(run_dir / LOG_DIR, name="csv", version=part),
        "tensorboard": lambda: loggers.TensorBoardLogger(run_dir / LOG_DIR, name="tensorboard",
                                                         version=""),
        "mlflow": lambda: loggers.MLFlowLogger(save_dir=str(run_dir / "mlruns")),
        "wandb": lambda: loggers.WandbLogger(save_dir=str(run_dir)),
    }
    built = []
    for name in train.loggers:
        try:
            built.append(makers[name]())
        except ModuleNotFoundError:  # MLflow and W&B are optional, imported only when asked for
            raise ConfigError(f"train.loggers: '{name}' needs its package; pip install {name}, "
                              "or drop it from train.loggers (csv and tensorboard need nothing)"
                              ) from None
    return built


def prepare_model(config: ExperimentConfig, data_shape: tuple[int, ...],
                  dataset_size: int | None = None) -> BaseVAE:
    """Build the model, taking ``data_shape`` (and ``dataset_size``, for models whose
    estimators need it, e.g. beta-TCVAE) from the data when the config leaves them empty."""
    if dataset_size is not None and getattr(config.model, "dataset_size", 0) is None:
        config.model.dataset_size = dataset_size
    if config.model.data_shape is None:
        config.model.data_shape = data_shape
    elif tuple(config.model.data_shape) != tuple(data_shape):
        raise ShapeError(
            f"model.data_shape {tuple(config.model.data_shape)} does not match dataset "
            f"'{config.data.name}', whose examples are {tuple(data_shape)}; remove "
            "model.data_shape or pick data of that shape"
        )
    return build_model(config.model)


# Lightning advice that does not apply to this engine (we checkpoint after optimiser steps on
# purpose, and the loaders are resumable); kept out of users' terminals.
_QUIET = (
    r".*pre-optimization state was saved.*",
    r".*isinstance\(treespec, LeafSpec\).*",
    r".*does not have many workers.*",
    r".*Experiment logs directory .* exists and is not empty.*",
    r".*was called without a model.*",
    r".*smaller than the logging interval.*",
    r".*there is no last checkpoint available.*",
)


def _strategy(name: str, n_groups: int) -> str:
    """Plain DDP refuses a step in which some parameters get no gradient; with several optimiser
    groups every group's backward leaves the others' parameters unused, so let DDP look for
    them (the only extra cost is a graph traversal per backward)."""
    if n_groups > 1 and name == "ddp":
        return "ddp_find_unused_parameters_true"
    return name


def speed_up(model: BaseVAE, cfg: TrainConfig) -> None:
    """Apply ``train.channels_last`` and ``train.compile`` to the model in place.

    ``nn.Module.compile`` compiles each network in place, so parameter names, checkpoints and
    exported models stay the same; with dynamo's ``suppress_errors`` a network that cannot be
    compiled (no C++ compiler, an unsupported operation) runs eagerly instead of failing.
    """
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)  # only 4-D weights change layout
    if cfg.compile:
        import torch._dynamo as dynamo

        dynamo.config.suppress_errors = True
        for child in model.children():
            if any(True for _ in child.parameters()):
                child.compile()


def train(config: ExperimentConfig, *, resume: bool = False, overwrite: bool = False,
          callbacks: list | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data``; see the module docstring for the outputs."""
    for pattern in _QUIET:
        warnings.filterwarnings("ignore", message=pattern)
    cfg = config.train
    run_dir = Path(config.run_dir)
    ckpt_path = resume_checkpoint(run_dir) if resume else None
    if resume and ckpt_path is None:
        raise ConfigError(f"--resume: no checkpoint in '{run_dir / CHECKPOINT_DIR}'")
    if not resume and not overwrite and resume_checkpoint(run_dir) is not None:
        raise ConfigError(
            f"run directory '{run_dir}' already holds a run; resume it (--resume), choose "
            "another run_dir, or pass --overwrite to start over"
        )
    if overwrite and not resume:
        for name in (CHECKPOINT_DIR, LOG_DIR, MODEL_DIR):
            shutil.rmtree(run_dir / name, ignore_errors=True)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    train_set, val_set = train_val_datasets(config.data, cfg.seed)
    model = prepare_model(config, data_shape_of(train_set), len(train_set))
    if model.uses_labels:  # semi-supervised / conditional models train on (x, y) batches
        train_set = LabelledDataset(train_set, config.data.num_labelled, cfg.seed)
        val_set = None if val_set is None else LabelledDataset(val_set)
    speed_up(model, cfg)
    module = VAEModule(model, cfg)
    n_groups = len(module.group_names)
    if ckpt_path is not None:
        _check_resumable(ckpt_path, module)

    ckpt_dir = run_dir / CHECKPOINT_DIR
    run_dir.mkdir(parents=True, exist_ok=True)
    # Temporary files of a process killed while writing a checkpoint or the model (the files
    # themselves are intact). Only the global-zero process writes these, and only once every
    # process of the run has started, so this cannot race with a write.
    for folder, name in ((ckpt_dir, "*"), (run_dir / MODEL_DIR, WEIGHTS_NAME),
                         (run_dir / MODEL_DIR, CONFIG_NAME)):
        remove_stale_temp_files(folder, name)
    trainer = L.Trainer(
        # VAEModule stops at cfg.max_steps training batches itself: Lightning's max_steps counts
        # optimiser steps, which differ with several optimisers or skipped non-finite steps.
        max_steps=-1,
        max_epochs=-1,
        max_time={"minutes": cfg.max_minutes} if cfg.max_minutes is not None else None,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=_strategy(cfg.strategy, n_groups),
        precision=cfg.precision,
        logger=_loggers(cfg, run_dir),
        callbacks=[
            # No checkpoint on exceptions: one taken inside a failed step can hold a half-applied
            # update, and as the newest file it would be what --resume continues from. Errors
            # keep the last periodic checkpoint; Ctrl-C stops between steps (_StopOnInterrupt).
            ModelCheckpoint(dirpath=ckpt_dir, filename="step{step}", save_last=True,
                            save_top_k=0, every_n_train_steps=cfg.checkpoint_every * n_groups),
            stopper := _StopOnInterrupt(),
            _FlushLogsWithCheckpoints(),
            *(callbacks or []),
        ],
        plugins=[AtomicCheckpointIO()],
        val_check_interval=cfg.val_every if val_set is not None else None,
        check_val_every_n_epoch=None,
        limit_val_batches=cfg.val_batches if val_set is not None else 0,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.log_every,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        deterministic=cfg.deterministic,
        default_root_dir=run_dir,
    )
    if trainer.world_size == 1:
        sampler = ResumableBatchSampler(len(train_set), cfg.batch_size, cfg.seed,
                                        progress=lambda: module.batches_seen)
        train_loader = ResumableLoader(train_set, sampler, config.data.num_workers)
    else:  # Lightning shards a plain shuffled loader with a DistributedSampler
        train_loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                   num_workers=config.data.num_workers, drop_last=True)
    val_loader = (make_loader(val_set, cfg.batch_size, shuffle=False) if val_set is not None
                  else None)
    if len(train_loader) == 0:
        raise ConfigError(
            f"train.batch_size={cfg.batch_size} is larger than the training set "
            f"({len(train_set)} examples); lower it"
        )
    save_file(config, run_dir / "config.yaml")
    meta = run_metadata(config)
    meta["resumed_from"] = str(ckpt_path) if ckpt_path else None
    meta["status"] = "running"  # a run killed outright keeps this record of what it was
    _write_run_json(run_dir, meta)
    start = time.perf_counter()
    stopper.enabled = trainer.world_size == 1
    with stopper:
        try:
            trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path, weights_only=True)
        except SystemExit:
            # Lightning answers a KeyboardInterrupt raised inside fit (a second Ctrl-C, or a
            # caller's own SIGINT handler) with sys.exit(1); report it as the interrupt it is.
            if not trainer.interrupted:
                raise
            if trainer.is_global_zero:
                _finish_run_json(run_dir, meta, "interrupted", module)
            raise TrainingInterrupted(
                f"interrupted at step {module.batches_seen} without saving; --resume continues "
                f"from the last checkpoint in '{ckpt_dir}'", module.batches_seen, None) from None
        except Exception as err:
            if trainer.is_global_zero:
                _finish_run_json(run_dir, meta, "failed", module,
                                 error=f"{type(err).__name__}: {' '.join(str(err).split())}")
            raise
        seconds = time.perf_counter() - start
        trainer.save_checkpoint(ckpt_dir / LAST_CHECKPOINT)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        stopped = bool(stopper.requests) and module.batches_seen < cfg.max_steps
        if trainer.is_global_zero:
            merge_csv_logs(run_dir)
            model.save_pretrained(run_dir / MODEL_DIR)
            meta.update(train_seconds=seconds, steps=module.batches_seen, final_metrics=metrics,
                        skipped_nonfinite_steps=module.skipped_steps,
                        skipped_updates=module.skipped_updates, world_size=trainer.world_size,
                        status="interrupted" if stopped else "finished")
            _write_run_json(run_dir, meta)
    if stopped:
        raise TrainingInterrupted(
            f"interrupted at step {module.batches_seen} of {cfg.max_steps}; saved "
            f"'{ckpt_dir / LAST_CHECKPOINT}'; resume with: vaekit train --resume {run_dir}",
            module.batches_seen, ckpt_dir / LAST_CHECKPOINT)
    return TrainResult(run_dir, model, metrics, seconds, module.batches_seen)


def _finish_run_json(run_dir: Path, meta: dict[str, Any], status: str, module: VAEModule,
                     **extra: Any) -> None:
    """Record how a run that did not finish ended (best effort: never hides the real error)."""
    try:
        meta.update(status=status, steps=module.batches_seen, **extra)
        _write_run_json(run_dir, meta)
    except Exception:  # noqa: BLE001
        pass
