"""Every model on data other than square images: tabular vectors (mlp), 1-D sequences (conv1d)
and non-square images (resnet). Each model either trains and generates the right shapes, or
refuses the data up front with a vaekit error that names the shape; adding a model to the
registry adds it here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vaekit.errors import VaekitError
from vaekit.models import LossContext, build_model
from vaekit.registry import MODELS

LIBRARY_MODELS = [name for name in MODELS.names() if not name.startswith("test_")]
CASES = {
    "vector": ((7,), "mlp", {"hidden": [16]}),
    "sequence": ((2, 32), "conv1d", {"channels": [8, 8], "hidden": 16}),
    "non_square_image": ((1, 16, 24), "resnet", {"channels": 8, "num_blocks": 1}),
}
NEEDS = {"beta_tcvae": {"dataset_size": 64}}


def config(model_type: str, case: str) -> dict:
    shape, network, options = CASES[case]
    fields = {f.name for f in dataclasses.fields(MODELS.get(model_type).config_class)}
    cfg = {"type": model_type, "data_shape": list(shape), **NEEDS.get(model_type, {})}
    if "network" in fields:
        cfg.update(network=network, network_options=options)
    if "latent_dim" in fields:
        cfg["latent_dim"] = 3
    return cfg


def batch(model, n: int = 6):
    """Examples of the model's data shape, or what its ``example_batch(x)`` makes of them
    (models whose batches carry more than one tensor: captions, two domains, clips)."""
    x = torch.rand((n, *model.data_shape), generator=torch.Generator().manual_seed(0))
    example = getattr(model, "example_batch", None)
    return x if example is None else example(x)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("model_type", LIBRARY_MODELS)
def test_model_takes_the_shape_or_says_why_not(model_type, case):
    shape = CASES[case][0]
    torch.manual_seed(0)
    try:
        model = build_model(config(model_type, case))
        x = batch(model)
        for group in model.optimizer_groups():
            terms = model.loss(x, LossContext(step=10), group)
            assert torch.isfinite(terms["loss"]), terms
            terms["loss"].backward()
    except VaekitError as err:
        message = str(err)
        assert message and "\n" not in message.strip()
        # The refusal is about the data: it names the shape or the kind of data needed.
        names = (str(shape), str(list(shape)), "x".join(map(str, shape[-2:])), "image", "batch")
        assert any(name in message for name in names), message
        return  # a refusal that names the data it needs is the other accepted outcome
    samples = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, *shape) and torch.isfinite(samples).all()
    if isinstance(x, torch.Tensor):
        assert model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("case", CASES)
def test_the_plain_vae_takes_every_shape(case):
    # The battery above may skip; the reference model must not.
    model = build_model(config("vae", case))
    x = batch(model)
    assert torch.isfinite(model.loss(x)["loss"])


def test_vae_learns_a_low_rank_table_through_the_engine(tmp_path):
    """Tabular data end to end: a CSV through array_file, mlp + learned Gaussian, the real
    engine; the ELBO on held-out rows improves by far more than noise."""
    from vaekit.training import load_experiment, train

    rng = np.random.default_rng(0)
    factors = rng.normal(size=(600, 2))
    table = factors @ rng.normal(size=(2, 8)) + 0.05 * rng.normal(size=(600, 8))
    path = tmp_path / "table.csv"
    path.write_text("\n".join(",".join(f"{v:.5f}" for v in row) for row in table))

    def run(steps: int, name: str):
        config = load_experiment(None, [
            "data.name=array_file", f"data.options.path={path}",
            "data.options.standardize=true", "data.val_size=100", "model.type=vae",
            "model.network=mlp", "model.network_options={hidden: [32]}", "model.latent_dim=2",
            "model.likelihood=gaussian_learned", "model.likelihood_options={variance: shared}",
            f"train.max_steps={steps}", "train.batch_size=50", "train.lr=3e-3",
            "train.val_every=1000", "train.progress_bar=false", "train.loggers=[csv]",
            f"run_dir={tmp_path / name}"])
        return train(config).metrics["val/loss"]

    assert run(1, "start") - run(300, "trained") > 5.0  # nats per row
