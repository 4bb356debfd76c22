"""Properties of the conv64, conv28 and resnet encoder/decoder families."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vaekit.errors import ConfigError, ShapeError
from vaekit.registry import NETWORKS

# Small widths where the property does not depend on them, so the whole file runs in seconds.
SMALL = {"conv64": {"hidden": 64}, "conv28": {"hidden": 64}, "resnet": {"channels": 8}}

SUPPORTED = {
    "conv64": [(1, 64, 64), (3, 64, 64)],
    "conv28": [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)],
    "resnet": [(1, 64, 64), (3, 64, 64), (1, 16, 24), (3, 40, 8), (2, 8, 8)],
}
CASES = [(name, shape) for name, shapes in SUPPORTED.items() for shape in shapes]


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """These nets are tiny, so one thread is faster; it also avoids OpenMP spin-wait
    oversubscription when several test processes share the CPU (20x slowdowns seen)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _targets(shape: tuple[int, int, int]) -> torch.Tensor:
    """Two distinct binary images (a half-plane and a disc), so the decoder must use z."""
    c, h, w = shape
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    images = torch.stack([(xx < 0.5).float(), ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1).float()])
    return images[:, None].expand(2, c, h, w).contiguous()


def test_families_are_registered():
    for name in ("conv64", "conv28", "resnet"):
        assert name in NETWORKS
        assert NETWORKS.get(name).name == name


@pytest.mark.parametrize("name,shape", CASES)
def test_output_shapes(name, shape):
    family = NETWORKS.get(name)
    family.check(shape)
    encoder = family.encoder(shape, 14, **SMALL[name])
    decoder = family.decoder(7, shape, 2 * shape[0], **SMALL[name])
    x = torch.rand(3, *shape)
    assert encoder(x).shape == (3, 14)
    assert decoder(torch.randn(3, 7)).shape == (3, 2 * shape[0], *shape[1:])


@pytest.mark.parametrize("name", ["conv64", "conv28", "resnet"])
def test_channels_last_input_gives_the_same_output(name):
    shape = SUPPORTED[name][1]
    torch.manual_seed(0)
    encoder = NETWORKS.get(name).encoder(shape, 6, **SMALL[name])
    x = torch.rand(2, *shape)
    expected = encoder(x)
    got = encoder(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


BAD_SIZES = [
    ("conv64", (1, 28, 28), ["64x64", "28x28", "conv28", "resnet", "resize"]),
    ("conv64", (3, 64, 32), ["64x64", "64x32"]),
    ("conv64", (1, 128, 128), ["128x128", "resize"]),
    ("conv28", (1, 64, 64), ["28x28 or 32x32", "64x64", "conv64"]),
    ("conv28", (3, 30, 30), ["30x30", "resnet"]),
    ("conv28", (1, 28, 32), ["28x32"]),
    ("resnet", (1, 28, 28), ["28x28", "divisible", "8"]),
    ("resnet", (3, 64, 36), ["64x36", "divisible", "num_downsamples"]),
]


@pytest.mark.parametrize("name,shape,words", BAD_SIZES)
def test_unsupported_sizes_raise_helpful_shape_errors(name, shape, words):
    family = NETWORKS.get(name)
    for build in (
        lambda: family.check(shape),
        lambda: family.encoder(shape, 4),
        lambda: family.decoder(2, shape, shape[0]),
    ):
        with pytest.raises(ShapeError) as info:
            build()
        for word in words:
            assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("name,shape", [("conv64", (2, 64, 64)), ("conv64", (4, 64, 64)),
                                        ("conv28", (2, 28, 28)), ("conv28", (4, 32, 32))])
def test_unsupported_channels_raise_shape_error(name, shape):
    with pytest.raises(ShapeError, match=rf"1 or 3 channels, got {shape[0]}"):
        NETWORKS.get(name).check(shape)


@pytest.mark.parametrize("name", ["conv64", "conv28", "resnet"])
@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 1, 28, 28)])
def test_non_image_ranks_raise_shape_error(name, shape):
    with pytest.raises(ShapeError, match=r"\(C, H, W\).*mlp"):
        NETWORKS.get(name).check(shape)


