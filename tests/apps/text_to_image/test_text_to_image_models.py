"""The text-conditioned models: seeded generation is reproducible, captions steer samples,
prompts are checked, and checkpoints keep the vocabulary."""

from __future__ import annotations

import pytest
import torch

from vaekit.apps.text_to_image.tokenizer import PromptError
from vaekit.checkpoint import load_pretrained
from vaekit.models import LossContext, build_model

SMALL = {
    "text_cvae": {"network": "mlp", "network_options": {"hidden": [32]}, "latent_dim": 4,
                  "text_dim": 8, "text_hidden": 16, "embed_dim": 8, "feature_dim": 16,
                  "hidden_dim": 16},
    "text_vq_vae": {"num_codes": 8, "code_dim": 4, "hidden_channels": 8, "residual_blocks": 1,
                    "residual_hidden": 4, "prior_layers": 1, "prior_width": 16,
                    "prior_heads": 2},
}
PROMPT = "a large ellipse at the bottom"


def make(name: str, seed: int = 0, **extra):
    torch.manual_seed(seed)
    return build_model({"type": name, "data_shape": [1, 16, 16], **SMALL[name], **extra}).eval()


@pytest.mark.parametrize("name", list(SMALL))
def test_same_seed_same_images_other_seed_other_images(name):
    model = make(name)
    a = model.sample(6, generator=torch.Generator().manual_seed(3), text=PROMPT)
    b = model.sample(6, generator=torch.Generator().manual_seed(3), text=PROMPT)
    c = model.sample(6, generator=torch.Generator().manual_seed(4), text=PROMPT)
    assert a.shape == (6, 1, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, c)
    assert (a >= 0).all() and (a <= 1).all()


@pytest.mark.parametrize("name", list(SMALL))
def test_the_caption_changes_the_samples_and_unknown_words_do_not_crash(name):
    model = make(name)
    if name == "text_vq_vae":  # an untrained prior is uniform (zero head): make it depend
        torch.nn.init.normal_(model.code_prior.head.weight, generator=torch.Generator()
                              .manual_seed(0))
    gen = torch.Generator
    a = model.sample(4, generator=gen().manual_seed(0), text="a tiny heart at the top left")
    b = model.sample(4, generator=gen().manual_seed(0), text="a huge square at the bottom")
    assert not torch.equal(a, b)
    odd = model.sample(2, generator=gen().manual_seed(0), text="a zebra riding a bicycle")
    assert torch.isfinite(odd).all()
    per_sample = model.sample(2, generator=gen().manual_seed(0), text=["a heart", "an oval"])
    assert per_sample.shape == (2, 1, 16, 16)


@pytest.mark.parametrize("name", list(SMALL))
def test_bad_prompts_are_clear_errors(name):
    model = make(name)
    with pytest.raises(PromptError, match="no words"):
        model.sample(2, text="")
    with pytest.raises(PromptError, match="more than this model's limit"):
        model.sample(2, text="heart " * 40)


@pytest.mark.parametrize("name", list(SMALL))
def test_checkpoint_keeps_the_vocabulary_and_the_samples(name, tmp_path):
    model = make(name)
    loaded = load_pretrained(model.save_pretrained(tmp_path / "m")).eval()
    assert loaded.config.vocab == model.config.vocab and "heart" in loaded.config.vocab
    a = model.sample(3, generator=torch.Generator().manual_seed(1), text=PROMPT)
    b = loaded.sample(3, generator=torch.Generator().manual_seed(1), text=PROMPT)
    assert torch.equal(a, b)


def test_text_cvae_prior_depends_on_the_caption_after_a_few_steps():
    model = make("text_cvae").train()
    x = torch.rand(8, 1, 16, 16).round()
    batch = model.example_batch(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(5):
        out = model.loss(batch, LossContext())
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    pz = model.conditional_prior(batch[1], 8)
    assert pz.batch_shape == (8,) and pz.event_shape == (4,)
    assert pz.mean.std(0).sum() > 0  # different captions, different priors
    # loss terms: loss = recon + KL (no warm-up, no free bits)
    out = model.loss(batch, LossContext())
    torch.testing.assert_close(out["loss"], out["recon"] + out["kl"])


def test_text_cvae_gsnn_hybrid_mixes_the_two_objectives():
    model = make("text_cvae", gsnn_weight=0.5)
    batch = model.example_batch(torch.rand(4, 1, 16, 16))
    torch.manual_seed(0)
    out = model.loss(batch, LossContext())
    assert "gsnn_recon" in out
    torch.testing.assert_close(out["loss"], 0.5 * (out["recon"] + out["kl"])
                               + 0.5 * out["gsnn_recon"])


def test_text_vq_prior_is_conditional_on_the_caption():
    model = make("text_vq_vae")
    codes = torch.randint(0, 8, (2, *model.grid_shape))
    tokens = model.tokenizer.encode_batch(["a heart", "a big square at the top"])
    with torch.no_grad():
        torch.nn.init.normal_(model.code_prior.head.weight)  # untrained: uniform otherwise
        a = model.code_prior.log_prob(codes, tokens)
        b = model.code_prior.log_prob(codes, tokens.flip(0))
    assert a.shape == (2,) and not torch.allclose(a, b)
    # the causal mask: a code's logits never depend on later codes
    later = codes.clone()
    later[:, -1, -1] = (later[:, -1, -1] + 1) % 8
    la = model.code_prior.conditional_logits(codes, tokens)
    lb = model.code_prior.conditional_logits(later, tokens)
    torch.testing.assert_close(la, lb)


def test_batches_with_mismatched_tokens_are_errors():
    from vaekit.errors import ShapeError

    model = make("text_cvae")
    x = torch.rand(4, 1, 16, 16)
    with pytest.raises(ShapeError, match="do not fit"):
        model.loss((x, torch.ones(3, 16, dtype=torch.long)))
