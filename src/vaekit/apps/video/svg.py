"""Stochastic video generation: SVG-LP, SVG-FP and the deterministic baseline.

Denton & Fergus (2018), "Stochastic Video Generation with a Learned Prior", ICML. One model,
three variants (``prior``):

* ``learned`` (SVG-LP): a frame encoder maps each frame ``x_t`` to ``g_t``; an LSTM posterior
  gives ``q(z_t | x_1..t)``, an LSTM learned prior ``p(z_t | x_1..t-1)``; an LSTM frame
  predictor takes ``[g_{t-1}, z_t]`` and outputs ``g~_t``, which the decoder, with skip
  connections from the last context frame's encoder features, turns into ``p(x_t | ...)``.
  Loss per sequence: ``sum_t [-log p(x_t | x_<t, z_<=t) + beta * KL(q(z_t | x_<=t) ||
  p(z_t | x_<t))]`` (paper eq. 3, with the likelihood in nats instead of a pixel MSE).
* ``fixed`` (SVG-FP): the same with ``p(z_t) = N(0, I)``.
* ``deterministic``: the same networks without latents (no posterior, no prior, no KL), the
  paper's deterministic baseline.

Training is teacher-forced: the predictor's input at step ``t`` is the encoding of the *true*
frame ``x_{t-1}``, so every step's loss is computed in one batched pass. Generation is free
running: after the context, each generated frame (the likelihood's mean) is encoded and fed back,
and ``z_t`` is drawn from the (learned or fixed) prior. As in the paper's code, the latents of
the context steps come from the posterior (they only warm up the LSTM states), and the decoder's
skips come from the latest context frame (from ``x_{t-1}`` while still in the context).

Sizes: the paper uses a DCGAN encoder/decoder (64-128-256-512 channels), ``|g| = 128``, a
2-layer 256-unit predictor and 1-layer 256-unit posterior/prior LSTMs and ``|z| = 10`` on
SM-MNIST; the defaults here are CPU-sized (``channels``, ``g_dim``, ``*_hidden``; see
:class:`SVGConfig`). GroupNorm replaces the paper's BatchNorm so that no statistic is shared
between frames (BatchNorm in training mode would make frame ``t``'s code depend on later frames
of the batch and break causality).

Batches are clips ``(B, T, C, H, W)``; ``config.data_shape`` is the frame shape ``(C, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from vaekit.config import check
from vaekit.errors import ShapeError
from vaekit.models.base import BaseVAE, LossContext, _call_with_options
from vaekit.registry import LIKELIHOODS, MODELS

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass
class SVGConfig:
    """SVG settings. ``context`` is the number of conditioning frames used during training (it
    decides which frame's skip features the decoder gets); ``channels`` are the widths of the
    encoder's stride-2 conv blocks (the frame side must be divisible by ``2 ** len(channels)``).
    """

    config_type: ClassVar[str] = "svg"

    prior: Literal["learned", "fixed", "deterministic"] = "learned"
    z_dim: int = 10
    g_dim: int = 64
    channels: list[int] = field(default_factory=lambda: [32, 64, 64, 128])
    predictor_hidden: int = 128
    predictor_layers: int = 2
    posterior_hidden: int = 64
    prior_hidden: int = 64
    beta: float = 1.0
    context: int = 5
    likelihood: str = "bernoulli"
    likelihood_options: dict[str, Any] = field(default_factory=dict)
    data_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for key in ("z_dim", "g_dim", "predictor_hidden", "predictor_layers", "posterior_hidden",
                    "prior_hidden", "context"):
            value = getattr(self, key)
            check(isinstance(value, int) and value > 0,
                  f"model.{key} must be a positive integer, got {value!r}")
        check(len(self.channels) > 0 and all(isinstance(c, int) and c > 0 for c in self.channels),
              f"model.channels must be a non-empty list of positive widths, got {self.channels}")
        check(self.beta >= 0, f"model.beta must be >= 0, got {self.beta}")
        if self.data_shape is not None:
            self.data_shape = tuple(int(s) for s in self.data_shape)
            check(len(self.data_shape) == 3 and all(s > 0 for s in self.data_shape),
                  f"model.data_shape must be a frame shape (C, H, W), got {self.data_shape}")


def _groups(channels: int) -> int:
    """GroupNorm groups: up to 8, each of at least 4 channels where possible."""
    return next((g for g in (8, 4, 2) if channels % g == 0 and channels // g >= 4), 1)


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.GroupNorm(_groups(cout), cout),
                         nn.LeakyReLU(0.2))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.GroupNorm(_groups(cout), cout),
                         nn.LeakyReLU(0.2))


class FrameEncoder(nn.Module):
    """Frame ``(N, C, H, W)`` -> code ``g`` ``(N, g_dim)`` (tanh) and the feature maps of every
    block (the decoder's skips), DCGAN-style (Radford et al. 2016) with stride-2 convs."""

    def __init__(self, in_channels: int, channels: list[int], g_dim: int,
                 bottom: tuple[int, int]) -> None:
        super().__init__()
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(_down(a, b) for a, b in zip(widths[:-1], widths[1:]))
        # No normalisation on the 1x1 code: GroupNorm there would standardise (or, with
        # one channel per group, zero) the code itself.
        self.out = nn.Sequential(nn.Conv2d(channels[-1], g_dim, bottom), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        for block in self.blocks:
            x = block(x)
            skips.append(x)
        return self.out(x).flatten(1), skips


class FrameDecoder(nn.Module):
    """Code ``(N, g_dim)`` + skips -> likelihood parameters ``(N, out_channels, H, W)``; each
    up-block takes the previous output concatenated with the encoder features of its size."""

    def __init__(self, out_channels: int, channels: list[int], g_dim: int,
                 bottom: tuple[int, int]) -> None:
        super().__init__()
        top = channels[-1]
        self.inp = nn.Sequential(nn.ConvTranspose2d(g_dim, top, bottom),
                                 nn.GroupNorm(_groups(top), top), nn.LeakyReLU(0.2))
        outs = [*channels[:-1][::-1]]  # widths after each up-block but the last
        ins = channels[::-1]
        self.blocks = nn.ModuleList(_up(2 * c_in, c_out) for c_in, c_out in zip(ins, outs))
        self.final = nn.ConvTranspose2d(2 * channels[0], out_channels, 4, 2, 1)

    def forward(self, g: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        x = self.inp(g[:, :, None, None])
        for block, skip in zip(self.blocks, skips[::-1]):
            x = block(torch.cat([x, skip], dim=1))
        return self.final(torch.cat([x, skips[0]], dim=1))


class RecurrentNet(nn.Module):
    """Linear embedding -> stacked LSTM -> linear read-out, over ``(B, T, in)`` sequences.

    ``forward(inputs, state)`` returns the outputs ``(B, T, out)`` and the new state, so the same
    module runs a whole teacher-forced sequence at once or one free-running step at a time.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, inputs: torch.Tensor, state: LSTMState | None = None
                ) -> tuple[torch.Tensor, LSTMState]:
        hidden, state = self.lstm(self.embed(inputs), state)
        return self.out(hidden), state


def _steps(dist: Independent, index: slice | int) -> Independent:
    """The diagonal Gaussian ``dist`` (batch ``(B, T)``) at time ``index``."""
    return Independent(Normal(dist.base_dist.loc[:, index], dist.base_dist.scale[:, index]), 1)


def _gaussian(params: torch.Tensor) -> Independent:
    mu, logvar = params.chunk(2, dim=-1)
    return Independent(Normal(mu, torch.exp(0.5 * logvar.clamp(-20.0, 10.0))), 1)


@MODELS.register("svg")
class SVG(BaseVAE):
    """SVG-LP / SVG-FP / deterministic video predictor (Denton & Fergus 2018); see the module
    docstring. Inputs are clips ``(B, T, C, H, W)`` with values in [0, 1]."""

    config_class: ClassVar[type] = SVGConfig

    def __init__(self, config: SVGConfig) -> None:
        nn.Module.__init__(self)  # builds its own networks, not BaseVAE's single encoder/decoder
        if config.data_shape is None:
            raise ShapeError("model.data_shape is not set: build the model from a video dataset "
                             "(vaekit.train) or pass data_shape=(C, H, W), the frame shape")
        self.config = config
        c, h, w = config.data_shape
        scale = 2 ** len(config.channels)
        if h % scale or w % scale:
            raise ShapeError(
                f"frames of {h}x{w} do not fit model.channels={config.channels}: each of its "
                f"{len(config.channels)} blocks halves the size, so height and width must be "
                f"multiples of {scale}; use fewer channels entries or resize the frames")
        bottom = (h // scale, w // scale)
        self.likelihood = _call_with_options(
            LIKELIHOODS.get(config.likelihood), "likelihood", config.likelihood,
            config.data_shape, **config.likelihood_options)
        out_channels = self.likelihood.params_per_channel * c
        self.frame_encoder = FrameEncoder(c, config.channels, config.g_dim, bottom)
        self.frame_decoder = FrameDecoder(out_channels, config.channels, config.g_dim, bottom)
        z = self.latent_dim
        self.predictor = RecurrentNet(config.g_dim + z, config.g_dim, config.predictor_hidden,
                                      config.predictor_layers)
        self.posterior_net = (RecurrentNet(config.g_dim, 2 * z, config.posterior_hidden, 1)
                              if z else None)
        self.prior_net = (RecurrentNet(config.g_dim, 2 * z, config.prior_hidden, 1)
                          if config.prior == "learned" else None)

    # ----------------------------------------------------------------------------- pieces
    @property
    def latent_dim(self) -> int:
        """Size of each ``z_t`` (0 for the deterministic baseline)."""
        return 0 if self.config.prior == "deterministic" else self.config.z_dim

    def check_input(self, x: torch.Tensor, min_frames: int = 2) -> None:
        if x.dim() != 5 or tuple(x.shape[2:]) != self.data_shape or x.shape[1] < min_frames:
            raise ShapeError(
                f"input of shape {tuple(x.shape)} does not fit this video model, which takes "
                f"clips (B, T, C, H, W) of frames {self.data_shape} with T >= {min_frames}")

    def example_batch(self, x: torch.Tensor | int) -> torch.Tensor:
        """A clip batch ``(B, context + 2, C, H, W)`` for generic model tests: from an image
        batch ``(B, C, H, W)``, each image shifted right by one pixel per frame; from a number
        ``B``, seeded uniform noise; clips are returned as they are."""
        frames = self.config.context + 2
        if isinstance(x, int):
            generator = torch.Generator().manual_seed(0)
            return torch.rand((x, frames, *self.data_shape), generator=generator)
        if x.dim() == 5:
            return x
        if x.dim() != 4:
            raise ShapeError(f"expected images (B, C, H, W) or clips (B, T, C, H, W), got "
                             f"{tuple(x.shape)}")
        return torch.stack([x.roll(t, dims=-1) for t in range(frames)], dim=1)

    def encode_frames(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Clips ``(B, T, C, H, W)`` -> codes ``(B, T, g_dim)`` and skips ``[(B, T, c, h, w)]``."""
        b, t = x.shape[:2]
        g, skips = self.frame_encoder(x.flatten(0, 1))
        return g.view(b, t, -1), [s.view(b, t, *s.shape[1:]) for s in skips]

    def _zero_latents(self, lead: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros((*lead, 0))

    def posterior(self, g: torch.Tensor, state: LSTMState | None = None
                  ) -> tuple[Independent, LSTMState]:
        """``q(z_t | x_1..t)`` for each position of codes ``(B, T, g_dim)``: batch ``(B, T)``."""
        assert self.posterior_net is not None, "the deterministic model has no posterior"
        params, state = self.posterior_net(g, state)
        return _gaussian(params), state

    def learned_prior(self, g_past: torch.Tensor, state: LSTMState | None = None
                      ) -> tuple[Independent, LSTMState]:
        """``p(z_t | x_1..t-1)`` from the codes of the frames before each step ``(B, T, g)``."""
        assert self.prior_net is not None, "only prior='learned' has a learned prior"
        params, state = self.prior_net(g_past, state)
        return _gaussian(params), state

    def prior(self) -> Distribution:
        """The fixed prior ``N(0, I)`` of SVG-FP (SVG-LP's prior depends on the past: see
        :meth:`learned_prior`)."""
        zeros = torch.zeros(self.latent_dim, device=self.frame_decoder.final.weight.device)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def _decoder_params(self, g_pred: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Codes ``(B, T, g)`` + skips ``[(B, T, c, h, w)]`` -> likelihood parameters
        ``(B, T, C', H, W)``."""
        b, t = g_pred.shape[:2]
        params = self.frame_decoder(g_pred.flatten(0, 1), [s.flatten(0, 1) for s in skips])
        return params.view(b, t, *params.shape[1:])

    # ------------------------------------------------------------------------ teacher forcing
    def teacher_forced(self, x: torch.Tensor, z: torch.Tensor | None = None,
                       context: int | None = None) -> dict[str, Any]:
        """One teacher-forced pass over clips ``x`` ``(B, T, C, H, W)``, predicting frames
        ``1..T-1`` (0-based) from the true previous frames.

        Returns ``px`` (batch ``(B, T-1)``), ``qz`` (posterior for steps 1..T-1, or None),
        ``pz`` (learned prior for those steps, ``N(0, I)``, or None) and the latents ``z``
        ``(B, T-1, D)`` used (drawn from ``qz`` with the reparameterisation trick unless given).
        """
        self.check_input(x)
        context = self.config.context if context is None else context
        b, t = x.shape[:2]
        g, skips = self.encode_frames(x)
        qz = pz = None
        if self.latent_dim:
            qz_all, _ = self.posterior(g)
            qz = _steps(qz_all, slice(1, None))
            if self.prior_net is not None:
                pz, _ = self.learned_prior(g[:, :-1])
            else:
                pz = Independent(Normal(torch.zeros_like(qz.mean), torch.ones_like(qz.mean)), 1)
            if z is None:
                z = qz.rsample()
        else:
            z = self._zero_latents((b, t - 1), x)
        if tuple(z.shape) != (b, t - 1, self.latent_dim):
            raise ShapeError(f"latents of shape {tuple(z.shape)} do not fit {t} frames: expected "
                             f"{(b, t - 1, self.latent_dim)}")
        g_pred, _ = self.predictor(torch.cat([g[:, :-1], z], dim=-1))
        g_pred = torch.tanh(g_pred)
        # Step s (0-based, predicting frame s) takes skips from frame min(s-1, context-1).
        source = torch.clamp(torch.arange(1, t, device=x.device) - 1, max=context - 1)
        px = self.likelihood(self._decoder_params(g_pred, [s[:, source] for s in skips]))
        return {"px": px, "qz": qz, "pz": pz, "z": z}

    def loss(self, x: torch.Tensor, ctx: LossContext | None = None, group: str = "model"
             ) -> dict[str, torch.Tensor]:
        """Negative ELBO per clip (nats): reconstruction of frames 2..T plus ``beta`` x the
        trainer's KL weight x the summed per-step KL (posterior vs prior).

        With ``ctx.free_bits`` (train.free_bits, nats per latent dimension and time step;
        Kingma et al. 2016) the optimised KL of each dimension and step, averaged over the
        batch, is floored at that value, which keeps the latents in use early in training; the
        reported ``kl`` is always the true one."""
        ctx = ctx or LossContext()
        out = self.teacher_forced(x)
        recon = -out["px"].log_prob(x[:, 1:]).sum(1).mean()
        if out["qz"] is not None:
            kl_dims = kl_divergence(out["qz"].base_dist, out["pz"].base_dist)  # (B, T-1, D)
            kl = kl_dims.sum((1, 2)).mean()
            kl_opt = (kl_dims.mean(0).clamp(min=ctx.free_bits).sum() if ctx.free_bits > 0
                      else kl)
        else:
            kl = kl_opt = recon.new_zeros(())
        loss = recon + self.config.beta * ctx.kl_weight * kl_opt
        with torch.no_grad():
            mse = (self.likelihood.mean_image(out["px"]) - x[:, 1:]).pow(2).mean()
        return {"loss": loss, "recon": recon, "kl": kl, "elbo": -(recon + kl), "mse": mse}

    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """``log w_k = sum_t [log p(x_t | x_<t, z_<=t) + log p(z_t | x_<t) - log q(z_t |
        x_<=t)]`` over frames ``2..T`` (the first frame is conditioned on, not modelled), for
        ``K`` draws of the whole latent path from the posterior; shape ``(K, B)``."""
        self.check_input(x)
        b = x.shape[0]
        repeated = x.repeat(num_samples, *([1] * (x.dim() - 1)))  # sample-major
        out = self.teacher_forced(repeated)
        if out["qz"] is not None and generator is not None:
            out = self.teacher_forced(repeated, z=self._draw(out["qz"], generator))
        log_w = out["px"].log_prob(repeated[:, 1:]).sum(1)
        if out["qz"] is not None:
            z = out["z"]
            log_w = log_w + (out["pz"].log_prob(z) - out["qz"].log_prob(z)).sum(1)
        return log_w.view(num_samples, b)

    def elbo_terms(self, x: torch.Tensor, num_samples: int = 1,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction ``-E_q sum_t log p(x_t | ...)``, summed per-step KL) per clip
        ``(B,)``, over frames ``2..T``; the expectation averages ``num_samples`` latent paths."""
        self.check_input(x)
        recon = x.new_zeros(x.shape[0])
        kl = x.new_zeros(x.shape[0])
        for _ in range(num_samples):
            out = self.teacher_forced(x)
            if out["qz"] is not None and generator is not None:
                out = self.teacher_forced(x, z=self._draw(out["qz"], generator))
            recon = recon - out["px"].log_prob(x[:, 1:]).sum(1) / num_samples
            if out["qz"] is not None:
                kl = kl + kl_divergence(out["qz"], out["pz"]).sum(1) / num_samples
        return recon, kl

    # --------------------------------------------------------------------------- free running
    def rollout(self, context: torch.Tensor, horizon: int, *, z_future: torch.Tensor | None = None,
                generator: torch.Generator | None = None, context_latents: str = "sample"
                ) -> dict[str, torch.Tensor]:
        """Free-running prediction of ``horizon`` frames after ``context`` ``(B, Tc, C, H, W)``.

        Context steps: true frames in, ``z_t`` from the posterior (a sample, or its mean with
        ``context_latents="mean"``). Future steps: the previous *predicted* frame (the
        likelihood's mean) is encoded and fed back; ``z_t`` is ``z_future[:, k]`` when given,
        else drawn from the learned prior (SVG-LP) or ``N(0, I)`` (SVG-FP) with ``generator``.
        Returns ``frames`` ``(B, horizon, C, H, W)``, ``px`` (each step's likelihood given the
        fed-back past, batch ``(B, horizon)``; ``frames`` is its mean) and ``z``
        ``(B, Tc - 1 + horizon, D)``, every latent used (so :meth:`teacher_forced` on
        ``[context, frames]`` with these ``z`` reproduces the same predictions).
        """
        self.check_input(context, min_frames=1)
        if not isinstance(horizon, int) or horizon < 1:
            raise ShapeError(f"horizon must be a positive number of frames, got {horizon!r}")
        if context_latents not in ("sample", "mean"):
            raise ValueError(f"context_latents must be 'sample' or 'mean', got {context_latents}")
        b, tc = context.shape[:2]
        d = self.latent_dim
        if z_future is not None and tuple(z_future.shape) != (b, horizon, d):
            raise ShapeError(f"z_future of shape {tuple(z_future.shape)}: expected "
                             f"{(b, horizon, d)}")
        g_ctx, skips_ctx = self.encode_frames(context)
        state_q = state_p = state_f = None
        if self.posterior_net is not None:
            _, state_q = self.posterior(g_ctx[:, :1])  # the posterior has seen x_1
        g_prev, skip = g_ctx[:, :1], [s[:, :1] for s in skips_ctx]
        latents, frames, params = [], [], []
        for step in range(1, tc + horizon):
            if step < tc:  # warm-up on the true frames
                if d:
                    qz, state_q = self.posterior(g_ctx[:, step:step + 1], state_q)
                    z = qz.mean if context_latents == "mean" else self._draw(qz, generator)
                    if self.prior_net is not None:
                        _, state_p = self.learned_prior(g_prev, state_p)
                else:
                    z = self._zero_latents((b, 1), context)
            else:
                k = step - tc
                if not d:
                    z = self._zero_latents((b, 1), context)
                elif z_future is not None:
                    z = z_future[:, k:k + 1]
                    if self.prior_net is not None:
                        _, state_p = self.learned_prior(g_prev, state_p)
                elif self.prior_net is not None:
                    pz, state_p = self.learned_prior(g_prev, state_p)
                    z = self._draw(pz, generator)
                else:
                    z = self._draw(self._standard_normal((b, 1), context), generator)
            g_pred, state_f = self.predictor(torch.cat([g_prev, z], dim=-1), state_f)
            latents.append(z)
            if step < tc:
                g_prev, skip = g_ctx[:, step:step + 1], [s[:, step:step + 1] for s in skips_ctx]
            else:
                step_params = self._decoder_params(torch.tanh(g_pred), skip)
                frame = self.likelihood.mean_image(self.likelihood(step_params))
                frames.append(frame)
                params.append(step_params)
                g_prev, _ = self.encode_frames(frame)  # skips stay those of the last context
        z_all = torch.cat(latents, dim=1) if latents else self._zero_latents((b, 0), context)
        return {"frames": torch.cat(frames, dim=1), "z": z_all,
                "px": self.likelihood(torch.cat(params, dim=1))}

    def _standard_normal(self, lead: tuple[int, ...], like: torch.Tensor) -> Independent:
        zeros = like.new_zeros((*lead, self.latent_dim))
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    @staticmethod
    def _draw(dist: Independent, generator: torch.Generator | None) -> torch.Tensor:
        loc, scale = dist.base_dist.loc, dist.base_dist.scale
        eps = torch.randn(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
        return loc + scale * eps

    @torch.no_grad()
    def predict(self, context: torch.Tensor, horizon: int, num_samples: int = 1,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``num_samples`` sampled futures ``(S, B, horizon, C, H, W)`` of each context clip
        (the deterministic model gives S identical ones)."""
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ShapeError(f"num_samples must be a positive integer, got {num_samples!r}")
        b = context.shape[0]
        repeated = context.repeat(num_samples, *([1] * (context.dim() - 1)))  # sample-major
        frames = self.rollout(repeated, horizon, generator=generator)["frames"]
        return frames.view(num_samples, b, *frames.shape[1:])

    # ------------------------------------------------------------- BaseVAE-style interface
    def encode(self, x: torch.Tensor) -> Distribution:
        """``q(z_t | x_1..t)`` for steps ``1..T-1`` of clips ``(B, T, C, H, W)``: batch
        ``(B, T-1)``, event ``(z_dim,)``. An image batch ``(B, C, H, W)`` is read as one-frame
        clips and gives the posterior after that frame, batch ``(B,)``."""
        if self.posterior_net is None:
            raise ShapeError("the deterministic video model has no latent posterior")
        if x.dim() == 4:
            self.check_input(x[:, None], min_frames=1)
            return _steps(self.posterior(self.encode_frames(x[:, None])[0])[0], 0)
        return self.teacher_forced(x)["qz"]

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """``p(x_t | x_<t, z_<=t)`` of the frames generated from a latent path ``z``: ``(B, D)``
        (one step) or ``(B, K, D)``, after ``context`` clips ``(B, Tc, C, H, W)`` (default: one
        blank frame), free running with the context latents at their posterior means. Batch
        shape ``(B, K)``; its mean is the predicted frames."""
        if z.dim() == 2:
            z = z[:, None]
        b, k = z.shape[:2]
        if context is None:
            context = z.new_zeros((b, 1, *self.data_shape))
        return self.rollout(context, k, z_future=z, context_latents="mean")["px"]

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced one-step predictions ``(B, T-1, C, H, W)`` of frames ``1..T-1``, with
        the posterior means as latents."""
        z = self.encode(x).mean if self.latent_dim else None
        return self.likelihood.mean_image(self.teacher_forced(x, z=z)["px"])
