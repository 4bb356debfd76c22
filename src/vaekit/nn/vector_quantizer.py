"""Vector quantisation with a straight-through gradient, EMA codebook and dead-code restarts.

van den Oord, Vinyals & Kavukcuoglu (2017), "Neural Discrete Representation Learning", NeurIPS:
each encoder output vector ``z_e`` is replaced by its nearest codebook vector ``z_q``; the
decoder's gradient is copied straight through to the encoder (``z_e + sg(z_q - z_e)``), and

    loss = ||sg(z_e) - z_q||^2  (codebook, only without EMA)  +  beta ||z_e - sg(z_q)||^2

with ``beta = 0.25`` (sec. 3.2). Both squared norms are summed over every latent vector of one
example (like the reconstruction NLL, which is summed over pixels) and averaged over the batch.

EMA codebook (the paper's appendix A.1; Razavi, van den Oord & Vinyals 2019, "Generating Diverse
High-Fidelity Images with VQ-VAE-2", eqs. 2-4, with the Laplace smoothing of the Sonnet
implementation): with ``n_i`` the number of batch vectors assigned to code ``i`` and ``s_i``
their sum,

    N_i <- decay N_i + (1 - decay) n_i,    m_i <- decay m_i + (1 - decay) s_i,
    e_i = m_i / N~_i,    N~_i = (N_i + eps) / (sum_j N_j + K eps) * sum_j N_j.

Dead-code restarts (Dhariwal et al. 2020, "Jukebox: A Generative Model for Music", sec. 2.2;
Williams et al. 2020, "Hierarchical Quantized Autoencoders"): after each update, every code
whose EMA cluster size ``N_i`` is below ``dead_code_threshold`` is moved onto an encoder output
drawn uniformly (with replacement) from the current batch, and its statistics are reset to one
observation of that vector (``N_i = 1``, ``m_i = e_i``). As in Jukebox the cluster sizes start
at 1, so with the default threshold of 1 every code unused in the first batch is restarted on
the data: a data-dependent codebook initialisation for free. ``dead_code_threshold = 0`` turns
restarts off. The cluster sizes are tracked (and restarts done) with and without EMA updates.

Codebook updates run only when the caller asks (``update=True``: the training forward of the
model loss), never in evaluation or when encoding for the prior. The codebook and its statistics
are buffers (EMA) or a parameter (codebook loss) kept in float32, outside autocast.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass
class Quantized:
    """What one quantisation of a batch ``z_e (B, D, *spatial)`` returns."""

    z_q: torch.Tensor  # straight-through codebook vectors, like z_e (float32)
    codes: torch.Tensor  # (B, *spatial) long indices into the codebook
    commitment: torch.Tensor  # beta * ||z_e - sg(z_q)||^2, per-example mean
    codebook_loss: torch.Tensor  # ||sg(z_e) - z_q||^2 (0 with EMA), per-example mean
    perplexity: torch.Tensor  # exp(entropy of the batch's code histogram)
    usage: torch.Tensor  # fraction of the codes used in the batch


def code_histogram(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """How many times each code occurs in ``codes`` (float, ``(num_codes,)``)."""
    return torch.bincount(codes.reshape(-1), minlength=num_codes).float()


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(H(p)) of the histogram ``counts``: the effective number of codes in use (1 when one
    code takes every vector, K when K codes are used equally)."""
    probs = counts / counts.sum().clamp_min(1.0)
    entropy = -(probs * torch.log(probs.clamp_min(1e-30))).sum()  # 0 log 0 = 0
    return entropy.exp()


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantiser of ``(B, code_dim, *spatial)`` tensors onto ``num_codes``
    codebook vectors (see the module docstring for the losses and updates)."""

    def __init__(self, num_codes: int, code_dim: int, commitment: float = 0.25, ema: bool = True,
                 decay: float = 0.99, eps: float = 1e-5, dead_code_threshold: float = 1.0
                 ) -> None:
        super().__init__()
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"num_codes and code_dim must be positive, got {num_codes}, "
                             f"{code_dim}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.commitment_weight = float(commitment)
        self.ema, self.decay, self.eps = bool(ema), float(decay), float(eps)
        self.dead_code_threshold = float(dead_code_threshold)
        # Uniform(-1/K, 1/K), the usual VQ-VAE initialisation; restarts soon move unused codes.
        initial = torch.empty(num_codes, code_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if self.ema:
            self.register_buffer("codebook", initial)
        else:
            self.codebook = nn.Parameter(initial)
        # Jukebox starts the cluster sizes at 1 (see the module docstring); m_i = e_i * N_i.
        self.register_buffer("cluster_size", torch.ones(num_codes))
        self.register_buffer("embed_sum", initial.clone())

    # ---------------------------------------------------------------------------- lookup
    def nearest_codes(self, vectors: torch.Tensor) -> torch.Tensor:
        """Index ``(N,)`` of the nearest codebook vector to each row of ``vectors (N, D)``."""
        codebook = self.codebook.detach().float()
        # ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2; ||z||^2 does not change the argmin.
        distances = codebook.pow(2).sum(1) - 2.0 * vectors.detach().float() @ codebook.t()
        return distances.argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook vectors for ``codes (B, *spatial)``, as ``(B, code_dim, *spatial)``."""
        vectors = F.embedding(codes, self.codebook.float())  # (B, *spatial, D)
        return vectors.movedim(-1, 1)

    def quantize(self, z_e: torch.Tensor) -> torch.Tensor:
        """Code indices ``(B, *spatial)`` of ``z_e (B, code_dim, *spatial)``; no side effects."""
        self._check(z_e)
        flat = z_e.movedim(1, -1).reshape(-1, self.code_dim)
        return self.nearest_codes(flat).reshape(z_e.shape[0], *z_e.shape[2:])

    # --------------------------------------------------------------------------- forward
    def forward(self, z_e: torch.Tensor, update: bool = False) -> Quantized:
        """Quantise ``z_e``. With ``update`` (the training forward of the model loss only) the
        batch then updates the codebook statistics, the EMA codebook and restarts dead codes; the
        returned ``z_q`` is looked up before the update, so it matches ``codes``."""
        self._check(z_e)
        with torch.autocast(device_type=z_e.device.type, enabled=False):
            z_e = z_e.float()
            flat = z_e.movedim(1, -1).reshape(-1, self.code_dim)
            codes = self.nearest_codes(flat)
            counts = code_histogram(codes, self.num_codes)
            out = self._losses(z_e, codes.reshape(z_e.shape[0], *z_e.shape[2:]), counts)
            if update:
                self._update(flat.detach(), codes, counts)
            return out

    def _losses(self, z_e: torch.Tensor, codes: torch.Tensor, counts: torch.Tensor) -> Quantized:
        z_q = self.lookup(codes)
        batch = z_e.shape[0]
        commitment = self.commitment_weight * (z_e - z_q.detach()).pow(2).sum() / batch
        if self.ema:  # the EMA updates move the codebook; no gradient loss for it
            codebook_loss = z_e.new_zeros(())
        else:
            codebook_loss = (z_e.detach() - z_q).pow(2).sum() / batch
        # Straight-through estimator: forward value z_q, gradient of the identity to z_e.
        z_q_st = z_e + (z_q - z_e).detach()
        return Quantized(z_q_st, codes, commitment, codebook_loss, perplexity(counts),
                         (counts > 0).float().mean())

    # --------------------------------------------------------------------------- updates
    @torch.no_grad()
    def _update(self, flat: torch.Tensor, codes: torch.Tensor, counts: torch.Tensor) -> None:
        sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, flat)
        counts, sums = _all_reduce_sum(counts.clone()), _all_reduce_sum(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        if self.ema:
            self.embed_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
            self.codebook.copy_(self.embed_sum / self.smoothed_cluster_size().unsqueeze(1))
        self._restart_dead_codes(flat)

    def smoothed_cluster_size(self) -> torch.Tensor:
        """Laplace-smoothed N~_i, never 0, so codes without assignments divide safely."""
        total = self.cluster_size.sum()
        return (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total

    def dead_codes(self) -> torch.Tensor:
        """Boolean mask ``(num_codes,)`` of the codes below the restart threshold."""
        return self.cluster_size < self.dead_code_threshold

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor) -> None:
        dead = self.dead_codes().nonzero().squeeze(1)
        if len(dead) == 0:
            return
        picks = torch.randint(0, len(flat), (len(dead),), device=flat.device)
        # Every process restarts the same codes (the statistics were summed over processes);
        # process 0's draws are used so the replicas keep one codebook.
        vectors = _broadcast_from_first(flat[picks].contiguous())
        self.codebook.data[dead] = vectors.to(self.codebook.dtype)
        self.cluster_size[dead] = 1.0
        self.embed_sum[dead] = vectors

    def _check(self, z_e: torch.Tensor) -> None:
        if z_e.dim() < 2 or z_e.shape[1] != self.code_dim:
            raise ValueError(f"expected (B, {self.code_dim}, ...) encoder outputs, got "
                             f"{tuple(z_e.shape)}")

    def extra_repr(self) -> str:
        return (f"num_codes={self.num_codes}, code_dim={self.code_dim}, ema={self.ema}, "
                f"decay={self.decay}, commitment={self.commitment_weight}, "
                f"dead_code_threshold={self.dead_code_threshold}")


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over data-parallel processes, so every replica applies the same EMA update."""
    if _distributed():
        dist.all_reduce(tensor)
    return tensor


def _broadcast_from_first(tensor: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.broadcast(tensor, src=0)
    return tensor
