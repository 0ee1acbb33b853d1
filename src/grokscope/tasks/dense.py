"""Tasks whose examples are vectors (parity bits, digit images, teacher inputs) and their split.

A dense task is built already in split order: rows [0, n_train) are the training set and the rest
the test set, so the split is a function of the task alone (its `data_seed` drew the examples or
their order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from grokscope.tasks.dataset import Split, corrupt

if TYPE_CHECKING:
    from grokscope.config import TaskConfig


@dataclass(frozen=True)
class DenseTask:
    """Examples x [N, n_in] (float64) with class labels y [N] (int64) or real targets y [N, n_out]."""

    x: np.ndarray
    y: np.ndarray
    n_out: int  # classes, or output dimensions of a regression
    n_train: int  # rows [0, n_train) are the training set
    acc_eps: float | None = None  # regression: an example is right when its squared error < acc_eps
    meta: dict[str, Any] = field(default_factory=dict)  # what the task's measures need (e.g. relevant bits)
    inputs: ClassVar[str] = "dense"
    full_grid: ClassVar[bool] = False  # no (a, b) grid: the Fourier measures do not apply

    @property
    def n_pairs(self) -> int:
        """Examples in the task (train and test)."""
        return len(self.x)

    @property
    def n_in(self) -> int:
        return self.x.shape[1]

    @property
    def targets(self) -> np.ndarray:
        return self.y

    def model_inputs(self) -> tuple[np.ndarray, ...]:
        """What a model's forward takes for every example: (x,)."""
        return (self.x,)

    @property
    def targets_kind(self) -> str:
        return "classes" if self.acc_eps is None else "values"

    def split(self, cfg: TaskConfig) -> Split:
        """Train on the first n_train rows (class labels corrupted as `task.noise` says), test on the rest."""
        train_idx, test_idx = np.arange(self.n_train), np.arange(self.n_train, self.n_pairs)
        if self.acc_eps is not None:  # real-valued targets carry no label noise
            return Split(train_idx, test_idx, self.y[train_idx].copy(), np.zeros(self.n_train, dtype=bool))
        labels, corrupted = corrupt(self.y[train_idx], cfg, np.random.default_rng([cfg.data_seed, 1]), self.n_out)
        return Split(train_idx, test_idx, labels, corrupted)
