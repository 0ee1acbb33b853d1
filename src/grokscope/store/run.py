"""Reading a run back: config, metrics, summary and checkpoints of a run directory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open

from grokscope.config import RunConfig
from grokscope.errors import RunDirError
from grokscope.models import Params, StackedModel, build_model
from grokscope.models.module import ModelModule
from grokscope.store.names import CHECKPOINT_GLOB, CHECKPOINTS, checkpoint_name
from grokscope.store.rundir import is_finished, read_config, read_metrics, read_summary
from grokscope.tasks import AnyTask, Split, make_split, make_task

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
        return is_finished(self.path)

    @property
    def summary(self) -> dict[str, Any] | None:
        """summary.json (None while unfinished); RunDirError naming the file if it is corrupt."""
        return read_summary(self.path)

    def rows(self) -> list[dict[str, Any]]:
        """Metrics rows (Parquet when finished — rebuilt from the JSONL if corrupt — else the running JSONL)."""
        return read_metrics(self.path)

    def checkpoint_steps(self) -> list[int]:
        files = (self.path / CHECKPOINTS).glob(CHECKPOINT_GLOB)
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
        file = self.path / checkpoint_name(self.resolve_step(which))
        try:
            with safe_open(str(file), framework="pt") as f:
                return {k: f.get_tensor(k).unsqueeze(0) for k in f.keys()}
        except (SafetensorError, OSError) as e:
            raise RunDirError(f"checkpoint {file} is corrupt or truncated ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                              "delete it, or train the run again with --force") from None

    def task(self) -> AnyTask:
        return make_task(self.config.task)

    def split(self) -> Split:
        return make_split(self.config.task, self.task())

    def family(self) -> StackedModel:
        """The model family object (stateless; pass `params(step)` to its forward and views)."""
        task = self.task()
        return build_model(self.config.model, task.n_in, task.n_out)

    @overload
    def model(self) -> StackedModel: ...
    @overload
    def model(self, which: int | str) -> ModelModule: ...

    def model(self, which: int | str | None = None) -> StackedModel | ModelModule:
        """`model(step)`: one checkpoint as a plain `torch.nn.Module` (`m(a, b)` -> logits [B, n_out],
        `m.run_with_cache(a, b)`; a dense task's model takes `x`), step an int or 'final' | 'saturation' | 'first'.

        `model()` without a step is the older spelling of `family()`, kept while callers move over.
        """
        if which is None:
            return self.family()
        return ModelModule(self.family(), self.params(which))

    def to_transformer_lens(self, which: int | str = "final", dtype: torch.dtype | None = None) -> Any:
        """One checkpoint of a transformer run as a TransformerLens `TransformerBridge` (the `tl` extra):
        tokens `[a, b, p]` -> logits whose last position equals ours (see grokscope.interop.transformer_lens)."""
        from grokscope.interop.transformer_lens import to_transformer_lens

        return to_transformer_lens(self.family(), self.params(which), dtype=dtype)

    @torch.no_grad()
    def logits(self, which: int | str = "final") -> torch.Tensor:
        """Logits of one checkpoint on every example of the task -> [N, n_out]."""
        params = self.params(which)
        inputs = (torch.from_numpy(v) for v in self.task().model_inputs())
        return self.model().forward(params, *inputs)[0]


def load_run(path: str | Path) -> Run:
    """Open a run directory (raises RunDirError if it is not one)."""
    run = Run(Path(path))
    run.config  # noqa: B018 — validate now, not on first use
    return run
