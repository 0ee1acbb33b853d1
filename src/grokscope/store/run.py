"""Reading a run back: config, metrics, summary and checkpoints of a run directory."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open

from grokscope.config import RunConfig
from grokscope.errors import RunDirError
from grokscope.models import Params, StackedModel, build_model
from grokscope.store.rundir import METRICS_PARQUET, SUMMARY, read_config, read_rows
from grokscope.tasks import Split, Task, make_split, make_task

_STEP = re.compile(r"step_(\d+)\.safetensors$")


@dataclass
class Run:
    """A run directory, finished or not."""

    path: Path

    @cached_property
    def config(self) -> RunConfig:
        return read_config(self.path)

    @property
    def finished(self) -> bool:
        return (self.path / SUMMARY).exists()

    @property
    def summary(self) -> dict[str, Any] | None:
        file = self.path / SUMMARY
        return json.loads(file.read_text()) if file.exists() else None

    def rows(self) -> list[dict[str, Any]]:
        """Metrics rows (Parquet when finished, else the running JSONL)."""
        file = self.path / METRICS_PARQUET
        if file.exists():
            import pyarrow.parquet as pq

            return pq.read_table(file).to_pylist()
        return read_rows(self.path)

    def checkpoint_steps(self) -> list[int]:
        files = (self.path / "checkpoints").glob("step_*.safetensors")
        return sorted(int(m.group(1)) for f in files if (m := _STEP.search(f.name)))

    def resolve_step(self, which: int | str) -> int:
        """An int step, or 'final' | 'saturation' | 'first'."""
        steps = self.checkpoint_steps()
        if not steps:
            raise RunDirError(f"{self.path} has no checkpoints")
        if which == "final":
            return steps[-1]
        if which == "first":
            return steps[0]
        if which == "saturation":
            step = (self.summary or {}).get("saturation_step")
            if step is None or step not in steps:
                raise RunDirError(f"{self.path} has no saturation checkpoint")
            return step
        if which not in steps:
            raise RunDirError(f"{self.path} has no checkpoint at step {which}")
        return int(which)

    def params(self, which: int | str = "final") -> Params:
        """Weights of one checkpoint, stacked with a leading axis of 1 (ready for `model.forward`)."""
        file = self.path / f"checkpoints/step_{self.resolve_step(which):07d}.safetensors"
        try:
            with safe_open(str(file), framework="pt") as f:
                return {k: f.get_tensor(k).unsqueeze(0) for k in f.keys()}
        except (SafetensorError, OSError) as e:
            raise RunDirError(f"checkpoint {file} is corrupt or truncated ({e})") from None

    def task(self) -> Task:
        return make_task(self.config.task)

    def split(self) -> Split:
        return make_split(self.config.task, self.task())

    def model(self) -> StackedModel:
        return build_model(self.config.model, self.task().n)

    @torch.no_grad()
    def logits(self, which: int | str = "final") -> torch.Tensor:
        """Logits of one checkpoint on every pair of the task -> [N, n_out]."""
        task = self.task()
        a, b = torch.from_numpy(task.a), torch.from_numpy(task.b)
        return self.model().forward(self.params(which), a, b)[0]


def load_run(path: str | Path) -> Run:
    """Open a run directory (raises RunDirError if it is not one)."""
    run = Run(Path(path))
    run.config  # noqa: B018 — validate now, not on first use
    return run
