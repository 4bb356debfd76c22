"""One registry type for everything that is looked up by name.

Models, networks, priors, likelihoods, datasets and metrics are registered with a decorator and
constructed by name, so configs and the CLI never need an if/elif chain::

    @MODELS.register("vae")
    class VAE(BaseVAE): ...

    MODELS.get("vae")        # -> the class
    MODELS.names()           # -> ["vae", ...]
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from vaekit.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with helpful errors for unknown names."""

    def __init__(self, kind: str, check: Callable[[str, T], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._check = check

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (lower-case, unique)."""

        def decorator(obj: T) -> T:
            key = name.lower()
            if key in self._entries and self._entries[key] is not obj:
                raise RegistryError(f"{self.kind} '{key}' is already registered")
            if self._check is not None:
                self._check(key, obj)
            self._entries[key] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        _load_builtins()
        key = str(name).lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, self._entries, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise RegistryError(
                f"unknown {self.kind} '{name}'.{hint} Known {self.kind}s: "
                f"{', '.join(sorted(self._entries)) or '(none)'}"
            )
        return self._entries[key]

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with the given arguments."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def names(self) -> list[str]:
        _load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        _load_builtins()
        return str(name).lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _check_model(name: str, cls: Any) -> None:
    """A model's config must name the model, so configs and checkpoints rebuild the right class."""
    config_type = getattr(getattr(cls, "config_class", None), "config_type", None)
    if config_type != name:
        raise RegistryError(
            f"model '{name}': its config_class must set config_type = '{name}' "
            f"(found {config_type!r}); give each model its own config dataclass"
        )


MODELS: Registry[Any] = Registry("model", check=_check_model)
NETWORKS: Registry[Any] = Registry("network")
PRIORS: Registry[Any] = Registry("prior")
LIKELIHOODS: Registry[Any] = Registry("likelihood")
DATASETS: Registry[Any] = Registry("dataset")
METRICS: Registry[Any] = Registry("metric")

# Importing these packages runs their @register decorators.
_BUILTIN_PACKAGES = (
    "vaekit.distributions",
    "vaekit.nn",
    "vaekit.models",
    "vaekit.data",
    "vaekit.evaluation",
    "vaekit.apps.translation.domains",  # two-domain (translation) datasets
    "vaekit.apps.video",  # the svg video model and sequence datasets
    "vaekit.apps.text_to_image.register",  # text-conditioned models, captioned datasets
)
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package in _BUILTIN_PACKAGES:
        importlib.import_module(package)
