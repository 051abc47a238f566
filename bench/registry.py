"""Name -> factory registries for methods, rewards, generators and suites.

The decorator is the only place a name is declared. Built-in plugins are found by
importing every module of their package; installed third-party packages add plugins
through a Python entry-point group (``bench.methods``, ``bench.rewards``, ...), loaded
lazily the first time a name is looked up or listed.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from bench.errors import BenchError, UnknownNameError

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    module: str
    info: dict[str, Any] = field(default_factory=dict)  # what the rest of the system needs to know

    @property
    def doc(self) -> str:
        return (self.factory.__doc__ or "").strip().splitlines()[0] if self.factory.__doc__ else ""


class Registry(Generic[F]):
    def __init__(self, kind: str, packages: list[str], group: str):
        self.kind, self.packages, self.group = kind, packages, group
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, **info: Any) -> Callable[[F], F]:
        """Decorator: register ``factory`` as ``name``; keyword arguments go to ``Entry.info``."""
        def decorator(factory: F) -> F:
            if name in self._entries and self._entries[name].factory is not factory:
                raise BenchError(f"{self.kind} '{name}' is registered twice "
                                 f"({self._entries[name].module} and {factory.__module__})")
            self._entries[name] = Entry(name, factory, factory.__module__, dict(info))
            factory.registered_name = name  # type: ignore[attr-defined]
            return factory
        return decorator

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package in self.packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
                importlib.import_module(info.name)
        for ep in entry_points(group=self.group):
            # A plugin the user installed that fails to import is an error, never a warning.
            try:
                ep.load()
            except Exception as e:  # noqa: BLE001 - reported as one line
                raise BenchError(f"{self.kind} plugin '{ep.name}' ({ep.value}) failed to import: {e}") from e

    def get(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, list(self._entries))
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]
