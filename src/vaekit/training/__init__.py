"""Training engine (PyTorch Lightning): config, module, data plumbing, ``train``."""

from vaekit.training.config import DataConfig, ExperimentConfig, TrainConfig, load_experiment
from vaekit.training.run import TrainResult, train

__all__ = ["DataConfig", "ExperimentConfig", "TrainConfig", "TrainResult", "load_experiment",
           "train"]
