"""A check shared by the tests of models with several optimiser groups (adversarial ones)."""

from __future__ import annotations

import torch

from vaekit.models import BaseVAE, LossContext


def assert_groups_train_only_their_own_parameters(model: BaseVAE, batch) -> None:
    """Each group's loss is finite, reaches every parameter of that group, and leaves no
    gradient on any other parameter; afterwards every parameter is trainable again."""
    names = {id(p): name for name, p in model.named_parameters()}
    ctx = LossContext()
    for group, params in model.optimizer_groups().items():
        model.zero_grad(set_to_none=True)
        out = model.loss(batch, ctx, group)
        assert out["loss"].dim() == 0 and all(torch.isfinite(v) for v in out.values())
        out["loss"].backward()
        own = {id(p) for p in params}
        missing = [names[id(p)] for p in params if p.grad is None or not p.grad.abs().sum()]
        leaked = [names[id(p)] for p in model.parameters()
                  if id(p) not in own and p.grad is not None]
        assert not missing, f"{group}: no gradient on {missing}"
        assert not leaked, f"{group}: gradient leaked onto {leaked}"
    assert all(p.requires_grad for p in model.parameters())  # unfrozen again
