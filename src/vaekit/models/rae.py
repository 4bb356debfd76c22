"""Regularised autoencoders RAE-L2 and RAE-GP.

Ghosh, Sajjadi, Vergari, Black & Schölkopf (2020), "From Variational to Deterministic
Autoencoders", ICLR, sec. 3: a deterministic autoencoder whose loss replaces the VAE's noise
injection and KL by explicit regularisers::

    L_RAE = L_REC + beta * L_Z + lambda * L_REG,        L_Z = ||z||^2 / 2,   z = E(x)

``L_Z`` bounds the latent space (the role the KL plays for a VAE's codes) and ``L_REG`` makes the
decoder smooth (the role of the VAE's noise). Two choices of ``L_REG`` are registered here:

- ``rae_l2``: ``||theta||^2``, the squared L2 norm of the decoder's weights, as an explicit loss
  term (with Adam this is L2 regularisation, not decoupled weight decay). Like the authors'
  Keras code (``kernel_regularizer=l2(lambda)``) it covers the weight matrices and kernels of the
  decoder, not its biases.
- ``rae_gp``: ``||grad_z D(z)||^2``, a gradient penalty on the decoder at the codes of the batch:
  the squared Frobenius norm of the Jacobian of the decoder's mean ``E[p(x|z)]`` with respect to
  z, per example. The whole Jacobian would cost a pass per latent dimension (forward mode) or
  per output value (reverse mode), so its norm is estimated without bias by Hutchinson's trick,
  ``||J||_F^2 = E_v ||J^T v||^2`` for v ~ N(0, I), with one probe per example and one extra
  (double) backward pass per step (:func:`jacobian_sq_norm_estimate`). (pythae's RAE_GP
  differentiates the reconstruction with respect to the *input* x instead, i.e. through the
  encoder too; the authors' code penalises the gradient of ``sum(D(z)^2)`` with respect to z.)

Both are meant to be sampled from by *ex-post density estimation*: their codes follow no fixed
prior, so after training fit a density to the codes of the training set and decode its samples,
e.g. :class:`vaekit.samplers.GaussianMixtureSampler` (10 full-covariance components, the
paper's "GMM" sampler). ``sample``/``prior()`` still give N(0, I) draws, which are poor.

Defaults: ``beta = 1e-4`` and ``lambda = 1e-7`` (RAE-L2) / ``0.5e-7`` (RAE-GP), the MNIST values
of the authors' configuration (ParthaEth/Regularized_autoencoders-RAE-, configurations/config.py;
pythae uses 1e-4 and 1e-7 for both). They were tuned for the authors' losses, whose
reconstruction term is a squared error *averaged* over the P pixels and whose code term is the
*mean* of z^2 over the d latent dimensions. vaekit's reconstruction term is a negative
log-likelihood *summed* over pixels, so the same balance needs weights about P times larger:
``embedding_weight ~ 2 P beta / d`` (about 1e-2 for MNIST with d = 16) and, for RAE-L2,
``reg_weight ~ P lambda`` (about 1e-4). With the defaults both regularisers are weak and the
models behave much like the plain autoencoder. (The authors' gradient penalty is a different
quantity from the Jacobian norm used here, so its weight has no such conversion.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from vaekit.config import check
from vaekit.models.autoencoder import Autoencoder, AutoencoderConfig
from vaekit.models.base import LossContext
from vaekit.registry import MODELS


# --------------------------------------------------------------------------------- penalties
def code_penalty(z: torch.Tensor) -> torch.Tensor:
    """``L_Z = ||z||^2 / 2`` per example ``(B,)`` for codes ``z (B, D)``."""
    return 0.5 * z.pow(2).sum(-1)


def weight_sq_norm(module: torch.nn.Module) -> torch.Tensor:
    """Sum of squared entries of ``module``'s weight matrices and kernels (parameters with more
    than one dimension; biases and scalars are left alone, as Keras' kernel_regularizer does)."""
    weights = [p for p in module.parameters() if p.dim() > 1]
    if not weights:
        return torch.zeros(())
    return torch.stack([w.pow(2).sum() for w in weights]).sum()


