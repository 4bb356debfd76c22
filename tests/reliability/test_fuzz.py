"""Property and fuzz tests: whatever the input, the config parser, the checkpoint loaders and the
data loaders return a result or raise one of the library's documented errors (VaekitError:
ConfigError, CheckpointError, DataError, ...), and never hang.

The examples are the same on every run (``derandomize``); set VAEKIT_FUZZ_EXAMPLES=N to search
N random examples per test instead.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from reliability_helpers import overrides, time_limit

from vaekit.checkpoint import load_pretrained
from vaekit.config import apply_overrides, parse_value
from vaekit.data.binarized_mnist import read_amat, read_packed
from vaekit.data.dsprites import read_packed_npz_images
from vaekit.data.idx import read_idx, write_idx
from vaekit.data.image_folder import image_folder
from vaekit.data.sklearn_digits import read_digits_csv
from vaekit.errors import VaekitError
from vaekit.models import build_model
from vaekit.training import ExperimentConfig, load_experiment, train
from vaekit.training.checkpoint_io import load_training_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="time_limit uses SIGALRM")

_MORE = os.environ.get("VAEKIT_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_MORE) if _MORE else 40, derandomize=_MORE is None, deadline=None,
    database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECONDS = 20  # per example: far more than any of these needs, so only a hang trips it


def outcome(call, *args, **kwargs):
    """Run ``call``; return its result or the VaekitError it raised. Any other exception, or a
    call still running after SECONDS, fails the test."""
    with time_limit(SECONDS), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return call(*args, **kwargs)
        except VaekitError as err:
            assert str(err).strip(), "an error needs a message"
            return err


# ------------------------------------------------------------------------------- strategies
YAMLISH = st.text(alphabet=st.sampled_from(list(
    "[]{}:,-?!&*|>'\"#%@`~.=0123456789eE+_ \n\tabcdefnlrstuxyzTFNY")), max_size=60)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["vae", "mlp", "conv64", "beta_vae", "bernoulli", "train",
                                     "1e-3", "2024-13-01", "inf", "[1, 2]", "{a: 1}"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10)
KEYS = st.sampled_from([
    "model.type", "model.latent_dim", "model.network", "model.network_options",
    "model.network_options.hidden", "model.likelihood", "model.prior", "model.data_shape",
    "model.beta", "model", "train.max_steps", "train.lr", "train.betas", "train.batch_size",
    "train.kl_schedule", "train.skip_nonfinite", "train.devices", "train.loggers", "train",
    "data.name", "data.options", "data.val_size", "data.limit", "data", "run_dir", "x.y.z",
])


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` with a few bytes changed, inserted, deleted or cut off (headers more often)."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        position = draw(st.one_of(st.integers(0, min(63, len(data) - 1)),
                                  st.integers(0, len(data) - 1)))
        kind = draw(st.sampled_from(["set", "set", "insert", "delete", "truncate"]))
        if kind == "set":
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[position:position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


def damaged(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(seed), st.binary(max_size=200))


# ------------------------------------------------------------------------------ config parser
@FUZZ
@given(st.one_of(YAMLISH, st.text(max_size=80)))
def test_parse_value_always_returns_plain_data(text):
    value = outcome(parse_value, text)
    assert not isinstance(value, VaekitError)  # parse_value never raises
    json.dumps(value)  # dicts, lists, strings, numbers, booleans, None: nothing else


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=30), st.builds("{}={}".format, KEYS, YAMLISH)),
                max_size=5))
def test_apply_overrides_gives_a_dict_or_a_config_error(items):
    result = outcome(apply_overrides, {"model": {"type": "vae"}}, items)
    assert isinstance(result, (dict, VaekitError))


@FUZZ
@given(st.lists(st.builds("{}={}".format, KEYS, YAMLISH), max_size=6))
def test_load_experiment_with_override_strings(items):
    result = outcome(load_experiment, None, items)
    assert isinstance(result, (ExperimentConfig, VaekitError))


@FUZZ
@given(st.dictionaries(KEYS, JSONISH, max_size=6))
def test_load_experiment_with_override_values(values):
    result = outcome(load_experiment, None, values)
    assert isinstance(result, (ExperimentConfig, VaekitError))


@FUZZ
@given(st.one_of(YAMLISH, st.builds(lambda d: json.dumps(d, allow_nan=True),
                                    st.dictionaries(st.sampled_from(["model", "train", "data",
                                                                     "run_dir", "x"]),
                                                    JSONISH, max_size=4))))
def test_load_experiment_from_a_fuzzed_file(tmp_path, text):
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    result = outcome(load_experiment, path)
    assert isinstance(result, (ExperimentConfig, VaekitError))


# -------------------------------------------------------------------------- checkpoint loaders
SMALL = {"type": "vae", "network": "mlp", "data_shape": [1, 8, 8], "latent_dim": 3,
         "network_options": {"hidden": [16]}}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> tuple[dict, bytes]:
    torch.manual_seed(0)
    directory = build_model(SMALL).save_pretrained(tmp_path_factory.mktemp("pretrained"))
    return (json.loads((directory / "config.json").read_text()),
            (directory / "model.safetensors").read_bytes())


def _write_model_dir(directory: Path, meta, weights: bytes) -> Path:
    directory.mkdir(exist_ok=True)
    text = meta if isinstance(meta, str) else json.dumps(meta, allow_nan=True)
    (directory / "config.json").write_text(text)
    (directory / "model.safetensors").write_bytes(weights)
    return directory


CONFIG_FIELDS = st.sampled_from(["latent_dim", "network", "network_options", "likelihood",
                                 "likelihood_options", "prior", "data_shape", "type", "beta"])


@FUZZ
@given(data=st.data())
def test_load_pretrained_with_a_fuzzed_config_json(pretrained, tmp_path, data):
    meta, weights = json.loads(json.dumps(pretrained[0])), pretrained[1]
    kind = data.draw(st.sampled_from(["field", "top", "text"]))
    if kind == "field":  # one model setting replaced by an arbitrary (small) value
        meta["config"][data.draw(CONFIG_FIELDS)] = data.draw(JSONISH)
    elif kind == "top":
        meta[data.draw(st.sampled_from(["format", "model_type", "config"]))] = data.draw(JSONISH)
    else:
        meta = data.draw(st.one_of(YAMLISH, st.text(max_size=50)))
    result = outcome(load_pretrained, _write_model_dir(tmp_path / "m", meta, weights))
    assert isinstance(result, (torch.nn.Module, VaekitError))


@FUZZ
@given(data=st.data())
def test_load_pretrained_with_damaged_weights(pretrained, tmp_path, data):
    weights = data.draw(damaged(pretrained[1]))
    result = outcome(load_pretrained, _write_model_dir(tmp_path / "m", pretrained[0], weights))
    if isinstance(result, torch.nn.Module):  # the damage hit tensor data only
        assert all(torch.isfinite(p).all() for p in result.state_dict().values())
    else:
        assert isinstance(result, VaekitError)


@pytest.fixture(scope="module")
def training_checkpoint(image_root, tmp_path_factory) -> bytes:
    run_dir = tmp_path_factory.mktemp("fuzz") / "run"
    train(load_experiment(None, overrides(image_root, run_dir, "train.max_steps=3")))
    return (run_dir / "checkpoints" / "last.ckpt").read_bytes()


@FUZZ
@given(data=st.data())
def test_training_checkpoint_loader_with_damaged_bytes(training_checkpoint, tmp_path, data):
    path = tmp_path / "last.ckpt"
    path.write_bytes(data.draw(damaged(training_checkpoint)))
    result = outcome(load_training_checkpoint, path)
    assert isinstance(result, VaekitError) or isinstance(result.get("state_dict"), dict)


# -------------------------------------------------------------------------------- data loaders
def _image_bytes(fmt: str, mode: str) -> bytes:
    buffer = io.BytesIO()
    pixels = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


IMAGE_SEEDS = {f"{fmt}-{mode}": (ext, _image_bytes(fmt, mode)) for fmt, ext, mode in [
    ("PNG", ".png", "L"), ("PNG", ".png", "RGBA"), ("GIF", ".gif", "P"), ("BMP", ".bmp", "RGB"),
    ("TIFF", ".tif", "RGB"), ("JPEG", ".jpg", "RGB"), ("PPM", ".ppm", "RGB"),
]}


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(IMAGE_SEEDS)))
def test_image_folder_with_a_damaged_file(tmp_path, data, name):
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    extension, seed = IMAGE_SEEDS[name]
    (folder / f"a{extension}").write_bytes(data.draw(damaged(seed)))
    (folder / "b.png").write_bytes(IMAGE_SEEDS["PNG-L"][1])  # a readable neighbour
    result = outcome(image_folder, root=str(folder), channels=data.draw(st.sampled_from(
        [None, 1, 3])))
    assert isinstance(result, VaekitError) or len(result) in (1, 2)


def _idx_bytes() -> bytes:
    buffer = io.BytesIO()
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.asarray(array.shape, ">u4").tobytes()
    buffer.write(header + array.tobytes())
    return buffer.getvalue()


def test_idx_seed_is_a_real_idx_file(tmp_path):
    write_idx(tmp_path / "a.idx", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    assert (tmp_path / "a.idx").read_bytes() == _idx_bytes()


@FUZZ
@given(data=st.data(), compressed=st.booleans(), limit=st.sampled_from([None, 1, 5]))
def test_idx_reader_with_damaged_bytes(tmp_path, data, compressed, limit):
    content = data.draw(damaged(_idx_bytes()))
    if compressed:
        content = data.draw(st.one_of(st.just(gzip.compress(content)),
                                      mutated(gzip.compress(_idx_bytes()))))
    path = tmp_path / "data-idx3-ubyte"
    path.write_bytes(content)
    result = outcome(read_idx, path, limit=limit)
    assert isinstance(result, (np.ndarray, VaekitError))


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


TEXT_AND_NPZ_READERS = {
    "amat": (lambda p: read_amat(p), b"0 1 " * 392 + b"\n" + b"1 0 " * 392 + b"\n"),
    "digits": (lambda p: read_digits_csv(p),
               gzip.compress(b",".join([b"3"] * 64 + [b"7"]) + b"\n")),
    "packed": (lambda p: read_packed(p, "train"), _npz_bytes(train=np.zeros((2, 98), np.uint8))),
    "npz_images": (lambda p: read_packed_npz_images(p, "imgs", 2, (8, 8)),
                   _npz_bytes(imgs=np.ones((2, 8, 8), np.uint8))),
}


@FUZZ
@given(data=st.data(), reader=st.sampled_from(sorted(TEXT_AND_NPZ_READERS)))
def test_other_file_readers_with_damaged_bytes(tmp_path, data, reader):
    read, seed = TEXT_AND_NPZ_READERS[reader]
    path = tmp_path / "data.bin"
    path.write_bytes(data.draw(damaged(seed)))
    result = outcome(read, path)
    assert isinstance(result, (np.ndarray, tuple, VaekitError))
