"""The engine's speed switches: channels-last layout, torch.compile, bf16-mixed precision.
They change how the arithmetic is laid out or rounded, not what is learnt."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaekit.checkpoint import load_pretrained
from vaekit.training import load_experiment, train

CONV = [
    "model.type=vae", "model.network=resnet", "model.latent_dim=3",
    "model.network_options={channels: 8, num_blocks: 1, num_downsamples: 2}",
    "data.name=test_blobs", "data.val_size=32", "train.batch_size=16", "train.lr=3e-3",
    "train.progress_bar=false", "train.loggers=[csv]", "train.val_every=1000",
]


def run(tmp_path: Path, name: str, *extra: str):
    return train(load_experiment(None, [*CONV, f"run_dir={tmp_path / name}", *extra]))


def test_channels_last_learns_the_same_weights(tmp_path):
    fast = run(tmp_path, "cl", "train.max_steps=15", "train.channels_last=true")
    plain = run(tmp_path, "plain", "train.max_steps=15", "train.channels_last=false")
    conv = [p for p in fast.model.parameters() if p.dim() == 4]
    assert conv and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv)
    for (name, a), b in zip(fast.model.state_dict().items(), plain.model.state_dict().values()):
        # Another summation order in the convolutions: equal up to float rounding.
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
    # The exported model is ordinary (contiguous safetensors) and reproduces the trained one.
    loaded = load_pretrained(tmp_path / "cl" / "model")
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(loaded.reconstruct(x), fast.model.reconstruct(x))


def test_bf16_mixed_precision_trains(tmp_path):
    result = run(tmp_path, "bf16", "train.max_steps=40", "train.precision=bf16-mixed")
    reference = run(tmp_path, "fp32", "train.max_steps=40")
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32
               for p in result.model.parameters())
    # Rounded arithmetic, same optimisation: the validation losses agree to a few percent.
    bf16_loss, fp32_loss = result.metrics["val/loss"], reference.metrics["val/loss"]
    assert abs(bf16_loss - fp32_loss) < 0.1 * abs(fp32_loss)


@pytest.mark.slow
def test_compile_keeps_parameter_names_and_results(tmp_path):
    mlp = ["model.network=mlp", "model.network_options={hidden: [16]}"]
    compiled = run(tmp_path, "compiled", *mlp, "train.max_steps=5", "train.compile=true")
    eager = run(tmp_path, "eager", *mlp, "train.max_steps=5")
    assert list(compiled.model.state_dict()) == list(eager.model.state_dict())
    for a, b in zip(compiled.model.parameters(), eager.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert load_pretrained(tmp_path / "compiled" / "model") is not None
