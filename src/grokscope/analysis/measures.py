"""The per-checkpoint measures of `analyze_run`, as a registry.

A measure is a function of one `Checkpoint` that returns named columns, registered with
`@register(name, rank=..., grid_only=...)` next to the numbers it reports (in any module of this
package: every module is imported when the registry is first read). `rank` orders the columns;
`grid_only` measures need every (a, b) pair and n_out == n. Which measures a model family runs by
default is its `StackedModel.measures`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Checkpoint:
    """What a measure may read of one checkpoint of a run."""

    run: Any  # grokscope.store.run.Run
    model: Any  # its StackedModel (family views)
    task: Any
    split: Any
    params: dict  # stacked, [1, ...]
    one: dict  # the same without the K axis
    keys: list[int]  # key frequencies of W_L (Nanda's rule)
    square_fit: bool  # run the (slow) square-vs-cosine fit at this checkpoint
    n_perm: int  # permutations of the phase-sum test


@dataclass(frozen=True)
class Measure:
    name: str
    fn: Callable[[Checkpoint], dict[str, Any]]
    rank: int
    grid_only: bool


_REGISTRY: dict[str, Measure] = {}


def register(name: str, rank: int, grid_only: bool = False):
    """Function decorator: add a measure under `name`."""
    def deco(fn: Callable[[Checkpoint], dict[str, Any]]) -> Callable[[Checkpoint], dict[str, Any]]:
        _REGISTRY[name] = Measure(name, fn, rank, grid_only)
        return fn
    return deco


@functools.cache
def _import_package() -> None:
    """Import every module of the package once, so each registers its measures."""
    package = __name__.rpartition(".")[0]
    for mod in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{mod.name}")


def registry() -> dict[str, Measure]:
    """Every measure of the package, in column order."""
    _import_package()
    return dict(sorted(_REGISTRY.items(), key=lambda kv: kv[1].rank))
