"""Multi-layer perceptron encoder/decoder for vectors or (flattened) images."""

from __future__ import annotations

from torch import nn

from vaekit.errors import ShapeError
from vaekit.nn.base import NetworkFamily, Reshape, numel
from vaekit.registry import NETWORKS

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}


def _activation(name: str) -> type[nn.Module]:
    if name not in _ACTIVATIONS:
        raise ShapeError(f"unknown activation '{name}'; choose one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def _stack(sizes: list[int], activation: str) -> list[nn.Module]:
    act = _activation(activation)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), act()]
    return layers


@NETWORKS.register("mlp")
class MLP(NetworkFamily):
    """Fully connected nets; any data shape (flattened). Defaults follow the IWAE paper's
    one-stochastic-layer MNIST model (Burda et al. 2016): two hidden layers of 200, tanh."""

    name = "mlp"

    @staticmethod
    def check(data_shape: tuple[int, ...], **options) -> None:
        if len(data_shape) == 0 or numel(data_shape) == 0:
            raise ShapeError(f"network 'mlp' needs a non-empty data shape, got {data_shape}")

    @staticmethod
    def encoder(
        data_shape: tuple[int, ...],
        out_features: int,
        hidden: tuple[int, ...] | list[int] = (200, 200),
        activation: str = "tanh",
    ) -> nn.Module:
        sizes = [numel(data_shape), *hidden]
        return nn.Sequential(nn.Flatten(), *_stack(sizes, activation),
                             nn.Linear(sizes[-1], out_features))

    @staticmethod
    def decoder(
        latent_dim: int,
        data_shape: tuple[int, ...],
        out_channels: int,
        hidden: tuple[int, ...] | list[int] = (200, 200),
        activation: str = "tanh",
    ) -> nn.Module:
        out_shape = (out_channels, *data_shape[1:])
        sizes = [latent_dim, *reversed(list(hidden))]
        return nn.Sequential(*_stack(sizes, activation), nn.Linear(sizes[-1], numel(out_shape)),
                             Reshape(*out_shape))
