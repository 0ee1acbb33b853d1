"""The one registry pattern: named plug-ins (model families, optimizers, gradient transforms,
measures, stop rules, tasks) that every consumer — the engine, `analyze`, the CLI's choices, the
docs — reads from the same table instead of keeping a list of its own.

    STOP_RULES = Registry("stop rule", package="grokscope.train.stop_rules")

    @STOP_RULES.register("patience")
    class Patience: ...

`package`, when given, is imported (every module in it) on first lookup, so that a plug-in in its
own file registers itself without anyone importing it by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from grokscope.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> plug-in, in registration order."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind, self.package = kind, package
        self._items: dict[str, T] = {}
        self._loaded = package is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: add the decorated object under `name` (a second object under one name is a bug)."""
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj
        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            pkg = importlib.import_module(self.package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{self.package}.{mod.name}")

    def get(self, name: str) -> T:
        """The plug-in called `name`; ConfigError naming the choices if there is none."""
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._items)}") from None

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)
