"""Reproducible sampling from posteriors (torch.distributions cannot take a generator)."""

from __future__ import annotations

import torch
from torch.distributions import Distribution, Independent, Normal


def sample_posterior(
    qz_x: Distribution, num_samples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``num_samples`` draws ``(K, B, D)`` from q(z|x), reproducible with ``generator``.

    torch.distributions cannot take a generator, so Gaussian posteriors (the usual case) are
    sampled by reparameterisation with noise from ``generator``; any other posterior is sampled
    under a forked global RNG seeded from ``generator``, which leaves the global stream alone.
    """
    if generator is None:
        return qz_x.sample((num_samples,))
    base = qz_x.base_dist if isinstance(qz_x, Independent) else qz_x
    mean = qz_x.mean
    if isinstance(base, Normal):
        shape = (num_samples, *qz_x.batch_shape, *qz_x.event_shape)
        eps = torch.randn(shape, generator=generator, device=generator.device, dtype=mean.dtype)
        return mean + qz_x.stddev * eps.to(mean.device)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    devices = [] if mean.device.type == "cpu" else [mean.device.index or 0]
    with torch.random.fork_rng(devices=devices, device_type=mean.device.type):
        torch.manual_seed(seed)
        return qz_x.sample((num_samples,))
