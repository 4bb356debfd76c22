"""GAN losses on discriminator logits, shared by the adversarial image models.

Two kinds, chosen by name:

- ``"non_saturating"``: Goodfellow et al. (2014), "Generative Adversarial Nets", NeurIPS, sec. 3.
  The discriminator minimises the cross-entropy ``-log D(x) - log(1 - D(G(z)))`` with
  ``D = sigmoid(logit)``; the generator minimises ``-log D(G(z))`` (the non-saturating form,
  rather than ``log(1 - D(G(z)))``, which saturates when D rejects the fakes confidently).
- ``"hinge"``: Lim & Ye (2017), "Geometric GAN", and Miyato et al. (2018), "Spectral
  Normalization for Generative Adversarial Networks", ICLR, eq. 17: the discriminator minimises
  ``max(0, 1 - D(x)) + max(0, 1 + D(G(z)))`` on raw logits, the generator ``-D(G(z))``.

Every term is a per-example mean (real and fake batches may differ in size, e.g. VAE-GAN's fakes
are reconstructions and prior samples together); the discriminator's loss is the sum of its real
and fake halves. Values are in nats for the non-saturating kind and in logit units for hinge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaekit.errors import ConfigError, ShapeError

ADVERSARIAL_LOSSES = ("non_saturating", "hinge")


def check_adversarial_kind(kind: str, key: str = "kind") -> str:
    """``kind`` if it names an adversarial loss, else a ConfigError naming ``key`` and the
    options."""
    if kind not in ADVERSARIAL_LOSSES:
        raise ConfigError(
            f"{key} must be one of {', '.join(ADVERSARIAL_LOSSES)} (the adversarial loss), "
            f"got {kind!r}"
        )
    return kind


def _logits(logits: torch.Tensor, name: str) -> torch.Tensor:
    """Logits as a flat ``(N,)`` vector: one per example, ``(N,)`` or ``(N, 1)`` accepted."""
    if logits.dim() == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.dim() != 1 or logits.numel() == 0:
        raise ShapeError(
            f"{name} must hold one logit per example, shape (N,) or (N, 1) with N > 0, got "
            f"{tuple(logits.shape)}"
        )
    return logits


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                       kind: str = "non_saturating") -> dict[str, torch.Tensor]:
    """The discriminator's loss on real ``(N,)`` and fake ``(M,)`` logits.

    Returns ``loss`` (minimised: the real term's mean plus the fake term's mean), and, detached
    for logging, ``d_real`` and ``d_fake``: the mean logit on real and on fake examples (a
    discriminator that tells them apart has ``d_real > d_fake``).
    """
    check_adversarial_kind(kind)
    real_logits = _logits(real_logits, "real_logits")
    fake_logits = _logits(fake_logits, "fake_logits")
    if kind == "hinge":
        real_term = F.relu(1.0 - real_logits)
        fake_term = F.relu(1.0 + fake_logits)
    else:  # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
        real_term = F.softplus(-real_logits)
        fake_term = F.softplus(fake_logits)
    return {"loss": real_term.mean() + fake_term.mean(),
            "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's adversarial term on fake logits ``(M,)``: a scalar to minimise, which
    falls as the discriminator scores the fakes as more real."""
    check_adversarial_kind(kind)
    fake_logits = _logits(fake_logits, "fake_logits")
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()  # -log D(G(z))
