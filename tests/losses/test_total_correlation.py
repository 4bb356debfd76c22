"""The beta-TCVAE decomposition (Chen et al. 2018): the MWS and MSS estimators of the aggregate
posterior against brute force on tiny datasets, and MI + TC + dimKL = KL."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.distributions import Independent, Normal

from vaekit.errors import ConfigError
from vaekit.losses import (
    estimate_log_qz,
    exact_log_qz,
    minibatch_log_weights,
    tc_decomposition,
)
from vaekit.losses.total_correlation import gaussian_log_density_matrix


@pytest.fixture(autouse=True)
def one_thread():
    # These tensors are tiny: one thread avoids contention on the shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def posteriors(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian posteriors of a tiny dataset whose means are correlated (so TC > 0)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.eye(d) + 0.8 * torch.tril(torch.ones(d, d), -1)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) @ mix.double().T
    std = 0.3 + 0.4 * torch.rand(n, d, generator=g, dtype=torch.float64)
    return mu, std


def sample(mu: torch.Tensor, std: torch.Tensor, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return mu + std * torch.randn(mu.shape, generator=g, dtype=mu.dtype)


def brute_force_log_qz(z, mu, std):
    """log q(z) = log (1/N) sum_n q(z|x_n) and log q(z_d), one z and one n at a time."""
    n = len(mu)
    log_qz, log_qz_dims = [], []
    for zi in z:
        per_n = torch.stack([Independent(Normal(mu[k], std[k]), 1).log_prob(zi)
                             for k in range(n)])
        per_n_dims = torch.stack([Normal(mu[k], std[k]).log_prob(zi) for k in range(n)])
        log_qz.append(torch.logsumexp(per_n, 0) - math.log(n))
        log_qz_dims.append(torch.logsumexp(per_n_dims, 0) - math.log(n))
    return torch.stack(log_qz), torch.stack(log_qz_dims)


def test_log_density_matrix_is_every_sample_under_every_component():
    mu, std = posteriors(4, 3)
    z = sample(mu, std)
    matrix = gaussian_log_density_matrix(z, mu, std)
    for i, j in itertools.product(range(4), range(4)):
        torch.testing.assert_close(matrix[i, j], Normal(mu[j], std[j]).log_prob(z[i]))


def test_exact_log_qz_is_the_brute_force_mixture():
    mu, std = posteriors(6, 3)
    z = sample(mu, std)
    exact, exact_dims = brute_force_log_qz(z, mu, std)
    got, got_dims = exact_log_qz(z, mu, std)
    torch.testing.assert_close(got, exact)
    torch.testing.assert_close(got_dims, exact_dims)


def test_mws_on_the_whole_dataset_is_exact_up_to_its_weight():
    """With the batch = the dataset, MWS's weight 1/(N B) is 1/N times the exact 1/N."""
    n, d = 6, 3
    mu, std = posteriors(n, d)
    z = sample(mu, std)
    exact, exact_dims = brute_force_log_qz(z, mu, std)
    log_qz, log_qz_dims = estimate_log_qz(z, mu, std, n, "mws")
    torch.testing.assert_close(log_qz, exact - math.log(n))
    torch.testing.assert_close(log_qz_dims, exact_dims - math.log(n))
    # ... so its TC is the exact one plus (D - 1) log N.
    tc = (log_qz - log_qz_dims.sum(-1)).mean()
    exact_tc = (exact - exact_dims.sum(-1)).mean()
    torch.testing.assert_close(tc, exact_tc + (d - 1) * math.log(n))


@pytest.mark.parametrize(("batch", "n"), [(2, 5), (4, 5), (5, 9), (6, 6)])
def test_mss_weights(batch, n):
    """Row i: 1/N on z_i's own example, (N - M)/(N M) on one other, 1/M on the M - 1 left."""
    w = minibatch_log_weights(batch, n, "mss", dtype=torch.float64).exp()
    m = batch - 1
    eye = torch.eye(batch, dtype=torch.bool)
    torch.testing.assert_close(w.sum(1), torch.ones(batch, dtype=torch.float64))
    assert torch.allclose(w[eye], torch.tensor(1 / n, dtype=torch.float64))
    odd = ~eye & torch.isclose(w, torch.tensor((n - m) / (n * m), dtype=torch.float64))
    # One odd weight per row, and each example takes it once (in one row).
    assert (odd.sum(1) == 1).all() and (odd.sum(0) == 1).all()
    assert torch.allclose(w[~eye & ~odd], torch.tensor(1 / m, dtype=torch.float64))


