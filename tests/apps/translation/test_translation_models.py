"""UNIT and the content/style model: the shared-latent constraint, training through the engine
with their own optimisers, exact resumption, and the discriminator's side of the game."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.apps.translation.domains import DomainPairs
from vaekit.errors import DataError, ShapeError
from vaekit.models import LossContext, build_model
from vaekit.models.unit import DISCRIMINATOR
from vaekit.registry import DATASETS
from vaekit.training import load_experiment, train


def blobs(n: int, seed: int) -> torch.Tensor:
    """Binary 8x8 images of a 3x3 square at a random place."""
    rng = np.random.default_rng(seed)
    images = torch.zeros(n, 1, 8, 8)
    for i, (r, c) in enumerate(rng.integers(0, 6, (n, 2))):
        images[i, 0, r:r + 3, c:c + 3] = 1.0
    return images


@DATASETS.register("test_inverted_blobs")
def _inverted_blobs(split: str = "train", n: int = 64) -> DomainPairs:
    """Unpaired squares (A) and inverted squares (B), 8x8."""
    return DomainPairs(blobs(n, 0), blobs(n, 1), "invert", paired=split != "train")


SMALL = {"network": "mlp", "network_options": {"hidden": [16]}, "latent_dim": 3,
         "shared_hidden": 16, "discriminator_width": 4, "data_shape": [1, 8, 8]}


def make(model_type: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    return build_model({"type": model_type, **SMALL, **extra})


def pair(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    return blobs(n, 2), 1.0 - blobs(n, 3)


@pytest.mark.parametrize("sharing", ["deep", "top"])
@pytest.mark.parametrize("model_type", ["unit", "munit"])
def test_shared_layers_are_one_set_of_weights_used_by_both_domains(model_type, sharing):
    model = make(model_type, sharing=sharing)
    shared = [model.shared_decoder, model.shared_encoder]
    state = model.state_dict()
    for module in shared:
        for name, param in module.named_parameters():
            # One parameter object, stored once: no per-domain copy that could drift apart.
            owners = [k for k, v in model.named_parameters() if v is param]
            assert len(owners) == 1
            assert sum(1 for k in state if k.endswith(name) and "shared" in k) >= 1
    x_a, x_b = pair()
    with torch.no_grad():
        before = (model.encode(x_a, "a").mean, model.encode(x_b, "b").mean)
        last = [m for m in shared[1].modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.add_(1.0)  # moving the shared layer moves both domains' codes
        after = (model.encode(x_a, "a").mean, model.encode(x_b, "b").mean)
    for b, a in zip(before, after):
        content = slice(0, model.config.latent_dim)
        torch.testing.assert_close(a[:, content], b[:, content] + 1.0)
    # The private networks really are private: two distinct modules.
    assert model.private_encoders["a"] is not model.private_encoders["b"]
    a_params = {id(p) for p in model.private_encoders["a"].parameters()}
    assert not a_params & {id(p) for p in model.private_encoders["b"].parameters()}


def test_unit_translation_is_the_other_domains_decoder_on_the_shared_code():
    model = make("unit").eval()
    x_a, _ = pair()
    z = model.encode(x_a, "a").mean
    expected = model.decode(z, "b").mean.clamp(0, 1)
    torch.testing.assert_close(model.translate(x_a, "a"), expected)
    assert model.encode(x_a, "a").stddev.eq(1).all()  # q(z|x) = N(mu, I) as in the paper
    with pytest.raises(Exception, match="domain must be 'a' or 'b'"):
        model.translate(x_a, "c")


@pytest.mark.parametrize("model_type", ["unit", "munit"])
def test_single_batches_and_wrong_domain_shapes_are_clear_errors(model_type):
    model = make(model_type)
    with pytest.raises(DataError, match="unpaired batches"):
        model.loss(pair()[0])
    with pytest.raises(ShapeError, match="channels_b"):
        model.loss((pair()[0], torch.rand(6, 3, 8, 8)))
    coloured = make(model_type, channels_b=3)
    out = coloured.loss((pair()[0], torch.rand(6, 3, 8, 8)))
    assert torch.isfinite(out["loss"])


@pytest.mark.parametrize("model_type", ["unit", "munit"])
def test_the_discriminator_step_separates_real_from_translated_images(model_type):
    model = make(model_type, discriminator_lr=1e-2)
    batch = pair(16)
    opt = torch.optim.Adam(model.optimizer_groups()[DISCRIMINATOR], lr=1e-2)
    first = None
    for _ in range(30):
        ctx = LossContext()
        model.loss(batch, ctx)  # leaves its translations in ctx.cache
        out = model.loss(batch, ctx, DISCRIMINATOR)
        first = first if first is not None else float(out["loss"].detach())
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert float(out["loss"].detach()) < first
    assert out["d_real_b"] > out["d_fake_b"] and out["d_real_a"] > out["d_fake_a"]
    # Only the discriminators learn in this group; the generator's loss leaves them untouched.
    model.zero_grad()
    model.loss(batch, LossContext())["loss"].backward()
    assert all(p.grad is None for p in model.discriminators.parameters())


def config(tmp_path, model_type: str, steps: int):
    return load_experiment(None, {
        "model": {"type": model_type, **{k: v for k, v in SMALL.items() if k != "data_shape"}},
        "data.name": "test_inverted_blobs", "data.val_size": 0,
        "train.max_steps": steps, "train.batch_size": 16, "train.checkpoint_every": 2,
        "train.progress_bar": False, "train.loggers": ["csv"], "run_dir": str(tmp_path),
    })


@pytest.mark.parametrize("model_type", ["unit", "munit"])
def test_trains_with_its_own_optimisers_through_the_engine_and_resumes_exactly(
        tmp_path, model_type):
    torch.manual_seed(0)
    start = build_model({"type": model_type, **SMALL}).state_dict()
    full = train(config(tmp_path / "full", model_type, 4)).model
    # Both optimiser groups stepped: the discriminators and the generators moved.
    for key, value in full.state_dict().items():
        if key.startswith(("discriminators.", "private_decoders.")) and value.is_floating_point():
            assert not torch.equal(value, start[key]), key
    half = train(config(tmp_path / "part", model_type, 2)).model
    assert not torch.equal(half.state_dict()["shared_decoder.0.weight"],
                           full.state_dict()["shared_decoder.0.weight"])
    resumed = train(config(tmp_path / "part", model_type, 4), resume=True).model
    for key, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, msg=key)
