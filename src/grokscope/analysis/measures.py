"""The per-checkpoint measures of `analyze_run`, as a registry.

A measure is a function of one `Checkpoint` that returns named columns, registered with
`@register(name, rank=..., grid_only=...)` next to the numbers it reports, and declared by name in
`MEASURES` below (so `grokscope analyze --measure` lists the names without importing torch; the
module is imported when the measure is first used). `rank` orders the columns;
`grid_only` measures need every (a, b) pair and n_out == n; `tasks` names the tasks (`config.TASKS`)
a measure applies to (None: every task). Which measures a model family runs by default is its
`StackedModel.measures`, less those that do not apply to the run's task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grokscope.registry import Registry


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
    step: int = 0  # the checkpoint's training step (seeds the sampling measures)


@dataclass(frozen=True)
class Measure:
    name: str
    fn: Callable[[Checkpoint], dict[str, Any]]
    rank: int
    grid_only: bool
    tasks: tuple[str, ...] | None = ("modular",)  # the tasks it applies to; None = every task

    def applies_to(self, task: str) -> bool:
        return self.tasks is None or task in self.tasks


# each measure is registered by the module of the same name in this package (or the one named
# here), in column order
_MODULES = {"alpha": "heavy_tail", "init_distance": "hidden_progress", "sparse_neurons": "hidden_progress"}
MEASURES: Registry[Measure] = Registry("measure")
for _name in ("progress", "neurons", "idealized", "numerics", "algorithms", "lazy_rich", "init_distance",
              "sparse_neurons", "alpha", "llc"):
    MEASURES.declare(_name, f"grokscope.analysis.{_MODULES.get(_name, _name)}")


def register(name: str, rank: int, grid_only: bool = False, tasks: tuple[str, ...] | None = ("modular",)):
    """Function decorator: add a measure under `name` (that applies to `tasks`; None = every task)."""
    def deco(fn: Callable[[Checkpoint], dict[str, Any]]) -> Callable[[Checkpoint], dict[str, Any]]:
        MEASURES.register(name)(Measure(name, fn, rank, grid_only, tasks))
        return fn
    return deco


def registry() -> dict[str, Measure]:
    """Every measure, in column order."""
    return dict(sorted(MEASURES.items(), key=lambda kv: kv[1].rank))
