"""Semi-supervised M2: labelled / unlabelled bounds (eq. 6-9), marginals, classifier, training."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.distributions import kl_divergence

import vaekit.models.m2  # noqa: F401  (registers "m2")
from vaekit.errors import ConfigError, ShapeError
from vaekit.models import build_model
from vaekit.training import load_experiment, train

SHAPE = (1, 6, 6)


def make(seed: int = 0, **extra):
    torch.manual_seed(seed)
    config = {"type": "m2", "network": "mlp", "data_shape": SHAPE, "latent_dim": 2,
              "num_classes": 3, "feature_dim": 16, "network_options": {"hidden": [16]}, **extra}
    return build_model(config)


def binary_batch(n: int = 5, seed: int = 1) -> torch.Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def test_labelled_bound_is_eq_6():
    """L(x, y) = -log p(x|y,z) + KL(q(z|x,y) || p(z)) - log p(y), z ~ q(z|x,y)."""
    model, x = make(), binary_batch()
    y = torch.tensor([0, 2, 1, 1, 0])
    torch.manual_seed(3)
    recon, kl = model.labelled_terms(x, y)
    torch.manual_seed(3)
    qz = model.encode_given(x, y)
    z = qz.rsample((1,))
    torch.testing.assert_close(recon, -model.decode(z, y[None]).log_prob(x)[0])
    torch.testing.assert_close(kl, kl_divergence(qz, model.prior()) + math.log(3))


def test_unlabelled_bound_marginalises_y_exactly():
    """U(x) = sum_y q(y|x) L(x, y) - H(q(y|x)) (eq. 7), with L(x, y) for every class computed by
    hand from the labelled bound on the batch repeated class by class (the same noise)."""
    model, x = make(), binary_batch(4)
    torch.manual_seed(0)
    recon_u, kl_u, qy = model.unlabelled_terms(x)
    torch.manual_seed(0)
    y_all = torch.tensor([c for c in range(3) for _ in range(len(x))])
    recon_l, kl_l = model.labelled_terms(torch.cat([x] * 3), y_all)
    bound_per_class = (recon_l + kl_l).view(3, len(x))  # L(x, y = c), row c
    probs = torch.softmax(model.classifier(x), dim=-1)
    by_hand = torch.zeros(len(x))
    for c in range(3):
        by_hand = by_hand + probs[:, c] * bound_per_class[c] + probs[:, c] * probs[:, c].log()
    torch.testing.assert_close(recon_u + kl_u, by_hand)
    torch.testing.assert_close(qy.probs, probs)
    # The recon part alone is the q(y|x)-weighted class reconstruction.
    torch.testing.assert_close(recon_u, (probs * recon_l.view(3, -1).T).sum(-1))


def test_loss_of_a_mixed_batch_is_eq_9_per_example():
    model, x = make(), binary_batch(6)
    y = torch.tensor([1, -1, 0, -1, -1, 2])
    labelled = y >= 0
    torch.manual_seed(1)
    out = model.loss((x, y))
    torch.manual_seed(1)  # the loss draws the labelled examples' noise first
    recon_l, kl_l = model.labelled_terms(x[labelled], y[labelled])
    recon_u, kl_u, _ = model.unlabelled_terms(x[~labelled])
    bounds = torch.cat([recon_l + kl_l, recon_u + kl_u])
    cross_entropy = torch.nn.functional.cross_entropy(model.classifier(x[labelled]), y[labelled])
    torch.testing.assert_close(out["elbo"], -bounds.mean())
    torch.testing.assert_close(out["loss"], bounds.mean() + 0.1 * cross_entropy)
    torch.testing.assert_close(out["classifier_ce"], cross_entropy)
    assert float(out["labelled_fraction"]) == pytest.approx(0.5)


def test_a_plain_tensor_batch_is_unlabelled():
    model, x = make(), binary_batch()
    torch.manual_seed(2)
    a = model.loss(x)
    torch.manual_seed(2)
    b = model.loss((x, torch.full((len(x),), -1)))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert float(a["labelled_fraction"]) == 0.0 and float(a["classifier_ce"]) == 0.0
    with pytest.raises(ShapeError, match="labels"):
        model.loss((x, torch.zeros(2)))


def test_marginal_encoder_and_decoder_are_mixtures_over_classes():
    model, x = make(), binary_batch()
    probs = torch.softmax(model.classifier(x), dim=-1)
    means = torch.stack([model.encode_given(x, torch.full((len(x),), c)).mean for c in range(3)],
                        dim=1)
    torch.testing.assert_close(model.encode(x).mean, (probs.unsqueeze(-1) * means).sum(1))
    z = torch.randn(len(x), 2)
    per_class = torch.stack([model.decode(z, torch.full((len(x),), c)).log_prob(x)
                             for c in range(3)])
    torch.testing.assert_close(model.decode(z).log_prob(x),
                               torch.logsumexp(per_class, 0) - math.log(3))
    assert model.decode(torch.randn(4, 7, 2)).batch_shape == (4, 7)


def test_importance_weights_average_to_the_unlabelled_bound():
    model, x = make(), binary_batch(3)
    with torch.no_grad():
        log_w = model.log_importance_weights(x, 20000, torch.Generator().manual_seed(0))
        recon, kl = model.elbo_terms(x, 2000, torch.Generator().manual_seed(1))
    assert log_w.shape == (20000, 3)
    stderr = log_w.std(0) / math.sqrt(len(log_w))
    assert torch.all((log_w.mean(0) + recon + kl).abs() < 5 * stderr + 0.03)
    gen = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    torch.testing.assert_close(model.log_importance_weights(x, 6, gen()),
                               model.log_importance_weights(x, 6, gen()))


def quadrant_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """6x6 images with a 2x2 square in one of four quadrants; the label is the quadrant."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(4, (n,), generator=g)
    offsets = torch.randint(2, (n, 2), generator=g)
    images = torch.zeros(n, *SHAPE)
    for i in range(n):
        r = 3 * (labels[i] // 2) + offsets[i, 0]
        c = 3 * (labels[i] % 2) + offsets[i, 1]
        images[i, 0, r:r + 2, c:c + 2] = 1
    return images, labels


def test_classifier_accuracy_improves_on_a_toy_labelled_set():
    model = make(num_classes=4)
    x, y = quadrant_images(256, seed=0)
    x_test, y_test = quadrant_images(200, seed=1)

    def accuracy() -> float:
        with torch.no_grad():
            return float((model.classify(x_test).logits.argmax(-1) == y_test).float().mean())

    before = accuracy()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(120):
        idx = torch.randint(len(x), (32,))
        out = model.loss((x[idx], y[idx]))
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert before < 0.5
    assert accuracy() > 0.9
    assert float(out["accuracy"]) > 0.8


def test_sampling_and_reconstruction():
    model, x = make(), binary_batch()
    samples = model.sample(4, torch.Generator().manual_seed(0), y=torch.tensor([0, 1, 2, 0]))
    assert samples.shape == (4, *SHAPE)
    assert torch.equal(samples, model.sample(4, torch.Generator().manual_seed(0),
                                             y=torch.tensor([0, 1, 2, 0])))
    assert model.sample(3).shape == (3, *SHAPE)
    assert model.reconstruct(x).shape == x.shape


def test_config_errors():
    with pytest.raises(ConfigError, match="num_classes"):
        make(num_classes=1)
    with pytest.raises(ConfigError, match="classifier_weight"):
        make(classifier_weight=-1.0)


def test_training_through_the_engine_lowers_the_loss(tmp_path):
    """The engine passes image batches only: M2 trains on the unlabelled bound U(x)."""
    config = load_experiment(None, [
        "model.type=m2", "model.network=mlp", "model.latent_dim=3", "model.num_classes=4",
        "model.feature_dim=32", "model.network_options={hidden: [64]}",
        "data.name=test_blobs", "data.val_size=32", "train.batch_size=32",
        "train.max_steps=60", "train.lr=5e-3", "train.log_every=5", "train.val_every=30",
        "train.progress_bar=false", "train.loggers=[csv]", f"run_dir={tmp_path / 'run'}"])
    result = train(config)
    assert math.isfinite(result.metrics["val/loss"])
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as handle:
        curve = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(curve) >= 10
    assert sum(curve[-3:]) / 3 < 0.8 * sum(curve[:3]) / 3
