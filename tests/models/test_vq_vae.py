"""VQ-VAE: quantiser gradients and EMA updates, dead-code restarts, the autoregressive prior,
training through the engine, generation and save/load."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import pytest
import torch

from vaekit.checkpoint import load_pretrained
from vaekit.errors import ShapeError
from vaekit.evaluation import evaluate_elbo
from vaekit.models import LossContext, build_model
from vaekit.models.vq_vae import VQVAE
from vaekit.nn.code_prior import CausalTransformerPrior
from vaekit.nn.vector_quantizer import VectorQuantizer, perplexity
from vaekit.training import load_experiment, train

SMALL = {"type": "vq_vae", "data_shape": [1, 8, 8], "num_codes": 16, "code_dim": 8,
         "downsample": 1, "hidden_channels": 16, "residual_blocks": 1, "residual_hidden": 8,
         "prior_layers": 2, "prior_width": 32, "prior_heads": 2}


def small_model(seed: int = 0, **extra) -> VQVAE:
    torch.manual_seed(seed)
    return build_model({**SMALL, **extra})


def binary_batch(n: int = 8) -> torch.Tensor:
    return torch.rand((n, 1, 8, 8), generator=torch.Generator().manual_seed(1)).round()


def quantizer_with(codebook: list[list[float]], **options) -> VectorQuantizer:
    """An EMA quantiser whose codebook (and matching statistics, N_i = 1) is ``codebook``."""
    codes = torch.tensor(codebook)
    quantizer = VectorQuantizer(len(codes), codes.shape[1], **options)
    quantizer.codebook.copy_(codes)
    quantizer.embed_sum.copy_(codes)
    return quantizer


def as_encoder_output(vectors: list[list[float]]) -> torch.Tensor:
    """Vectors ``(N, D)`` as one example's encoder output ``(1, D, 1, N)``."""
    return torch.tensor(vectors).t().reshape(1, -1, 1, len(vectors))


# --------------------------------------------------------------------------- quantiser
def test_straight_through_gradient_reaches_the_encoder():
    model = small_model()
    x = binary_batch()
    quantized = model.quantizer(model.encoder(x))
    # The forward value is the codebook vectors of the codes (up to z_e + (z_q - z_e) rounding).
    torch.testing.assert_close(quantized.z_q, model.quantizer.lookup(quantized.codes))
    recon = -model.decode_grid(quantized.z_q).log_prob(x).mean()
    recon.backward()  # the reconstruction loss alone, no commitment term
    for name, param in model.encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_ema_update_matches_the_hand_computed_one():
    decay, eps = 0.5, 1e-5
    quantizer = quantizer_with([[0.0, 0.0], [10.0, 10.0]], decay=decay, eps=eps,
                               dead_code_threshold=0.0)
    z_e = as_encoder_output([[1.0, 0.0], [0.0, 1.0], [9.0, 10.0]])
    out = quantizer(z_e, update=True)
    assert out.codes.tolist() == [[[0, 0, 1]]]
    # z_q is looked up before the update, so it matches the codes.
    assert torch.equal(out.z_q, as_encoder_output([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0]]))
    # n = (2, 1), sums = ((1, 1), (9, 10)); N and m start at 1 and the initial codebook.
    expected_size = torch.tensor([0.5 * 1 + 0.5 * 2, 0.5 * 1 + 0.5 * 1])
    expected_sum = torch.tensor([[0.5 * 0 + 0.5 * 1, 0.5 * 0 + 0.5 * 1],
                                 [0.5 * 10 + 0.5 * 9, 0.5 * 10 + 0.5 * 10]])
    total = expected_size.sum()
    smoothed = (expected_size + eps) / (total + 2 * eps) * total  # Laplace smoothing
    torch.testing.assert_close(quantizer.cluster_size, expected_size)
    torch.testing.assert_close(quantizer.embed_sum, expected_sum)
    torch.testing.assert_close(quantizer.codebook, expected_sum / smoothed.unsqueeze(1))
    torch.testing.assert_close(quantizer.codebook, torch.tensor([[1 / 3, 1 / 3], [9.5, 10.0]]),
                               atol=1e-4, rtol=0)
    # The commitment loss: beta * sum of squared distances to the (old) codes, per example.
    torch.testing.assert_close(out.commitment, torch.tensor(0.25 * (1 + 1 + 1)))
    assert not quantizer.codebook.requires_grad and "codebook" in dict(quantizer.named_buffers())


