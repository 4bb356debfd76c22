"""Likelihoods p(x|z): exact densities, normalisation, sampling, shapes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal

from vaekit.distributions import DiscretizedLogistic, DiscretizedLogisticMixture
from vaekit.distributions.discretized_logistic import DEFAULT_MIN_LOG_SCALE
from vaekit.errors import ConfigError
from vaekit.registry import LIKELIHOODS, NETWORKS

LEVELS = torch.arange(256, dtype=torch.float64) / 255
LOG_2PI = math.log(2 * math.pi)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Small tensors: one thread is faster, and avoids OpenMP spin-wait oversubscription when
    several test processes share the CPU (20x slowdowns seen)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _all_levels(batch_dims: int, dtype=torch.float64) -> torch.Tensor:
    """The 256 bin centres shaped (256, 1, ..., 1) to broadcast against a batch."""
    return LEVELS.to(dtype).reshape(256, *([1] * batch_dims))


def _extreme_params(dtype=torch.float64):
    """A grid of (loc, log_scale) including far-away locations and tiny/huge scales, plus random
    ones."""
    locs = torch.tensor([-3e4, -1e3, -5.0, -0.3, 0.0, 0.5 / 255, 0.37, 0.5, 1.0, 1.2, 8.0, 1e3,
                         1e5])
    log_scales = torch.tensor([-50.0, -9.0, DEFAULT_MIN_LOG_SCALE, -5.0, -2.0, 0.0, 3.0, 12.0,
                               40.0])
    grid_loc, grid_ls = torch.meshgrid(locs, log_scales, indexing="ij")
    gen = torch.Generator().manual_seed(0)
    rand_loc = torch.rand(300, generator=gen) * 2 - 0.5
    rand_ls = torch.rand(300, generator=gen) * 8 - 8
    loc = torch.cat([grid_loc.flatten(), rand_loc]).to(dtype)
    log_scale = torch.cat([grid_ls.flatten(), rand_ls]).to(dtype)
    return loc, log_scale


# ---------------------------------------------------------------------------- Bernoulli
def test_bernoulli_log_prob_is_minus_bce_summed_over_pixels():
    lik = LIKELIHOODS.build("bernoulli", (1, 5, 4))
    logits = torch.randn(3, 1, 5, 4) * 3
    x = torch.rand(3, 1, 5, 4)  # grey levels, as for MNIST intensities
    px = lik(logits)
    assert px.event_shape == (1, 5, 4) and px.batch_shape == (3,)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(px.log_prob(x), -bce)
    # Binary data: the textbook x log p + (1 - x) log (1 - p).
    xb = (x > 0.5).float()
    prob = torch.sigmoid(logits.double())
    manual = (xb * prob.log() + (1 - xb) * (1 - prob).log()).sum((1, 2, 3))
    torch.testing.assert_close(px.log_prob(xb).double(), manual, rtol=1e-5, atol=1e-4)


def test_bernoulli_with_sample_dims():
    lik = LIKELIHOODS.build("bernoulli", (2, 3, 3))
    logits = torch.randn(4, 5, 2, 3, 3)
    x = torch.rand(5, 2, 3, 3)
    lp = lik(logits).log_prob(x)
    assert lp.shape == (4, 5)
    torch.testing.assert_close(lp[2], lik(logits[2]).log_prob(x))


# ---------------------------------------------------------------------------- Gaussians
def _normal_log_density(x, mean, std):
    return (-0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI).sum((-3, -2, -1))


def test_fixed_gaussian_is_the_closed_form_density():
    shape = (3, 4, 4)
    for options, std in [({}, 0.1), ({"std": 0.3}, 0.3)]:
        lik = LIKELIHOODS.build("gaussian", shape, **options)
        assert lik.params_per_channel == 1
        mean = torch.randn(2, *shape, dtype=torch.float64)
        x = torch.rand(2, *shape, dtype=torch.float64)
        px = lik(mean)
        assert px.event_shape == shape and px.batch_shape == (2,)
        torch.testing.assert_close(
            px.log_prob(x), _normal_log_density(x, mean, torch.tensor(std, dtype=mean.dtype)))
        # The raw decoder output is the mean: no squashing.
        torch.testing.assert_close(px.mean, mean)


def test_fixed_gaussian_rejects_nonpositive_std():
    with pytest.raises(ConfigError, match="std must be positive"):
        LIKELIHOODS.build("gaussian", (1, 2, 2), std=0.0)


def test_learned_per_pixel_gaussian_is_the_closed_form_density():
    shape = (2, 3, 3)
    lik = LIKELIHOODS.build("gaussian_learned", shape)
    assert lik.params_per_channel == 2
    params = torch.randn(4, 2 * shape[0], 3, 3, dtype=torch.float64) * 3
    x = torch.rand(4, *shape, dtype=torch.float64)
    px = lik(params)
    mean, raw = params[:, :2], params[:, 2:]
    std = F.softplus(raw) + lik.min_std
    assert px.event_shape == shape
    torch.testing.assert_close(px.log_prob(x), _normal_log_density(x, mean, std))
    torch.testing.assert_close(px.stddev, std)


def test_learned_per_pixel_std_is_bounded_below():
    lik = LIKELIHOODS.build("gaussian_learned", (1, 2, 2), min_std=0.01)
    params = torch.cat([torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), -1e4)], 1)
    px = lik(params)
    assert (px.stddev >= 0.01).all()
    assert torch.isfinite(px.log_prob(torch.zeros(1, 1, 2, 2))).all()
    big = lik(torch.cat([torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 1e4)], 1))
    assert torch.isfinite(big.log_prob(torch.zeros(1, 1, 2, 2))).all()


def test_learned_shared_gaussian_density_and_parameter():
    shape = (1, 4, 4)
    lik = LIKELIHOODS.build("gaussian_learned", shape, variance="shared")
    assert lik.params_per_channel == 1
    assert [name for name, _ in lik.named_parameters()] == ["log_std"]
    torch.testing.assert_close(lik.shared_std.detach(), torch.tensor(0.1))
    mean = torch.randn(3, *shape)
    x = torch.rand(3, *shape)
    px = lik(mean)
    torch.testing.assert_close(px.log_prob(x), _normal_log_density(x, mean, lik.shared_std))


@pytest.mark.parametrize("init_std", [1.0, 0.01])
def test_learned_shared_std_moves_to_the_noise_level(init_std):
    torch.manual_seed(0)
    shape = (1, 8, 8)
    lik = LIKELIHOODS.build("gaussian_learned", shape, variance="shared", init_std=init_std)
    mean = torch.rand(64, *shape)
    x = mean + 0.05 * torch.randn(64, *shape)
    rms = (x - mean).square().mean().sqrt()  # the maximum-likelihood std
    opt = torch.optim.Adam(lik.parameters(), lr=0.05)
    for _ in range(300):
        loss = -lik(mean).log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(lik.shared_std.item() - rms.item()) < 0.02 * rms.item()


def test_learned_gaussian_rejects_unknown_variance():
    with pytest.raises(ConfigError, match="per_pixel.*shared"):
        LIKELIHOODS.build("gaussian_learned", (1, 2, 2), variance="diagonal")


# --------------------------------------------------------------- discretized logistic
# float32: 6e-7 worst seen; computing the two edges of a shared boundary differently (centre +
# half vs next centre - half) gives 3e-5, which this must catch.
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 5e-6)])
def test_discretized_logistic_normalises_including_extremes(dtype, tol):
    loc, log_scale = _extreme_params(dtype)
    dist = DiscretizedLogistic(loc, log_scale)
    lp = dist.log_prob(_all_levels(1, dtype))  # (256, N)
    assert torch.isfinite(lp).all()
    total = lp.double().exp().sum(0)
    assert (total - 1).abs().max() < tol, (total - 1).abs().max()


def test_discretized_logistic_matches_the_naive_cdf_difference():
    # Float64 and probabilities above e^-12: there the textbook CDF difference loses at most
    # ~1e-16 / 6e-6 relative to cancellation, so it is an accurate reference.
    gen = torch.Generator().manual_seed(1)
    loc = torch.rand(50, generator=gen, dtype=torch.float64)
    scale = torch.rand(50, generator=gen, dtype=torch.float64) * 0.2 + 0.01
    x = _all_levels(1)
    half = 0.5 / 255
    upper = torch.where(x > 1 - half, torch.ones(()), torch.sigmoid((x + half - loc) / scale))
    lower = torch.where(x < half, torch.zeros(()), torch.sigmoid((x - half - loc) / scale))
    expected = (upper - lower).log()
    got = DiscretizedLogistic(loc, scale.log()).log_prob(x)
    keep = expected > -12
    assert keep.sum() > 1000
    torch.testing.assert_close(got[keep], expected[keep], rtol=1e-9, atol=1e-9)


def test_discretized_logistic_tiny_probabilities_are_accurate():
    # Far in the tail the CDF difference underflows in float32, but log P is known analytically:
    # for loc << x the bin probability ~ density * bin width ~ exp(-(x - loc) / s) * width / s.
    loc = torch.tensor([0.0])
    log_scale = torch.tensor([math.log(0.005)])
    x = torch.tensor([0.8])
    got = DiscretizedLogistic(loc, log_scale).log_prob(x)
    ref = DiscretizedLogistic(loc.double(), log_scale.double()).log_prob(x.double())
    assert got.item() < -100  # far below float32's smallest normal probability
    assert abs(got.item() - ref.item()) < 1e-4 * abs(ref.item())


def test_discretized_logistic_gradients_are_finite_for_extremes():
    loc, log_scale = _extreme_params(torch.float32)
    loc.requires_grad_(True)
    log_scale.requires_grad_(True)
    lp = DiscretizedLogistic(loc, log_scale).log_prob(_all_levels(1, torch.float32))
    lp.sum().backward()
    assert torch.isfinite(loc.grad).all() and torch.isfinite(log_scale.grad).all()


def test_discretized_logistic_snaps_to_the_nearest_level_and_clamps_scale():
    dist = DiscretizedLogistic(torch.tensor(0.4), torch.tensor(-3.0))
    x = torch.tensor(100 / 255)
    torch.testing.assert_close(dist.log_prob(x + 0.4 / 255), dist.log_prob(x))
    assert not torch.allclose(dist.log_prob(x + 0.6 / 255), dist.log_prob(x))
    clamped = DiscretizedLogistic(torch.tensor(0.4), torch.tensor(-100.0))
    torch.testing.assert_close(clamped.log_scale, torch.tensor(DEFAULT_MIN_LOG_SCALE))


def test_discretized_logistic_mean_is_exact():
    loc, log_scale = _extreme_params()
    dist = DiscretizedLogistic(loc, log_scale)
    probs = dist.log_prob(_all_levels(1)).exp()
    exact = (probs * _all_levels(1)).sum(0)
    torch.testing.assert_close(dist.mean, exact, rtol=0, atol=1e-9)
    assert ((dist.mean >= 0) & (dist.mean <= 1)).all()


def _check_sampler(dist, n=200_000):
    """Samples are valid levels with the frequencies exp(log_prob) (within 5 std errors)."""
    samples = dist.sample((n,))
    assert samples.shape == (n, *dist.batch_shape)
    levels = samples * 255
    assert ((samples >= 0) & (samples <= 1)).all()
    assert (levels - levels.round()).abs().max() < 1e-4
    counts = torch.bincount(levels.round().long().flatten(), minlength=256).double()
    probs = dist.log_prob(_all_levels(0, samples.dtype)).exp().double()
    stderr = (probs * (1 - probs) / n).sqrt() + 1e-6
    assert ((counts / n - probs).abs() < 5 * stderr).all()


def test_discretized_logistic_samples_have_the_right_distribution():
    torch.manual_seed(0)
    _check_sampler(DiscretizedLogistic(torch.tensor(0.02), torch.tensor(math.log(0.02))))
    _check_sampler(DiscretizedLogistic(torch.tensor(0.6), torch.tensor(math.log(0.005))))


def test_discretized_logistic_validates_support():
    dist = DiscretizedLogistic(torch.tensor(0.5), torch.tensor(0.0), validate_args=True)
    with pytest.raises(ValueError):
        dist.log_prob(torch.tensor(1.5))


def test_discretized_logistic_with_fewer_bins_normalises():
    dist = DiscretizedLogistic(torch.tensor([0.3, 0.9]), torch.tensor([-1.0, -3.0]), n_bins=4)
    x = (torch.arange(4.0) / 3).reshape(4, 1)
    torch.testing.assert_close(dist.log_prob(x).exp().sum(0), torch.ones(2))


# ----------------------------------------------------------------------------- mixture
def _mixture_params(dtype=torch.float64, k=5):
    loc, log_scale = _extreme_params(dtype)
    n = loc.numel()
    gen = torch.Generator().manual_seed(2)
    perm = torch.randperm(n * k, generator=gen) % n
    logits = torch.randn(n, k, generator=gen, dtype=dtype) * 3
    logits[0] = torch.tensor([50.0, -50.0, 0.0, 0.0, 0.0])  # extreme mixture weights
    return logits, loc[perm].reshape(n, k), log_scale[perm].reshape(n, k)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 5e-6)])
def test_mixture_normalises_including_extremes(dtype, tol):
    dist = DiscretizedLogisticMixture(*_mixture_params(dtype))
    assert dist.batch_shape == (dist.logits.shape[0],)
    lp = dist.log_prob(_all_levels(1, dtype))
    assert torch.isfinite(lp).all()
    assert (lp.double().exp().sum(0) - 1).abs().max() < tol


def test_mixture_is_the_weighted_sum_of_components():
    logits, locs, log_scales = _mixture_params()
    dist = DiscretizedLogisticMixture(logits, locs, log_scales)
    x = _all_levels(1)
    weights = torch.softmax(logits, -1)
    comp = DiscretizedLogistic(locs, log_scales).log_prob(x.unsqueeze(-1)).exp()
    torch.testing.assert_close(dist.log_prob(x).exp(), (weights * comp).sum(-1))
    one = DiscretizedLogisticMixture(logits[:, :1], locs[:, :1], log_scales[:, :1])
    torch.testing.assert_close(one.log_prob(x),
                               DiscretizedLogistic(locs[:, 0], log_scales[:, 0]).log_prob(x))


def test_mixture_mean_and_samples():
    torch.manual_seed(0)
    logits, locs, log_scales = _mixture_params()
    dist = DiscretizedLogisticMixture(logits, locs, log_scales)
    exact = (dist.log_prob(_all_levels(1)).exp() * _all_levels(1)).sum(0)
    torch.testing.assert_close(dist.mean, exact, rtol=0, atol=1e-9)
    bimodal = DiscretizedLogisticMixture(
        torch.tensor([0.0, 1.0]), torch.tensor([0.1, 0.8]), torch.tensor([-4.0, -3.0]))
    _check_sampler(bimodal)


# ------------------------------------------------------------------ likelihood wrappers
def test_discretized_logistic_likelihood_shapes_and_sample_dims():
    shape = (3, 4, 5)
    lik = LIKELIHOODS.build("discretized_logistic", shape)
    assert lik.params_per_channel == 2
    params = torch.randn(6, 2, 2 * 3, 4, 5)  # (K samples, B, 2C, H, W)
    x = torch.randint(0, 256, (2, *shape)).float() / 255
    px = lik(params)
    assert px.event_shape == shape and px.batch_shape == (6, 2)
    lp = px.log_prob(x)
    assert lp.shape == (6, 2)
    torch.testing.assert_close(lp[4], lik(params[4]).log_prob(x))
    base = DiscretizedLogistic(params[..., :3, :, :], params[..., 3:, :, :])
    torch.testing.assert_close(lp, base.log_prob(x).sum((-3, -2, -1)))
    sample = px.sample()
    assert sample.shape == (6, 2, *shape)
    assert px.mean.shape == (6, 2, *shape)


@pytest.mark.parametrize("shape", [(3, 4, 5), (7,)])
def test_mixture_likelihood_parameter_layout(shape):
    k = 3
    lik = LIKELIHOODS.build("discretized_logistic_mixture", shape, num_mixtures=k)
    assert lik.params_per_channel == 3 * k
    c = shape[0]
    params = torch.randn(4, 2, 3 * k * c, *shape[1:])
    px = lik(params)
    assert px.event_shape == shape and px.batch_shape == (4, 2)
    mix = px.base_dist
    # Output channel (p * K + k) * C + c is parameter p of component k for data channel c.
    for p_index, got in enumerate([mix.logits, mix.locs, mix.log_scales]):
        for comp in range(k):
            for ch in range(c):
                want = params[:, :, (p_index * k + comp) * c + ch]
                if p_index == 0:  # logits are stored normalised
                    want = want - params[:, :, ch:k * c:c].logsumexp(2)
                if p_index == 2:
                    want = want.clamp_min(DEFAULT_MIN_LOG_SCALE)
                torch.testing.assert_close(got[:, :, ch, ..., comp], want)
    x = torch.rand(2, *shape)
    lp = px.log_prob(x)
    assert lp.shape == (4, 2) and torch.isfinite(lp).all()
    assert px.sample().shape == (4, 2, *shape)


def test_likelihood_options_are_checked():
    with pytest.raises(ConfigError, match="num_mixtures"):
        LIKELIHOODS.build("discretized_logistic_mixture", (1, 2, 2), num_mixtures=0)
    with pytest.raises(ConfigError, match="n_bins"):
        LIKELIHOODS.build("discretized_logistic", (1, 2, 2), n_bins=1)


@pytest.mark.parametrize(
    "name,options",
    [("bernoulli", {}), ("gaussian", {}), ("gaussian_learned", {}),
     ("gaussian_learned", {"variance": "shared"}), ("discretized_logistic", {}),
     ("discretized_logistic_mixture", {"num_mixtures": 2})],
)
def test_every_likelihood_fits_a_decoder(name, options):
    """decoder(latent, shape, params_per_channel * C) -> likelihood: the model's wiring."""
    shape = (3, 32, 32)
    lik = LIKELIHOODS.build(name, shape, **options)
    decoder = NETWORKS.get("conv28").decoder(4, shape, lik.params_per_channel * shape[0],
                                             hidden=16, channels=(4, 8))
    px = lik(decoder(torch.randn(2, 4)))
    assert isinstance(px, Independent)
    assert px.event_shape == shape and px.batch_shape == (2,)
    x = torch.randint(0, 256, (2, *shape)).float() / 255
    lp = px.log_prob(x)
    assert lp.shape == (2,) and torch.isfinite(lp).all()
    image = lik.mean_image(px)
    assert image.shape == (2, *shape) and image.min() >= 0 and image.max() <= 1


@pytest.mark.parametrize(
    "name,ppc", [("gaussian", 1), ("gaussian_learned", 2), ("discretized_logistic", 2),
                 ("discretized_logistic_mixture", 15)])
def test_half_precision_decoder_outputs_are_scored_in_float32(name, ppc):
    lik = LIKELIHOODS.build(name, (1, 4, 4))
    params = torch.randn(2, ppc, 4, 4)
    x = torch.randint(0, 256, (2, 1, 4, 4)).float() / 255
    lp = lik(params.bfloat16()).log_prob(x)
    assert lp.dtype == torch.float32
    torch.testing.assert_close(lp, lik(params.bfloat16().float()).log_prob(x))


def test_normal_reference_matches_torch():
    # Guards the helper used above against a silent error in the closed form.
    mean, std = torch.randn(2, 1, 2, 2), torch.rand(2, 1, 2, 2) + 0.1
    x = torch.randn(2, 1, 2, 2)
    torch.testing.assert_close(_normal_log_density(x, mean, std),
                               Independent(Normal(mean, std), 3).log_prob(x))
