"""SVG (Denton & Fergus 2018): causality of the posterior, learned prior and predictor; teacher
forcing against free running; shapes for any context and horizon; the three variants."""

from __future__ import annotations

import pytest
import torch

from vaekit.apps.video.svg import SVG
from vaekit.errors import ShapeError
from vaekit.models import BaseVAE, LossContext, build_model

TINY = {"channels": [4, 8], "g_dim": 8, "z_dim": 3, "predictor_hidden": 16,
        "predictor_layers": 2, "posterior_hidden": 8, "prior_hidden": 8, "context": 3}
FRAME = (1, 16, 16)


def make(prior: str = "learned", seed: int = 0, **extra) -> SVG:
    torch.manual_seed(seed)
    return build_model({"type": "svg", "prior": prior, "data_shape": list(FRAME),
                        **TINY, **extra})


def clips(b: int = 2, t: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.rand((b, t, *FRAME), generator=torch.Generator().manual_seed(seed))


def _loc_scale(dist) -> tuple[torch.Tensor, torch.Tensor]:
    return dist.base_dist.loc, dist.base_dist.scale


@pytest.mark.parametrize("k", [2, 4])
def test_posterior_prior_and_predictions_are_causal(k):
    """Changing frame k leaves q(z_s | x_<=s) for s < k, p(z_s | x_<s) for s <= k and the
    teacher-forced prediction of frames s <= k unchanged, and does change the later ones."""
    model = make()
    x = clips()
    y = x.clone()
    y[:, k] = torch.rand_like(y[:, k])
    z = torch.randn(2, x.shape[1] - 1, TINY["z_dim"])
    with torch.no_grad():
        a, b = model.teacher_forced(x, z=z), model.teacher_forced(y, z=z)
    # Position p of qz / pz / px is step s = p + 1 (steps 1..T-1 are predicted).
    qa, qb = _loc_scale(a["qz"]), _loc_scale(b["qz"])
    pa, pb = _loc_scale(a["pz"]), _loc_scale(b["pz"])
    ma, mb = a["px"].mean, b["px"].mean
    for s in range(1, x.shape[1]):
        p = s - 1
        same_q = all(torch.equal(u[:, p], v[:, p]) for u, v in zip(qa, qb))
        same_p = all(torch.equal(u[:, p], v[:, p]) for u, v in zip(pa, pb))
        same_x = torch.equal(ma[:, p], mb[:, p])
        assert same_q == (s < k), f"posterior at step {s}, changed frame {k}"
        assert same_p == (s <= k), f"learned prior at step {s}, changed frame {k}"
        assert same_x == (s <= k), f"prediction of frame {s}, changed frame {k}"


def test_free_running_feeds_back_its_own_frames_and_teacher_forcing_the_true_ones():
    model = make().eval()
    x = clips(t=8)
    tc, horizon = 3, 5
    with torch.no_grad():
        out = model.rollout(x[:, :tc], horizon, generator=torch.Generator().manual_seed(3))
        frames, z = out["frames"], out["z"]
        assert z.shape == (2, tc - 1 + horizon, TINY["z_dim"])
        # Teacher forcing on [context, own predictions] with the same latents reproduces the
        # free-running frames exactly: generation = teacher forcing on its own outputs.
        own = model.teacher_forced(torch.cat([x[:, :tc], frames], 1), z=z, context=tc)
        torch.testing.assert_close(model.likelihood.mean_image(own["px"])[:, tc - 1:], frames)
        # On the true clip, teacher forcing feeds the true frames: the first predicted frame is
        # the same (same inputs), the later ones are not.
        true = model.teacher_forced(x[:, :tc + horizon], z=z, context=tc)
        true_frames = model.likelihood.mean_image(true["px"])[:, tc - 1:]
        torch.testing.assert_close(true_frames[:, 0], frames[:, 0], rtol=0, atol=1e-7)
        # (an untrained net depends only weakly on its input frame: compare at a fine scale)
        assert (true_frames[:, 1:] - frames[:, 1:]).abs().amax() > 1e-5


def test_generation_draws_from_the_learned_prior_of_the_generated_past():
    """Each future z_t is loc + scale * eps of p(z_t | generated x_<t), eps from the generator."""
    model = make().eval()
    x = clips(b=3)
    tc, horizon = 2, 4
    with torch.no_grad():
        out = model.rollout(x[:, :tc], horizon, generator=torch.Generator().manual_seed(7))
        tf = model.teacher_forced(torch.cat([x[:, :tc], out["frames"]], 1), z=out["z"],
                                  context=tc)
    replay = torch.Generator().manual_seed(7)
    eps = torch.cat([torch.randn((3, 1, TINY["z_dim"]), generator=replay)
                     for _ in range(tc - 1 + horizon)], dim=1)
    loc, scale = _loc_scale(tf["pz"])
    torch.testing.assert_close(out["z"][:, tc - 1:], loc[:, tc - 1:] + scale[:, tc - 1:] *
                               eps[:, tc - 1:])
    ploc, pscale = _loc_scale(tf["qz"])  # context steps: posterior samples
    torch.testing.assert_close(out["z"][:, :tc - 1], ploc[:, :tc - 1] + pscale[:, :tc - 1] *
                               eps[:, :tc - 1])


@pytest.mark.parametrize("prior", ["learned", "fixed", "deterministic"])
@pytest.mark.parametrize(("context", "horizon"), [(1, 1), (2, 3), (4, 9)])
def test_prediction_shapes_for_any_context_and_horizon(prior, context, horizon):
    model = make(prior).eval()
    x = clips(b=2, t=context)
    futures = model.predict(x, horizon, num_samples=3,
                            generator=torch.Generator().manual_seed(0))
    assert futures.shape == (3, 2, horizon, *FRAME)
    assert futures.min() >= 0 and futures.max() <= 1
    distinct = not torch.allclose(futures[0], futures[1])
    assert distinct == (prior != "deterministic")


def test_sampling_is_reproducible_with_a_generator():
    model = make().eval()
    x = clips(t=3)
    a = model.predict(x, 4, num_samples=2, generator=torch.Generator().manual_seed(5))
    b = model.predict(x, 4, num_samples=2, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_variants_and_their_loss_terms():
    x = clips()
    det = make("deterministic")
    assert det.latent_dim == 0 and det.posterior_net is None and det.prior_net is None
    out = det.loss(x)
    assert float(out["kl"]) == 0.0 and torch.equal(out["loss"], out["recon"])
    fixed = make("fixed")
    assert fixed.prior_net is None and fixed.posterior_net is not None
    pz = fixed.teacher_forced(x)["pz"]
    assert torch.equal(pz.base_dist.loc, torch.zeros_like(pz.base_dist.loc))
    assert torch.equal(pz.base_dist.scale, torch.ones_like(pz.base_dist.scale))
    learned = make("learned", beta=0.5)
    torch.manual_seed(0)
    terms = learned.loss(x, LossContext(kl_weight=0.3))
    # recon is the summed per-step negative log-likelihood, averaged over clips.
    torch.manual_seed(0)
    tf = learned.teacher_forced(x)
    torch.testing.assert_close(terms["recon"], -tf["px"].log_prob(x[:, 1:]).sum(1).mean())
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.5 * 0.3 * terms["kl"])
    assert terms["kl"] > 0
    # Free bits floor the optimised KL of each (step, dim), batch-averaged; kl stays the true one.
    torch.manual_seed(0)
    floored = learned.loss(x, LossContext(free_bits=100.0))
    torch.testing.assert_close(floored["kl"], terms["kl"])
    steps = x.shape[1] - 1
    torch.testing.assert_close(floored["loss"],
                               terms["recon"] + 0.5 * 100.0 * steps * TINY["z_dim"])


def moving_squares(b: int = 4, t: int = 5) -> torch.Tensor:
    """A 4x4 white square moving one pixel right per frame from a different row per clip."""
    x = torch.zeros(b, t, *FRAME)
    for i in range(b):
        for s in range(t):
            x[i, s, 0, 2 + 2 * i:6 + 2 * i, 2 + s:6 + s] = 1.0
    return x


def test_training_steps_lower_the_loss_of_every_variant():
    x = moving_squares()
    for prior in ("learned", "deterministic"):
        model = make(prior)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        torch.manual_seed(0)
        first = model.loss(x)["loss"].item()
        for _ in range(25):
            loss = model.loss(x)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert model.loss(x)["loss"].item() < 0.5 * first, prior


def test_save_and_load_give_the_same_predictions(tmp_path):
    model = make().eval()
    loaded = BaseVAE.from_pretrained(model.save_pretrained(tmp_path / "svg"))
    assert isinstance(loaded, SVG) and loaded.config == model.config
    x = clips(t=3)
    a = model.predict(x, 3, num_samples=2, generator=torch.Generator().manual_seed(1))
    b = loaded.predict(x, 3, num_samples=2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_bad_shapes_are_clear_errors():
    model = make()
    with pytest.raises(ShapeError, match=r"\(B, T, C, H, W\)"):
        model.loss(torch.rand(2, *FRAME))
    with pytest.raises(ShapeError, match="T >= 2"):
        model.loss(torch.rand(2, 1, *FRAME))
    with pytest.raises(ShapeError, match="horizon"):
        model.predict(clips(t=2), 0)
    with pytest.raises(ShapeError, match="multiples of 4"):
        build_model({"type": "svg", "data_shape": [1, 18, 18], **TINY})


def test_elbo_terms_and_importance_weights_agree_with_the_loss():
    model = make().eval()
    x = clips()
    gen = torch.Generator().manual_seed(0)
    recon, kl = model.elbo_terms(x, num_samples=2, generator=gen)
    assert recon.shape == kl.shape == (2,) and (kl > 0).all()
    log_w = model.log_importance_weights(x, 3, generator=torch.Generator().manual_seed(1))
    assert log_w.shape == (3, 2) and torch.isfinite(log_w).all()
    # E_q[log w] is the ELBO: with many samples the means agree within Monte-Carlo error.
    many = model.log_importance_weights(x, 200, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(many.mean(0), -(recon + kl), rtol=0, atol=3.0)
    det = make("deterministic")
    d_recon, d_kl = det.elbo_terms(x)
    assert torch.equal(d_kl, torch.zeros(2))
    torch.testing.assert_close(det.log_importance_weights(x, 2)[0], -d_recon)


def test_example_batch_turns_images_into_moving_clips():
    model = make()
    images = torch.rand(3, *FRAME)
    batch = model.example_batch(images)
    assert batch.shape == (3, TINY["context"] + 2, *FRAME)
    assert torch.equal(batch[:, 0], images) and torch.equal(batch[:, 2], images.roll(2, -1))
    assert model.example_batch(batch) is batch
    assert model.example_batch(4).shape == (4, TINY["context"] + 2, *FRAME)
    assert torch.isfinite(model.loss(model.example_batch(images))["loss"])
