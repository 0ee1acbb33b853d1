"""What the engine keeps per model between steps, and what it saves to resume from (torch data
only: the run directory in `store/` reads and writes it without importing the engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Resume:
    """A model's saved training state (see `store.rundir.load_resume`)."""

    step: int
    tensors: dict[str, torch.Tensor]  # param.<name>, opt.<kind>.<name>, opt.step_count
    info: dict[str, Any]  # `Member.info()`
    history: list[dict[str, Any]]  # metrics rows with step <= `step`


@dataclass
class Member:
    """One model's bookkeeping in a stack (saved with its resume state). `rules` holds what each
    stop rule remembers about this model, by rule name (e.g. the forecast rule's one look)."""

    best_test_acc: float = -1.0
    best_step: int = 0
    saturation_step: int | None = None
    stop_reason: str | None = None
    wall_s: float = 0.0
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    SAVED = ("best_test_acc", "best_step", "saturation_step", "stop_reason", "wall_s", "rules")

    def info(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.SAVED}

    def restore(self, info: dict[str, Any], history: list[dict[str, Any]]) -> None:
        for k in self.SAVED:
            if k in info:
                setattr(self, k, info[k])
        self.history = list(history)