def test_no_update_without_the_flag_nor_in_eval_or_prior_passes():
    quantizer = quantizer_with([[0.0, 0.0], [10.0, 10.0]], dead_code_threshold=0.0)
    before = {k: v.clone() for k, v in quantizer.state_dict().items()}
    quantizer(as_encoder_output([[1.0, 0.0], [9.0, 10.0]]))
    assert all(torch.equal(before[k], v) for k, v in quantizer.state_dict().items())

    model = small_model()
    x = binary_batch()
    before = {k: v.clone() for k, v in model.quantizer.state_dict().items()}
    model.loss(x, LossContext(), group="prior")  # training mode, but the prior's own encoding
    model.eval().loss(x, LossContext(), group="model")  # validation
    assert all(torch.equal(before[k], v) for k, v in model.quantizer.state_dict().items())
    model.train().loss(x, LossContext(), group="model")
    assert not torch.equal(before["cluster_size"], model.quantizer.cluster_size)


def test_codebook_loss_trains_the_codebook_without_ema():
    quantizer = VectorQuantizer(2, 2, ema=False, dead_code_threshold=0.0)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    z_e = as_encoder_output([[1.0, 0.0], [9.0, 10.0]]).requires_grad_()
    out = quantizer(z_e, update=True)
    torch.testing.assert_close(out.codebook_loss, torch.tensor(1.0 + 1.0))
    out.codebook_loss.backward()
    # d/de ||sg(z) - e||^2 = 2 (e - z); no gradient to the encoder output from this term.
    torch.testing.assert_close(quantizer.codebook.grad, torch.tensor([[-2.0, 0.0], [2.0, 0.0]]))
    assert z_e.grad is None or z_e.grad.abs().sum() == 0


def test_dead_code_is_restarted_on_an_encoder_output_of_the_batch():
    quantizer = quantizer_with([[0.0, 0.0], [10.0, 10.0], [100.0, 100.0]], decay=0.5,
                               dead_code_threshold=0.6)
    batch = [[1.0, 0.0], [0.0, 1.0], [9.0, 10.0], [10.0, 9.0]]
    quantizer(as_encoder_output(batch), update=True)
    # Code 2 got no vector: N_2 = 0.5 < 0.6, so it moves onto one of the batch's vectors and
    # its statistics restart as one observation of it. Codes 0 and 1 (N = 1.5) are kept.
    new_code = quantizer.codebook[2].tolist()
    assert new_code in batch
    assert quantizer.cluster_size[2] == 1.0 and quantizer.embed_sum[2].tolist() == new_code
    # m_0 = 0.5 (0, 0) + 0.5 (1, 1), m_1 = 0.5 (10, 10) + 0.5 (19, 19), both over N = 1.5.
    torch.testing.assert_close(quantizer.codebook[:2],
                               torch.tensor([[1 / 3, 1 / 3], [29 / 3, 29 / 3]]), atol=1e-4, rtol=0)
    assert not quantizer.dead_codes().any()


def test_perplexity_and_usage():
    assert perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0])).item() == pytest.approx(4.0)
    assert perplexity(torch.tensor([0.0, 7.0, 0.0, 0.0])).item() == pytest.approx(1.0)
    codebook = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    quantizer = quantizer_with(codebook)
    uniform = quantizer(as_encoder_output(codebook * 3))
    assert uniform.perplexity.item() == pytest.approx(4.0) and uniform.usage.item() == 1.0
    single = quantizer(as_encoder_output([[0.1, 0.0]] * 6))
    assert single.perplexity.item() == pytest.approx(1.0) and single.usage.item() == 0.25


# ------------------------------------------------------------------------------- prior
def random_prior(num_codes: int = 3, grid: tuple[int, int] = (2, 2)) -> CausalTransformerPrior:
    """A prior with random (non-uniform) conditionals: the head starts at zero otherwise."""
    torch.manual_seed(0)
    prior = CausalTransformerPrior(num_codes, grid, width=16, layers=2, heads=2).eval()
    with torch.no_grad():
        prior.head.weight.normal_(0.0, 1.0)
        prior.head.bias.normal_(0.0, 1.0)
    return prior


