"""Experiment configuration: which model, which data, how to train. YAML/JSON round trip.

    model:  {type: beta_vae, latent_dim: 10, network: conv64, beta: 4}
    data:   {name: dsprites, root: null, options: {}}
    train:  {max_steps: 3000, batch_size: 64, lr: 5e-4, seed: 0, ...}
    run_dir: runs/demo

Any key can be overridden from the command line as ``--model.beta=8``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vaekit.config import apply_overrides, check, from_dict, load_file
from vaekit.models.base import VAEConfig, model_config_from_dict


@dataclass
class DataConfig:
    """A registered dataset and how to split it.

    ``options`` are keyword arguments of the dataset's factory (see ``vaekit list``).
    Validation uses ``val_split`` when the dataset has one (e.g. binarized MNIST ``valid``);
    otherwise ``val_size`` examples are held out of the training split at random (seeded).
    """

    name: str = "dsprites"
    root: str | None = None
    split: str = "train"
    val_split: str | None = None
    val_size: int = 1000
    limit: int | None = None  # use only the first N training examples
    # Models that train on labels (M2, conditional VAEs) get (x, y) batches; with num_labelled
    # only that many training examples keep their label (class-balanced, seeded), the rest -1.
    num_labelled: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    num_workers: int = 0

    def __post_init__(self) -> None:
        check(self.val_size >= 0, f"data.val_size must be >= 0, got {self.val_size}")
        check(self.limit is None or self.limit > 0, "data.limit must be positive")
        check(self.num_workers >= 0, "data.num_workers must be >= 0")


@dataclass
class TrainConfig:
    """Optimisation and engine settings (PyTorch Lightning underneath)."""

    max_steps: int = 3000
    max_minutes: float | None = None  # wall-clock budget; training stops at whichever comes first
    batch_size: int = 64
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float | None = None  # max global gradient norm
    # Skip an optimiser update whose global gradient norm (before clipping) exceeds this, as in
    # VDVAE (Child 2021, section 4): rare huge gradients otherwise wreck deep hierarchical VAEs.
    skip_grad_norm: float | None = None
    seed: int = 0
    # KL weight schedule (multiplies the model's own beta): constant 1, linear warm-up from 0 to 1
    # over kl_warmup_steps (Bowman et al. 2016), or cyclical (Fu et al. 2019).
    kl_schedule: Literal["constant", "linear", "cyclical"] = "constant"
    kl_warmup_steps: int = 0
    kl_cycles: int = 4
    kl_cycle_ratio: float = 0.5
    free_bits: float = 0.0  # nats per latent dimension (Kingma et al. 2016)
    val_every: int = 500  # steps between validation passes
    val_batches: int = 8
    log_every: int = 25
    checkpoint_every: int = 500
    skip_nonfinite: bool = False  # skip steps with NaN/Inf loss instead of stopping
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    accelerator: str = "cpu"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"  # "bf16-mixed": bfloat16 autocast (fast on CPUs with AMX)
    # Speed (benchmarks/throughput.py measures both): image batches and conv weights in the
    # channels-last layout that oneDNN's CPU convolutions prefer (about 10% faster for conv64
    # at batch 64; no effect on MLPs); torch.compile of the model's networks, off by default
    # since on CPU it did not pay for conv64 (2 min of compilation for no speed-up), falling
    # back to eager execution where compilation fails.
    channels_last: bool = True
    compile: bool = False
    progress_bar: bool = True
    loggers: list[str] = field(default_factory=lambda: ["csv", "tensorboard"])
    deterministic: bool = False

    def __post_init__(self) -> None:
        check(self.max_steps > 0, f"train.max_steps must be positive, got {self.max_steps}")
        check(self.max_minutes is None or self.max_minutes > 0,
              "train.max_minutes must be positive")
        check(self.batch_size > 0, f"train.batch_size must be positive, got {self.batch_size}")
        check(self.lr > 0, f"train.lr must be positive, got {self.lr}")
        check(self.grad_clip is None or self.grad_clip > 0, "train.grad_clip must be positive")
        check(self.skip_grad_norm is None or self.skip_grad_norm > 0,
              "train.skip_grad_norm must be positive")
        check(self.free_bits >= 0, "train.free_bits must be >= 0")
        check(self.kl_warmup_steps >= 0, "train.kl_warmup_steps must be >= 0")
        check(self.kl_cycles >= 1, "train.kl_cycles must be >= 1")
        check(0 < self.kl_cycle_ratio <= 1, "train.kl_cycle_ratio must be in (0, 1]")
        check(self.val_every > 0 and self.log_every > 0 and self.checkpoint_every > 0,
              "train.val_every, train.log_every and train.checkpoint_every must be positive")
        check(self.threads is None or self.threads > 0, "train.threads must be positive")
        unknown = set(self.loggers) - {"csv", "tensorboard", "mlflow", "wandb"}
        check(not unknown, f"train.loggers: unknown logger(s) {sorted(unknown)}; "
                           "use csv, tensorboard, mlflow or wandb")


@dataclass
class ExperimentConfig:
    model: VAEConfig = field(
        default_factory=lambda: model_config_from_dict({"type": "vae"}),
        metadata={"resolve": model_config_from_dict},
    )
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run_dir: str = "runs/vaekit"


def load_experiment(
    path: str | Path | None = None, overrides: list[str] | dict | None = None
) -> ExperimentConfig:
    """Read a YAML/JSON experiment file (or start from defaults) and apply dotted overrides."""
    data = load_file(path) if path is not None else {}
    data = apply_overrides(data, overrides or [])
    return from_dict(ExperimentConfig, data)
