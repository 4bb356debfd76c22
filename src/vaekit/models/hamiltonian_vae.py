"""Hamiltonian VAE (HVAE).

Caterini, Doucet & Sejdinovic (2018), "Hamiltonian Variational Auto-Encoder", NeurIPS. The
posterior sample is refined by K steps of deterministic, tempered Hamiltonian dynamics targeting
``p(x, z) N(rho | 0, I)`` (the paper's tempered Hamiltonian flow)::

    z_0 ~ q_0(z|x),  rho_0 ~ N(0, beta_0^{-1} I)
    for k = 1..K:   rho' = rho - (eps/2) * grad U(z);  z = z + eps * rho';
                    rho'' = rho' - (eps/2) * grad U(z);  rho = sqrt(beta_{k-1} / beta_k) rho''
    U(z) = -log p(x|z) - log p(z)

with the quadratic tempering scheme ``1/sqrt(beta_k) = (1 - 1/sqrt(beta_0)) k^2/K^2 +
1/sqrt(beta_0)`` (so beta_K = 1; the authors' code applies the same quadratic form to the
temperature T_k = 1/beta_k itself, pythae follows the paper's form used here). Leapfrog steps
preserve volume and each tempering step scales the momentum, so the flow's log-Jacobian is
``(D/2) log(beta_0 / beta_K)`` and the bound is (the paper's HVAE ELBO, by the change of
variables through the flow)::

    L = E[ log p(x, z_K) + log N(rho_K | 0, I) - log q_0(z_0|x) - log N(rho_0 | 0, beta_0^{-1} I)
           + (D/2) log beta_0 ]

The loss reports ``recon = -log p(x|z_K)`` and ``kl`` = the rest of the negative bound (a
single-sample estimate, which may be negative for one example). The step sizes (one per latent
dimension) and the initial temperature ``T_0 = 1/beta_0`` are learned with the rest of the model.
Their parameterisation and defaults follow the authors' MNIST code
(github.com/anthonycaterini/hvae-nips, ``mnist/main.py`` and ``mnist/models.py``): ``eps =
max_step_size * sigmoid(raw)`` with ``max_lf = 0.5`` and ``init_lf = 0.2``, ``T_0 = 1 + exp(raw)``
with ``init_T_0 = 1.5`` (beta_0 = 2/3). The paper's MNIST runs sweep K in {1, 5, 10, 15, 20}
(``mnist/tests.sh``); the default K = 10 is one of those settings, not a claimed optimum.
With K = 0 there is no room for tempering, beta_0 is taken as 1 and the bound is exactly the
VAE's single-sample ELBO.

The leapfrog gradients are taken with ``torch.autograd.grad(create_graph=True)`` during training
(the bound is differentiated through the dynamics) and without a graph under ``no_grad`` /
``inference_mode`` (validation, evaluation), where autograd is re-enabled locally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.distributions import Distribution, Normal

from vaekit.config import check
from vaekit.distributions.sampling import sample_posterior
from vaekit.models.base import BaseVAE, LossContext, VAEConfig
from vaekit.registry import MODELS


@dataclass
class HamiltonianVAEConfig(VAEConfig):
    config_type: ClassVar[str] = "hamiltonian_vae"

    num_leapfrog_steps: int = 10  # K
    init_step_size: float = 0.2  # leapfrog eps, one per latent dimension (authors' init_lf)
    max_step_size: float = 0.5  # eps = max_step_size * sigmoid(raw) (authors' max_lf)
    init_temperature: float = 1.5  # T_0 = 1 / beta_0 >= 1 (authors' init_T_0); 1 = no tempering
    learn_step_size: bool = True
    learn_temperature: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.num_leapfrog_steps >= 0,
              f"model.num_leapfrog_steps must be >= 0, got {self.num_leapfrog_steps}")
        check(self.max_step_size > 0,
              f"model.max_step_size must be positive, got {self.max_step_size}")
        check(0 < self.init_step_size < self.max_step_size,
              f"model.init_step_size must be in (0, max_step_size={self.max_step_size}), got "
              f"{self.init_step_size}")
        check(self.init_temperature >= 1,
              f"model.init_temperature (T_0 = 1/beta_0) must be >= 1, got "
              f"{self.init_temperature}")


@MODELS.register("hamiltonian_vae")
class HamiltonianVAE(BaseVAE):
    """VAE whose posterior sample is moved by K tempered leapfrog steps (see module docstring)."""

    config_class: ClassVar[type] = HamiltonianVAEConfig

    def __init__(self, config: HamiltonianVAEConfig) -> None:
        super().__init__(config)
        ratio = config.init_step_size / config.max_step_size
        self.raw_step_size = nn.Parameter(torch.full((config.latent_dim,),
                                                     math.log(ratio / (1 - ratio))),
                                          requires_grad=config.learn_step_size)
        tempered = config.init_temperature > 1
        raw_temperature = math.log(config.init_temperature - 1) if tempered else -math.inf
        # T_0 = 1 exactly has no gradient through 1 + exp(raw): it stays fixed.
        self.raw_temperature = nn.Parameter(torch.tensor(raw_temperature),
                                            requires_grad=config.learn_temperature and tempered)

    # ----------------------------------------------------------------- flow parameters
    @property
    def num_steps(self) -> int:
        return self.config.num_leapfrog_steps

    def step_sizes(self) -> torch.Tensor:
        """Leapfrog step sizes eps ``(D,)`` in (0, max_step_size)."""
        return self.config.max_step_size * torch.sigmoid(self.raw_step_size)

    def sqrt_betas(self) -> torch.Tensor:
        """``sqrt(beta_k)`` for k = 0..K ``(K + 1,)``: quadratic tempering from beta_0 to 1."""
        if self.num_steps == 0:
            return torch.ones(1, device=self.raw_temperature.device,
                              dtype=self.raw_temperature.dtype)
        sqrt_t0 = torch.sqrt(1.0 + torch.exp(self.raw_temperature))  # 1 / sqrt(beta_0)
        k = torch.arange(self.num_steps + 1, device=sqrt_t0.device, dtype=sqrt_t0.dtype)
        return 1.0 / ((1.0 - sqrt_t0) * (k / self.num_steps) ** 2 + sqrt_t0)

    # ---------------------------------------------------------------------- dynamics
    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x|z) + log p(z)`` = -U(z), shape ``z.shape[:-1]``."""
        return self.decode(z).log_prob(x) + self.prior().log_prob(z)

    def potential_grad(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``grad_z U(z)``; keeps the graph (for the bound's gradient) only when autograd is on.

        Under ``inference_mode`` (Lightning's validation) autograd is switched back on locally;
        inference tensors are cloned into ordinary ones first, as autograd requires.
        """
        create_graph = torch.is_grad_enabled()
        with torch.inference_mode(False), torch.enable_grad():
            x = x.clone() if x.is_inference() else x
            z = z.clone() if z.is_inference() else z
            if not z.requires_grad:
                z = z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_joint(x, z).sum(), z,
                                          create_graph=create_graph)
        return -grad

    def flow(self, x: torch.Tensor, z: torch.Tensor, rho: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_K, rho_K) after K leapfrog steps, each followed by a tempering step. ``z`` and
        ``rho`` are ``(..., B, D)`` with ``x`` broadcasting against ``decode(z)``."""
        eps, sqrt_betas = self.step_sizes(), self.sqrt_betas()
        grad = self.potential_grad(x, z) if self.num_steps else None
        for k in range(1, self.num_steps + 1):
            rho = rho - 0.5 * eps * grad
            z = z + eps * rho
            grad = self.potential_grad(x, z)
            rho = (rho - 0.5 * eps * grad) * (sqrt_betas[k - 1] / sqrt_betas[k])
        return z, rho

    def bound_terms(self, x: torch.Tensor, qz_x: Distribution, z0: torch.Tensor,
                    gamma0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(``-log p(x|z_K)``, rest of the negative bound) per sample for the initial draws
        ``z0 ~ q_0`` and standard normal ``gamma0`` (rho_0 = gamma0 / sqrt(beta_0))."""
        sqrt_beta0 = self.sqrt_betas()[0]
        rho0 = gamma0 / sqrt_beta0
        z_k, rho_k = self.flow(x, z0, rho0)
        log_px = self.decode(z_k).log_prob(x)
        std_normal = Normal(torch.zeros_like(gamma0), torch.ones_like(gamma0))
        log_rho_k = std_normal.log_prob(rho_k).sum(-1)
        log_rho0 = Normal(torch.zeros_like(rho0), 1.0 / sqrt_beta0).log_prob(rho0).sum(-1)
        log_det = self.latent_dim * torch.log(sqrt_beta0)  # sum_k D log(sqrt(b_{k-1}/b_k))
        kl = -(self.prior().log_prob(z_k) + log_rho_k - qz_x.log_prob(z0) - log_rho0 + log_det)
        return -log_px, kl

    # ------------------------------------------------------------------------ training
    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        ctx = ctx or LossContext()
        qz_x = self.encode(x)
        z0 = qz_x.rsample()
        recon, kl = self.bound_terms(x, qz_x, z0, torch.randn_like(z0))
        kl_objective = kl.mean()
        if ctx.free_bits > 0:  # not factorised: floor the total, as vaekit.losses.elbo does
            kl_objective = kl_objective.clamp_min(ctx.free_bits)
        return {
            "loss": recon.mean() + ctx.kl_weight * kl_objective,
            "elbo": -(recon + kl).mean(),
            "recon": recon.mean(),
            "kl": kl.mean(),
            "step_size": self.step_sizes().detach().mean(),
            "beta0": self.sqrt_betas()[0].detach() ** 2,
        }

    # ---------------------------------------------------------------- evaluation hooks
    def _draws(self, x: torch.Tensor, num_samples: int, generator: torch.Generator | None
               ) -> tuple[Distribution, torch.Tensor, torch.Tensor]:
        qz_x = self.encode(x)
        z0 = sample_posterior(qz_x, num_samples, generator)  # (K, B, D)
        device = generator.device if generator is not None else z0.device
        gamma0 = torch.randn(z0.shape, generator=generator, device=device, dtype=z0.dtype)
        return qz_x, z0, gamma0.to(z0.device)

    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """``log p(x, z_K) N(rho_K) / q_K(z_K, rho_K | x)`` per draw, ``(K, B)``: unbiased
        importance weights for p(x), the momentum being integrated out by the target."""
        recon, kl = self.bound_terms(x, *self._draws(x, num_samples, generator))
        return -(recon + kl)

    def elbo_terms(self, x: torch.Tensor, num_samples: int = 1,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        recon, kl = self.bound_terms(x, *self._draws(x, num_samples, generator))
        return recon.mean(0), kl.mean(0)