def test_prior_log_prob_is_the_sum_of_its_causal_conditionals():
    prior = random_prior(num_codes=5, grid=(2, 3))
    codes = torch.randint(0, 5, (4, 2, 3), generator=torch.Generator().manual_seed(0))
    log_prob = prior.log_prob(codes)
    assert log_prob.shape == (4,)
    total = torch.zeros(4)
    for t in range(6):
        # The conditional at t, computed with every position from t on scrambled.
        scrambled = codes.flatten(1).clone()
        scrambled[:, t:] = (scrambled[:, t:] + 1 + t) % 5
        logits = prior.conditional_logits(scrambled.reshape(4, 2, 3))[:, t]
        total += logits.log_softmax(-1).gather(1, codes.flatten(1)[:, t:t + 1]).squeeze(1)
    torch.testing.assert_close(log_prob, total)
    torch.testing.assert_close(prior.position_log_probs(codes).flatten(1).sum(1), log_prob)


def test_prior_is_causal_and_later_positions_do_see_the_past():
    prior = random_prior(num_codes=4, grid=(3, 3))
    codes = torch.randint(0, 4, (2, 3, 3), generator=torch.Generator().manual_seed(1))
    changed = codes.clone()
    changed[:, 1, 1] = (changed[:, 1, 1] + 1) % 4  # raster position 4
    a, b = prior.conditional_logits(codes), prior.conditional_logits(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])  # positions 0..4 do not see position 4
    assert not torch.allclose(a[:, 5:], b[:, 5:])  # positions after it do


def test_prior_is_normalised_and_uniform_when_untrained():
    prior = random_prior(num_codes=3, grid=(2, 2))
    grids = torch.tensor(list(itertools.product(range(3), repeat=4))).reshape(-1, 2, 2)
    assert prior.log_prob(grids).exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    fresh = CausalTransformerPrior(3, (2, 2), width=16, layers=1, heads=2)
    torch.testing.assert_close(fresh.log_prob(grids[:5]), torch.full((5,), -4 * math.log(3)))


