"""Config dataclasses: strict construction from dicts, JSON/YAML files and dotted overrides.

Every config in vaekit is a plain dataclass. :func:`from_dict` builds one from a nested dict and
checks every key and type, so a typo or a wrong type is an error naming the key::

    >>> from_dict(TrainConfig, {"lr": "fast"})
    ConfigError: train.lr: expected float, got str 'fast'

Dotted overrides (``model.beta=4``) are applied to the dict form before validation, so the same
checks cover files, the CLI and Python callers. A field may carry ``metadata={"resolve": fn}``
where ``fn(value_dict, path)`` builds a polymorphic sub-config (the model config depends on the
model type, for example).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml

from vaekit.errors import ConfigError

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """Recursively turn dataclasses (and tuples) into JSON-friendly dicts and lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        type_name = getattr(obj, "config_type", None)
        if type_name is not None:
            out["type"] = type_name
        for f in dataclasses.fields(obj):
            out[f.name] = to_dict(getattr(obj, f.name))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp``; allow only lossless coercions."""
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(
            f"{path}: expected {' or '.join(_type_name(o) for o in options)}, "
            f"got {type(value).__name__} {value!r}"
        )
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(
                f"{path}: must be one of {list(get_args(tp))}, got {value!r}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        args = get_args(tp)
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected float, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path}: expected int, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{path}: expected {tp.__name__}, got {type(value).__name__}")
    return value


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        if key == "type" and getattr(cls, "config_type", None) is not None:
            continue  # the discriminator of a polymorphic config, checked by its resolver
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"unknown config key '{full}'.{hint} Valid keys: {', '.join(sorted(fields))}"
            )
        resolver = fields[key].metadata.get("resolve")
        kwargs[key] = resolver(value, full) if resolver else _coerce(value, hints[key], full)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{path or cls.__name__}: {err}") from err
    return obj


_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.2 does; PyYAML's 1.1 does not) and
    keeps dates such as ``2024-01-31`` as strings (YAML 1.2 has no timestamp type; a run_dir
    named after a date must stay a string, and an impossible date is not a parse error)."""


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def parse_value(text: str) -> Any:
    """Parse an override value the way YAML would: ``4`` -> 4, ``true`` -> True, ``[1,2]``."""
    try:
        value = yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError, RecursionError):
        # Not YAML (or an explicit tag whose value is invalid, or absurdly deep nesting): the
        # text itself, which the config's type check then accepts or names.
        return text
    try:
        value = _plain(value, "value")
    except (ConfigError, RecursionError):  # an explicit tag (!!binary, !!set) built another type
        return text
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value):
        return float(value)  # YAML 1.1 reads "1e-3" (no dot) as a string; users mean a float
    return value


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any]) -> dict:
    """Return a copy of nested dict ``data`` with ``a.b.c=value`` overrides applied.

    Keys are checked later by :func:`from_dict`; here only the syntax is.
    """
    out = _plain(data, "")
    if not isinstance(out, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    items = overrides.items() if isinstance(overrides, dict) else [_split(o) for o in overrides]
    for dotted, value in items:
        keys = str(dotted).split(".")
        node = out
        for i, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override '{dotted}': '{'.'.join(keys[: i + 1])}' is not a section"
                )
            node = child
        node[keys[-1]] = parse_value(value) if isinstance(value, str) else value
    return out


_SCALARS = (str, int, float, bool, type(None))
_MAX_VALUES = 100_000  # far above any real config; YAML aliases can make a tiny file expand


def _plain(value: Any, path: str) -> Any:
    """A deep copy of ``value`` made of dicts, lists and scalars (JSON-like), or a ConfigError
    naming where a value of another type (a date, bytes, a set, an object) sits."""
    count = 0

    def copy(value: Any, path: str) -> Any:
        nonlocal count
        count += 1
        if count > _MAX_VALUES:
            raise ConfigError(f"config holds more than {_MAX_VALUES} values (YAML aliases that "
                              "expand without end?)")
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, dict):
            return {str(k): copy(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [copy(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return copy(to_dict(value), path)
        raise ConfigError(f"{path or 'config'}: {type(value).__name__} values are not supported "
                          f"in configs (got {value!r:.60}); use a string, number, list or "
                          "mapping")

    return copy(value, path)


def _split(override: str) -> tuple[str, str]:
    text = override[2:] if override.startswith("--") else override
    if "=" not in text:
        raise ConfigError(f"override '{override}' must look like key.sub=value")
    key, value = text.split("=", 1)
    if not key:
        raise ConfigError(f"override '{override}' has an empty key")
    return key, value


def load_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into a dict (never executes code)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: '{path}'")
    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not a text file (expected {kind})") from None
    except OSError as err:
        raise ConfigError(f"config file '{path}' cannot be read: {err.strerror or err}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except (json.JSONDecodeError, yaml.YAMLError, ValueError) as err:
        # (ValueError: an explicit tag with an invalid value, e.g. "!!timestamp 2024-13-01")
        reason = " ".join(str(err).split()) or type(err).__name__  # one line, with the position
        raise ConfigError(f"config file '{path}' is not valid {kind}: {reason}") from None
    except RecursionError:
        raise ConfigError(f"config file '{path}' is nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping at the top level")
    try:
        return _plain(data, "")
    except RecursionError:
        raise ConfigError(f"config file '{path}' is nested too deeply") from None


def save_file(obj: Any, path: str | Path) -> None:
    """Write a config (dataclass or dict) as JSON or YAML depending on the suffix."""
    from vaekit.checkpoint import atomic_write  # (vaekit.checkpoint imports this module)

    path = Path(path)
    data = to_dict(obj)
    if path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2) + "\n"
    # Atomic: a run's config.yaml is rewritten on every resume, and a kill mid-write must not
    # leave a run that can no longer be resumed.
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def check_betas(key: str, betas: Any) -> tuple[float, float]:
    """Adam's ``betas`` as a tuple of two floats in [0, 1), else a ConfigError naming ``key``."""
    try:
        values = tuple(float(b) for b in betas)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be two numbers in [0, 1), got {betas!r}") from None
    check(len(values) == 2 and all(0 <= b < 1 for b in values),
          f"{key} must be two numbers in [0, 1), got {values}")
    return values  # type: ignore[return-value]
