"""Tasks as a registry of datasets (`grokscope.config.TASKS`): modular operations and S5 over
operand pairs, and dense-input tasks (sparse parity, digits, a linear teacher); splits and label noise."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from grokscope.tasks.dataset import Split, Task, split_counts
from grokscope.tasks.dense import DenseTask
from grokscope.tasks.ops import OPS, Op, s5_table

if TYPE_CHECKING:
    from grokscope.config import TaskConfig

AnyTask = Task | DenseTask


def make_task(cfg: TaskConfig) -> AnyTask:
    """The examples of task `cfg.name` (a name in `grokscope.config.TASKS`): `grokscope.tasks.<name>.make`,
    imported on first use."""
    return importlib.import_module(f"grokscope.tasks.{cfg.name}").make(cfg)


def make_split(cfg: TaskConfig, task: AnyTask) -> Split:
    """Train/test split and (noisy) training labels of `task` as `cfg` says."""
    return task.split(cfg)


__all__ = ["OPS", "AnyTask", "DenseTask", "Op", "Split", "Task", "make_split", "make_task", "s5_table",
           "split_counts"]