def test_prior_samples_are_valid_reproducible_and_follow_log_prob():
    prior = random_prior(num_codes=2, grid=(2, 2))
    samples = prior.sample(6000, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6000, 2, 2) and samples.dtype == torch.long
    assert samples.min() >= 0 and samples.max() < 2
    again = prior.sample(6000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)
    # Sampling order and log_prob's raster order agree: frequencies match the probabilities.
    grids = torch.tensor(list(itertools.product(range(2), repeat=4))).reshape(-1, 2, 2)
    expected = prior.log_prob(grids).exp()
    observed = (samples.flatten(1).unsqueeze(1) == grids.flatten(1)).all(-1).float().mean(0)
    torch.testing.assert_close(observed, expected, atol=0.025, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        prior.sample(1, temperature=0.0)


# ------------------------------------------------------------------------------- model
def test_model_shapes_groups_and_shape_errors():
    model = small_model()
    x = binary_batch()
    codes = model.encode_codes(x)
    assert codes.shape == (8, 4, 4) and codes.dtype == torch.long
    assert model.latent_dim == 8 * 4 * 4
    assert model.encode(x).mean.shape == (8, model.latent_dim)
    assert model.reconstruct(x).shape == x.shape
    groups = model.optimizer_groups()
    prior_ids = {id(p) for p in model.code_prior.parameters()}
    assert {id(p) for p in groups["prior"]} == prior_ids
    assert not prior_ids & {id(p) for p in groups["model"]}
    assert len(groups["model"]) + len(groups["prior"]) == len(list(model.parameters()))
    with pytest.raises(ShapeError, match="divisible by 4"):
        build_model({**SMALL, "data_shape": [1, 10, 10], "downsample": 2})
    with pytest.raises(ShapeError, match=r"\(1, 8, 8\)"):
        model.loss(torch.zeros(2, 1, 16, 16))


def test_loss_terms_and_prior_start_step():
    model = small_model(ema=False, dead_code_threshold=0.0)  # no restarts: codes stay put
    x = binary_batch()
    ctx = LossContext(step=0)
    out = model.loss(x, ctx)
    assert {"loss", "recon", "commitment", "codebook", "perplexity", "codebook_usage"} <= set(out)
    torch.testing.assert_close(out["loss"], out["recon"] + out["commitment"] + out["codebook"])
    assert torch.equal(ctx.cache["codes"], model.encode_codes(x))
    prior_out = model.loss(x, ctx, group="prior")
    torch.testing.assert_close(prior_out["loss"], -model.code_prior.log_prob(
        ctx.cache["codes"]).mean())
    torch.testing.assert_close(prior_out["prior_bits_per_code"],
                               prior_out["prior_nll"] / (16 * math.log(2)))
    late = small_model(prior_start_step=5).loss(x, LossContext(step=4), group="prior")
    assert late["loss"].item() == 0.0 and late["prior_nll"].item() > 0


def trainer_step(model: VQVAE, optimizers: dict, x: torch.Tensor, step: int) -> None:
    """One step the way the engine takes it: each group's loss, backward, Adam step."""
    ctx = LossContext(step=step)
    for name, optimizer in optimizers.items():
        loss = model.loss(x, ctx, group=name)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def test_frozen_autoencoder_stays_put_while_the_prior_learns():
    model = small_model(freeze_autoencoder_step=2)
    optimizers = {name: torch.optim.Adam(params, lr=1e-2)
                  for name, params in model.optimizer_groups().items()}
    x = binary_batch()
    for step in range(2):  # Adam builds momentum for every parameter first
        trainer_step(model, optimizers, x, step)
    prior_before = [p.clone() for p in model.code_prior.parameters()]
    autoencoder = {k: v.clone() for k, v in model.state_dict().items()
                   if not k.startswith("code_prior.")}
    trainer_step(model, optimizers, x, step=2)
    for name, value in model.state_dict().items():
        if name in autoencoder:
            assert torch.equal(value, autoencoder[name]), name
    assert any(not torch.equal(a, b) for a, b in zip(prior_before,
                                                      model.code_prior.parameters()))


def test_generic_elbo_is_recon_plus_prior_nll():
    model = small_model().eval()
    x = binary_batch()
    codes = model.encode_codes(x)
    recon = -model.decode_codes(codes).log_prob(x).mean().item()
    prior_nll = -model.code_prior.log_prob(codes).mean().item()
    result = evaluate_elbo(model, x)
    assert result["recon"] == pytest.approx(recon, rel=1e-5)
    assert result["kl"] == pytest.approx(prior_nll, rel=1e-5)  # KL of a one-hot posterior


# ------------------------------------------------------------------------ training run
TRAIN = ["model.type=vq_vae", "model.downsample=1", "model.num_codes=16", "model.code_dim=8",
         "model.hidden_channels=32", "model.residual_blocks=1", "model.residual_hidden=16",
         "model.prior_layers=2", "model.prior_width=32", "model.prior_heads=2",
         "data.name=test_blobs", "data.val_size=32", "train.batch_size=32",
         "train.max_steps=150", "train.lr=2e-3", "train.val_every=50", "train.log_every=10",
         "train.progress_bar=false", "train.loggers=[csv]"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("vq") / "run"
    return train(load_experiment(None, [*TRAIN, f"run_dir={run_dir}"]))


def logged(run_dir: Path, key: str) -> list[float]:
    with (run_dir / "logs" / "metrics.csv").open() as handle:
        return [float(r[key]) for r in csv.DictReader(handle) if r.get(key)]


def training_images(count: int = 224) -> torch.Tensor:
    from vaekit.registry import DATASETS

    dataset = DATASETS.get("test_blobs")()
    return torch.stack([dataset[i] for i in range(count)])


def test_training_lowers_losses_and_generates_images(trained):
    model = trained.model.eval()
    model_loss = logged(trained.run_dir, "train/model/loss")
    assert model_loss[-1] < 0.5 * model_loss[0]
    x = training_images()
    codes = model.encode_codes(x)
    trained_nll = -model.code_prior.log_prob(codes).mean()
    untrained = CausalTransformerPrior(16, (4, 4), width=32, layers=2, heads=2)
    initial_nll = -untrained.log_prob(codes).mean()  # uniform: 16 log 16 nats
    assert trained_nll < 0.8 * initial_nll
    images = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    assert model.config.data_shape == (1, 8, 8)


def test_save_and_load_round_trip(trained, tmp_path):
    model = trained.model.eval()
    loaded = load_pretrained(trained.run_dir / "model")
    assert isinstance(loaded, VQVAE) and loaded.config == model.config
    for name in ("codebook", "cluster_size", "embed_sum"):
        assert torch.equal(getattr(loaded.quantizer, name), getattr(model.quantizer, name))
    x = training_images(16)
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    b = loaded.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    # Through the generic save_pretrained too (a model that was never trained by the engine).
    fresh = small_model()
    fresh.loss(binary_batch())  # moves the EMA buffers away from their initial values
    again = load_pretrained(fresh.save_pretrained(tmp_path / "fresh"))
    assert torch.equal(again.quantizer.cluster_size, fresh.quantizer.cluster_size)
    assert torch.equal(again.quantizer.codebook, fresh.quantizer.codebook)