@pytest.mark.parametrize(("n", "batch"), [(5, 2), (5, 3), (4, 4)])
def test_mss_is_unbiased_for_q_z_over_minibatches(n, batch):
    """Averaged over every ordered minibatch drawn without replacement that holds z's own
    example, the MSS estimate of q(z) (before the log) is the exact mixture density; so is each
    dimension's marginal. This is the property appendix C.2 of the paper derives."""
    d = 2
    mu, std = posteriors(n, d, seed=3)
    z_all = sample(mu, std, seed=4)
    exact, exact_dims = brute_force_log_qz(z_all, mu, std)
    for anchor in range(n):
        q_sum, q_dims_sum, count = 0.0, 0.0, 0
        for order in itertools.permutations(range(n), batch):
            if anchor not in order:
                continue
            idx = torch.tensor(order)
            log_qz, log_qz_dims = estimate_log_qz(z_all[idx], mu[idx], std[idx], n, "mss")
            row = order.index(anchor)
            q_sum = q_sum + log_qz[row].exp()
            q_dims_sum = q_dims_sum + log_qz_dims[row].exp()
            count += 1
        torch.testing.assert_close(q_sum / count, exact[anchor].exp())
        torch.testing.assert_close(q_dims_sum / count, exact_dims[anchor].exp())


def test_mss_total_correlation_matches_the_exact_one_on_average():
    """On random minibatches of a 64-example dataset, the MSS TC averages to the exact TC
    (computed with the whole dataset's mixture at samples of q(z)); MWS does not."""
    g = torch.Generator().manual_seed(0)
    n, d, batch = 64, 2, 16
    mu, std = posteriors(n, d, seed=5)
    z = mu + std * torch.randn(100, n, d, generator=g, dtype=mu.dtype)
    log_qz, log_qz_dims = exact_log_qz(z.reshape(-1, d), mu, std)
    tc_samples = log_qz - log_qz_dims.sum(-1)
    exact_tc, exact_se = tc_samples.mean(), tc_samples.std() / math.sqrt(len(tc_samples))
    assert exact_tc > 0.1  # correlated means: a real total correlation to recover
    estimates = {"mss": [], "mws": []}
    for _ in range(600):
        idx = torch.randperm(n, generator=g)[:batch]
        zb = mu[idx] + std[idx] * torch.randn(batch, d, generator=g, dtype=mu.dtype)
        for name, values in estimates.items():
            a, b = estimate_log_qz(zb, mu[idx], std[idx], n, name)
            values.append((a - b.sum(-1)).mean())
    mss = torch.stack(estimates["mss"])
    mss_se = mss.std() / math.sqrt(len(mss))
    tolerance = 4 * math.hypot(float(exact_se), float(mss_se)) + 0.02  # + a small log bias
    assert abs(float(mss.mean() - exact_tc)) < tolerance
    assert float(torch.stack(estimates["mws"]).mean() - exact_tc) > 1.0  # MWS's known offset


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_the_decomposition_sums_to_the_kl(estimator):
    """MI + TC + dimKL telescopes to log q(z|x) - log p(z) for every batch, whose average over
    samples is the analytic E[KL(q(z|x) || p(z))] for the factorised N(0, I) prior."""
    n, d = 32, 3
    mu, std = posteriors(n, d, seed=7)
    prior = Independent(Normal(torch.zeros(d, dtype=mu.dtype), torch.ones(d, dtype=mu.dtype)), 1)
    qz_x = Independent(Normal(mu, std), 1)
    g = torch.Generator().manual_seed(8)
    sums = []
    for _ in range(200):
        z = mu + std * torch.randn(n, d, generator=g, dtype=mu.dtype)
        out = tc_decomposition(z, mu, std, prior.log_prob(z), n, estimator)
        total = out["mi"] + out["tc"] + out["dim_kl"]
        torch.testing.assert_close(total, out["kl"])
        torch.testing.assert_close(total, (qz_x.log_prob(z) - prior.log_prob(z)).mean())
        sums.append(total)
    sums_t = torch.stack(sums)
    analytic = torch.distributions.kl_divergence(qz_x, prior).mean()
    assert abs(float(sums_t.mean() - analytic)) < 4 * float(sums_t.std()) / math.sqrt(200)


def test_gradients_flow_through_samples_and_posterior_parameters():
    mu, std = posteriors(8, 3)
    mu, std = mu.clone().requires_grad_(), std.clone().requires_grad_()
    z = mu + std * torch.randn(8, 3, dtype=mu.dtype)
    out = tc_decomposition(z, mu, std, torch.zeros(8, dtype=mu.dtype), 100)
    (out["tc"] + out["mi"]).backward()
    assert mu.grad.abs().sum() > 0 and std.grad.abs().sum() > 0


def test_single_example_batch_and_bad_sizes():
    mu, std = posteriors(1, 2)
    z = sample(mu, std)
    a = estimate_log_qz(z, mu, std, 10, "mss")
    b = estimate_log_qz(z, mu, std, 10, "mws")
    torch.testing.assert_close(a, b)  # no other strata: MSS falls back to MWS's 1/N
    mu, std = posteriors(8, 2)
    with pytest.raises(ConfigError, match="dataset_size=4 is smaller than the batch of 8"):
        estimate_log_qz(sample(mu, std), mu, std, 4, "mss")
    with pytest.raises(ConfigError, match="unknown TC estimator"):
        estimate_log_qz(sample(mu, std), mu, std, 100, "exact")