def jacobian_sq_norm_estimate(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Unbiased one-probe estimate of ``||d fn(z_i) / d z_i||_F^2`` per example ``(B,)``.

    ``fn`` maps codes ``(B, D)`` to outputs ``(B, ...)`` row by row (a decoder with batch
    normalisation in training mode couples the rows; the estimate then also counts the
    cross-example derivatives). With v ~ N(0, I) of the
    output's shape, ``E_v ||J^T v||^2 = tr(J J^T) = ||J||_F^2`` (Hutchinson 1990), and
    ``J^T v`` is one vector-Jacobian product: the gradient of ``sum(fn(z) * v)`` with respect to
    z. The result keeps its graph (``create_graph``), so it can be minimised. Without autograd
    (``torch.no_grad`` or inference mode, e.g. during validation) it is computed on a detached
    copy of z and returned detached.
    """
    if not (torch.is_grad_enabled() and z.requires_grad):
        with torch.inference_mode(False), torch.enable_grad():
            z_copy = z.detach().clone().requires_grad_(True)
            return jacobian_sq_norm_estimate(fn, z_copy, generator).detach()
    out = fn(z)
    probe = torch.randn(out.shape, generator=generator, dtype=out.dtype,
                        device=out.device if generator is None else generator.device)
    (vjp,) = torch.autograd.grad((out * probe.to(out.device)).sum(), z, create_graph=True)
    return vjp.pow(2).sum(-1)


# ------------------------------------------------------------------------------------ models
@dataclass
class RAEL2Config(AutoencoderConfig):
    config_type: ClassVar[str] = "rae_l2"

    embedding_weight: float = 1e-4  # beta, on ||z||^2 / 2
    reg_weight: float = 1e-7  # lambda, on the decoder's squared weight norm

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.embedding_weight >= 0,
              f"model.embedding_weight must be >= 0, got {self.embedding_weight}")
        check(self.reg_weight >= 0, f"model.reg_weight must be >= 0, got {self.reg_weight}")


@dataclass
class RAEGPConfig(RAEL2Config):
    config_type: ClassVar[str] = "rae_gp"

    reg_weight: float = 0.5e-7  # lambda, on the decoder's squared Jacobian norm


class _RegularisedAutoencoder(Autoencoder):
    """recon + beta * ||z||^2 / 2 + lambda * decoder_penalty; subclasses give the penalty."""

    def decoder_penalty(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        z, recon = self.reconstruction(x)
        embedding = code_penalty(z).mean()
        penalty = self.decoder_penalty(z)
        cfg = self.config
        loss = recon.mean() + cfg.embedding_weight * embedding + cfg.reg_weight * penalty
        return {"loss": loss, "recon": recon.mean(), "embedding": embedding,
                "decoder_reg": penalty}


@MODELS.register("rae_l2")
class RAEL2(_RegularisedAutoencoder):
    """RAE with an L2 penalty on the decoder's weights."""

    config_class: ClassVar[type] = RAEL2Config

    def decoder_penalty(self, z: torch.Tensor) -> torch.Tensor:
        return weight_sq_norm(self.decoder).to(z.device)


@MODELS.register("rae_gp")
class RAEGP(_RegularisedAutoencoder):
    """RAE with a gradient penalty on the decoder at the batch's codes."""

    config_class: ClassVar[type] = RAEGPConfig

    def decoded_mean(self, z: torch.Tensor) -> torch.Tensor:
        """D(z): the mean of p(x|z), the reconstruction the penalty keeps smooth."""
        return self.decode(z).mean

    def decoder_penalty(self, z: torch.Tensor) -> torch.Tensor:
        return jacobian_sq_norm_estimate(self.decoded_mean, z).mean()