def test_resnet_num_downsamples_sets_the_divisibility_rule():
    family = NETWORKS.get("resnet")
    shape = (1, 28, 28)  # divisible by 4, not by 8
    family.check(shape, num_downsamples=2)
    encoder = family.encoder(shape, 6, channels=4, num_downsamples=2)
    decoder = family.decoder(3, shape, 1, channels=4, num_downsamples=2)
    assert encoder(torch.rand(2, *shape)).shape == (2, 6)
    assert decoder(torch.randn(2, 3)).shape == (2, 1, 28, 28)
    with pytest.raises(ShapeError, match="2\\*\\*4 = 16"):
        family.encoder((1, 40, 40), 6, num_downsamples=4)


@pytest.mark.parametrize("name", ["conv64", "conv28", "resnet"])
def test_check_accepts_the_network_options(name):
    shape = SUPPORTED[name][0]
    NETWORKS.get(name).check(shape, **SMALL[name])


def test_resnet_num_blocks_adds_residual_blocks():
    from vaekit.nn.resnet import ResidualBlock

    family = NETWORKS.get("resnet")
    shape = (1, 16, 16)
    for blocks in (0, 1, 2):
        enc = family.encoder(shape, 4, channels=4, num_blocks=blocks)
        dec = family.decoder(2, shape, 1, channels=4, num_blocks=blocks)
        for net in (enc, dec):
            # One group of blocks per resolution: 3 downsamples -> 4 resolutions.
            assert sum(isinstance(m, ResidualBlock) for m in net.modules()) == 4 * blocks


@pytest.mark.parametrize(
    "name,options",
    [
        ("conv64", {"hidden": 0}),
        ("conv64", {"channels": (32, 32, 64, 64, 64, 64, 64)}),
        ("conv28", {"channels": (32,)}),
        ("resnet", {"channels": 0}),
        ("resnet", {"num_blocks": -1}),
    ],
)
def test_bad_options_raise_config_error(name, options):
    shape = SUPPORTED[name][0]
    with pytest.raises(ConfigError, match=name):
        NETWORKS.get(name).encoder(shape, 4, **options)


