"""The one registry pattern: named plug-ins (model families, optimizers, gradient transforms,
measures, stop rules, tasks) that every consumer — the engine, `analyze`, the CLI's choices, the
docs — reads from the same table instead of keeping a list of its own.

    STOP_RULES = Registry("stop rule", package="grokscope.train.stop_rules")

    @STOP_RULES.register("patience")
    class Patience: ...

`package`, when given, is imported (every module in it) on first lookup, so that a plug-in in its
own file registers itself without anyone importing it by name.

`declare(name, module)` names a plug-in before its module is imported: `names()` and `in` (a config
check, the CLI's choices) then answer without importing it — nor torch — and `get(name)` imports
`module`, whose `@register(name)` fills the entry in (in the declared place, so the order stays):

    OPTIMIZERS.declare("sgd", "grokscope.train.optim.sgd")   # torch-free (grokscope.config)
    @OPTIMIZERS.register("sgd")                               # in grokscope/train/optim/sgd.py
    class SGD(UpdateRule): ...
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from grokscope.errors import ConfigError

T = TypeVar("T")


class _Declared:
    """The place of a declared plug-in until its module registers it."""

    def __init__(self, module: str):
        self.module = module


class Registry(Generic[T]):
    """Name -> plug-in, in registration order."""

    def __init__(self, kind: str, package: str | None = None):
        self.kind, self.package = kind, package
        self._items: dict[str, T] = {}
        self._loaded = package is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: add the decorated object under `name` (a second object under one name is a bug)."""
        def deco(obj: T) -> T:
            old = self._items.get(name)
            if old is not None and old is not obj and not isinstance(old, _Declared):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj
        return deco

    def declare(self, name: str, module: str) -> None:
        """Name a plug-in that `module` registers when imported (on the first `get` of it)."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = _Declared(module)  # type: ignore[assignment]

    def _resolve(self, name: str) -> T:
        obj = self._items[name]
        if isinstance(obj, _Declared):
            importlib.import_module(obj.module)
            if isinstance(self._items[name], _Declared):
                raise ValueError(f"{self.kind} {name!r} is declared in {obj.module}, which registers no {name!r}")
        return self._items[name]

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            pkg = importlib.import_module(self.package)
            for mod in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{self.package}.{mod.name}")

    def get(self, name: str) -> T:
        """The plug-in called `name`; ConfigError naming the choices if there is none."""
        self._load()
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._items)}")
        return self._resolve(name)

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return [(name, self._resolve(name)) for name in list(self._items)]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)
