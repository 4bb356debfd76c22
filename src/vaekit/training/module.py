"""One LightningModule that trains any registered model.

Optimisation is manual so that models with several optimisers (adversarial ones: FactorVAE's
discriminator, VAE-GAN) use the same code path as plain VAEs: each training step walks the
model's ``optimizer_groups()`` in order, computing that group's loss, back-propagating,
clipping and stepping.
"""

from __future__ import annotations

import lightning as L
import torch

from vaekit.errors import VaekitError
from vaekit.models.base import BaseVAE, LossContext
from vaekit.training.config import TrainConfig
from vaekit.training.schedules import kl_weight


def batch_size(batch: torch.Tensor | tuple) -> int:
    """Examples in a batch: an image tensor, or ``(images, labels)`` for labelled models."""
    return len(batch[0]) if isinstance(batch, (tuple, list)) else len(batch)


def _channels_last(batch):
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=torch.channels_last) if batch.dim() == 4 else batch
    if isinstance(batch, (tuple, list)):
        return type(batch)(_channels_last(part) for part in batch)
    return batch


class NonFiniteLossError(VaekitError, FloatingPointError):
    """The training loss became NaN or Inf."""


class VAEModule(L.LightningModule):
    def __init__(self, model: BaseVAE, train: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.train_config = train
        self.automatic_optimization = False
        self.group_names = list(model.optimizer_groups())
        # Counts training batches (not optimiser steps, which differ with several optimisers);
        # drives the KL schedule and is saved with the checkpoint so a resumed run continues it.
        self.batches_seen = 0
        self.skipped_steps = 0
        self.skipped_updates = 0  # updates skipped for a gradient norm over train.skip_grad_norm

    # -------------------------------------------------------------------------- optimisers
    def configure_optimizers(self):
        cfg = self.train_config
        # foreach: one multi-tensor kernel per update instead of a Python loop over parameters
        # (torch uses it by default on GPUs only).
        defaults = {"lr": cfg.lr, "betas": tuple(cfg.betas), "weight_decay": cfg.weight_decay,
                    "foreach": True}
        return [
            torch.optim.Adam(params, **{**defaults, **self.model.optimizer_options(name)})
            for name, params in self.model.optimizer_groups().items()
        ]

    def loss_context(self) -> LossContext:
        cfg = self.train_config
        weight = kl_weight(self.batches_seen, cfg.kl_schedule, cfg.kl_warmup_steps,
                           cfg.max_steps, cfg.kl_cycles, cfg.kl_cycle_ratio)
        return LossContext(step=self.batches_seen, kl_weight=weight, free_bits=cfg.free_bits)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        # Image batches in the layout of the conv weights (train.channels_last): without it,
        # every convolution would convert its input first.
        if self.train_config.channels_last:
            return _channels_last(batch)
        return batch

    # ---------------------------------------------------------------------------- training
    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        optimizers = self.optimizers()
        if not isinstance(optimizers, (list, tuple)):
            optimizers = [optimizers]
        ctx = self.loss_context()
        logged: dict[str, torch.Tensor] = {}
        for name, optimizer in zip(self.group_names, optimizers):
            terms = self.model.loss(batch, ctx, group=name)
            loss = terms["loss"]
            if not torch.isfinite(loss):
                if self._skip_nonfinite(name, loss):
                    continue
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            prefix = "train/" if len(self.group_names) == 1 else f"train/{name}/"
            logged.update({prefix + k: v.detach() for k, v in terms.items()})
            if self.train_config.skip_grad_norm is not None:
                grad_norm = self._grad_norm(optimizer)
                logged[prefix + "grad_norm"] = grad_norm
                if not grad_norm <= self.train_config.skip_grad_norm:  # also catches NaN
                    self.skipped_updates += 1
                    optimizer.zero_grad(set_to_none=True)
                    continue
            if self.train_config.grad_clip is not None:
                self.clip_gradients(optimizer, gradient_clip_val=self.train_config.grad_clip,
                                    gradient_clip_algorithm="norm")
            optimizer.step()
        self.batches_seen += 1
        if self.batches_seen >= self.train_config.max_steps:
            self.trainer.should_stop = True
        if self.batches_seen % self.train_config.log_every == 0 or self.batches_seen == 1:
            logged["train/kl_weight"] = torch.tensor(ctx.kl_weight)
            if self.train_config.skip_grad_norm is not None:
                logged["train/skipped_updates"] = torch.tensor(float(self.skipped_updates))
            self.log_dict(logged, on_step=True, on_epoch=False, batch_size=batch_size(batch))
            self.log("loss", logged.get("train/loss", next(iter(logged.values()))),
                     prog_bar=True, logger=False, batch_size=batch_size(batch))

    @staticmethod
    def _grad_norm(optimizer) -> torch.Tensor:
        """The global L2 norm of the gradients this optimiser is about to apply."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if not grads:
            return torch.zeros(())
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))

    def _skip_nonfinite(self, group: str, loss: torch.Tensor) -> bool:
        step = self.batches_seen
        if not self.train_config.skip_nonfinite:
            raise NonFiniteLossError(
                f"loss of group '{group}' is {loss.item()} at step {step}; training stopped and "
                "the last good checkpoint is kept. Lower train.lr, set train.grad_clip, or set "
                "train.skip_nonfinite=true to skip such steps"
            )
        self.skipped_steps += 1
        return True

    # -------------------------------------------------------------------------- validation
    def on_validation_epoch_start(self) -> None:
        # Validation draws its noise from a fixed seed and gives the training RNG back untouched,
        # so when (or whether) validation runs never changes the training trajectory.
        self._train_rng_state = torch.get_rng_state()
        torch.manual_seed(self.train_config.seed)

    def on_validation_epoch_end(self) -> None:
        torch.set_rng_state(self._train_rng_state)

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        ctx = LossContext(step=self.batches_seen)
        terms = self.model.loss(batch, ctx, group=self.group_names[0])
        self.log_dict({f"val/{k}": v for k, v in terms.items() if v.ndim == 0},
                      on_epoch=True, batch_size=batch_size(batch), sync_dist=True)

    # -------------------------------------------------------------------------- checkpoint
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The global RNG drives the reparameterisation noise: saving it makes a resumed run
        # draw the same noise as an uninterrupted one.
        checkpoint["vaekit"] = {"batches_seen": self.batches_seen,
                                "skipped_steps": self.skipped_steps,
                                "skipped_updates": self.skipped_updates,
                                "torch_rng_state": torch.get_rng_state()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("vaekit", {})
        self.batches_seen = int(state.get("batches_seen", 0))
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self.skipped_updates = int(state.get("skipped_updates", 0))
        if "torch_rng_state" in state:
            torch.set_rng_state(state["torch_rng_state"].cpu())