@pytest.mark.parametrize("name", ["conv64", "conv28", "resnet"])
def test_gradients_reach_every_parameter_and_the_input(name):
    torch.manual_seed(0)
    shape = SUPPORTED[name][1]
    family = NETWORKS.get(name)
    encoder = family.encoder(shape, 8, **SMALL[name])
    decoder = family.decoder(4, shape, shape[0], **SMALL[name])
    x = torch.rand(2, *shape, requires_grad=True)
    z = encoder(x)[:, :4]
    loss = (decoder(z) - x.detach()).square().mean()
    loss.backward()
    for net in (encoder, decoder):
        for pname, p in net.named_parameters():
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname
            assert p.grad.abs().sum() > 0, f"no gradient reaches {pname}"
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "name,shape",
    [("conv64", (1, 64, 64)), ("conv64", (3, 64, 64)), ("conv28", (1, 28, 28)),
     ("conv28", (3, 32, 32)), ("resnet", (1, 16, 24))],
)
def test_decoder_overfits_two_fixed_targets(name, shape):
    torch.manual_seed(0)
    decoder = NETWORKS.get(name).decoder(4, shape, shape[0], **SMALL[name])
    z = torch.randn(2, 4)
    target = _targets(shape)
    opt = torch.optim.Adam(decoder.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        loss = (decoder(z) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # Observed factors are 13-55 on this seed; 8 leaves room for other CPUs' float rounding.
    assert losses[0] / min(losses[-5:]) > 8, losses[::10]


def test_encoder_overfits_fixed_codes():
    torch.manual_seed(0)
    shape = (1, 28, 28)
    encoder = NETWORKS.get("conv28").encoder(shape, 3, hidden=64)
    x = _targets(shape)
    codes = torch.tensor([[1.0, -1.0, 0.5], [-0.5, 1.0, -1.0]])
    opt = torch.optim.Adam(encoder.parameters(), lr=2e-3)
    first = last = None
    for _ in range(40):
        loss = (encoder(x) - codes).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
    assert first / last > 8


def _conv64_counts(c: int, latent: int, out_channels: int) -> tuple[int, int]:
    """Parameter counts of the conv64 encoder/decoder written out from the paper's spec."""

    def conv(n_in, n_out):  # 4x4 kernel + bias
        return n_in * n_out * 16 + n_out

    def fc(n_in, n_out):
        return n_in * n_out + n_out

    encoder = (conv(c, 32) + conv(32, 32) + conv(32, 64) + conv(64, 64)
               + fc(64 * 4 * 4, 256) + fc(256, 2 * latent))
    decoder = (fc(latent, 256) + fc(256, 64 * 4 * 4)
               + conv(64, 64) + conv(64, 32) + conv(32, 32) + conv(32, out_channels))
    return encoder, decoder


@pytest.mark.parametrize("c", [1, 3])
def test_conv64_matches_the_disentanglement_lib_architecture(c):
    family = NETWORKS.get("conv64")
    shape = (c, 64, 64)
    encoder = family.encoder(shape, 20)
    decoder = family.decoder(10, shape, c)
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [32, 32, 64, 64]
    assert convs[0].in_channels == c
    for m in convs:
        assert m.kernel_size == (4, 4) and m.stride == (2, 2) and m.padding == (1, 1)
    linears = [(m.in_features, m.out_features) for m in encoder.modules()
               if isinstance(m, nn.Linear)]
    assert linears == [(1024, 256), (256, 20)]
    assert sum(isinstance(m, nn.ReLU) for m in encoder.modules()) == 5

    deconvs = [m for m in decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in deconvs] == [
        (64, 64), (64, 32), (32, 32), (32, c)]
    for m in deconvs:
        assert m.kernel_size == (4, 4) and m.stride == (2, 2)
    linears = [(m.in_features, m.out_features) for m in decoder.modules()
               if isinstance(m, nn.Linear)]
    assert linears == [(10, 256), (256, 1024)]
    # ReLU after both FCs and between the deconvs, none on the output.
    assert sum(isinstance(m, nn.ReLU) for m in decoder.modules()) == 5
    assert not isinstance(list(decoder.children())[-1], nn.ReLU)

    assert (_n_params(encoder), _n_params(decoder)) == _conv64_counts(c, 10, c)
    if c == 1:  # the numbers quoted in the docs
        assert (_n_params(encoder), _n_params(decoder)) == (382_932, 381_313)


def test_conv64_channels_option_changes_depth():
    family = NETWORKS.get("conv64")
    encoder = family.encoder((1, 64, 64), 4, channels=(8, 16))  # 64 -> 32 -> 16
    decoder = family.decoder(2, (1, 64, 64), 1, channels=(8, 16))
    assert [m.out_channels for m in encoder.modules() if isinstance(m, nn.Conv2d)] == [8, 16]
    assert encoder(torch.rand(2, 1, 64, 64)).shape == (2, 4)
    assert decoder(torch.randn(2, 2)).shape == (2, 1, 64, 64)


def test_conv28_structure():
    family = NETWORKS.get("conv28")
    for side in (28, 32):
        encoder = family.encoder((1, side, side), 20)
        convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
        assert [m.out_channels for m in convs] == [32, 64]
        first_fc = next(m for m in encoder.modules() if isinstance(m, nn.Linear))
        assert first_fc.in_features == 64 * (side // 4) ** 2
