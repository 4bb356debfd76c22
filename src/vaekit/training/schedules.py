"""KL weight schedules: a multiplier in [0, 1] on the KL term as a function of the step."""

from __future__ import annotations


def kl_weight(
    step: int,
    schedule: str = "constant",
    warmup_steps: int = 0,
    total_steps: int = 1,
    cycles: int = 4,
    ratio: float = 0.5,
) -> float:
    """The KL multiplier at ``step``.

    - ``constant``: 1.
    - ``linear``: 0 -> 1 over ``warmup_steps`` (Bowman et al. 2016, "Generating sentences from a
      continuous space"), then 1.
    - ``cyclical``: ``cycles`` repetitions over ``total_steps``; in each, 0 -> 1 linearly over
      the first ``ratio`` of the cycle, then 1 (Fu et al. 2019, "Cyclical annealing schedule").
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 if warmup_steps <= 0 else min(1.0, step / warmup_steps)
    if schedule == "cyclical":
        period = max(total_steps / cycles, 1.0)
        phase = (step % period) / period
        return min(1.0, phase / ratio)
    raise ValueError(f"unknown KL schedule '{schedule}': use constant, linear or cyclical")
