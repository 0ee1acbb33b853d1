"""Experiment-tracker sinks: W&B (offline only) and TensorBoard, behind the engine's `Sink` protocol.

Each is an optional extra imported when the sink is built, so the base install never needs them:
`--log wandb,tensorboard` on the CLI (`parse_log`, `tracker_sinks`) or
`grokscope.run(cfg, sinks=tracker_sinks(["tensorboard"], run_dir, cfg))` from Python.
They log every evaluation row (numeric columns, at its step), the resolved config at the start
and the summary at the end, and write under the run directory: `<run>/wandb/` and `<run>/tensorboard/`.
W&B runs in offline mode (no network, ever): `wandb sync <run>/wandb/offline-run-*` uploads later.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from grokscope.config import RunConfig
from grokscope.errors import GrokscopeError

Params = dict[str, torch.Tensor]
TRACKERS = ("wandb", "tensorboard")
_EXTRA_MODULE = {"wandb": "wandb", "tensorboard": "tensorboard"}


def parse_log(spec: str | None) -> tuple[str, ...]:
    """`--log wandb,tensorboard` -> ("wandb", "tensorboard"); '' / None -> (). Unknown names and
    trackers whose extra is not installed are a GrokscopeError (checked before anything trains)."""
    names = tuple(dict.fromkeys(s.strip().lower() for s in (spec or "").split(",") if s.strip()))
    for name in names:
        if name not in TRACKERS:
            raise GrokscopeError(f"--log {name!r} is not a tracker; choose from {', '.join(TRACKERS)} (comma-separated)")
        _require(name)
    return names


def _require(name: str) -> Any:
    """Import a tracker's package or raise the one-line install hint."""
    try:
        if name == "tensorboard":
            import tensorboard  # noqa: F401  (SummaryWriter needs it)
            from torch.utils.tensorboard import SummaryWriter

            return SummaryWriter
        import wandb

        return wandb
    except ImportError:
        raise GrokscopeError(f"--log {name} needs the {name} extra: pip install 'grokscope[{name}]'") from None


def _scalars(row: dict[str, Any]) -> dict[str, float]:
    """The finite numeric columns of a metrics/summary row (bools and strings left out)."""
    out = {}
    for k, v in row.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if math.isfinite(v):
            out[k] = float(v)
    return out


class TensorBoardSink:
    """Scalars per evaluation row under `<dir>` (one event file); config and summary as text,
    the summary's numbers also as `summary/<key>` scalars at the final step.

    The writer opens at the first row (lazily: the run directory does not exist yet when the sink
    is built, and a run that is already finished never opens one)."""

    def __init__(self, log_dir: str | Path, cfg: RunConfig | None = None):
        self._writer_cls = _require("tensorboard")
        self.log_dir, self.cfg = Path(log_dir), cfg
        self._writer: Any = None
        self.last_step = 0

    @property
    def writer(self) -> Any:
        if self._writer is None:
            self._writer = self._writer_cls(log_dir=str(self.log_dir))
            if self.cfg is not None:
                text = json.dumps(self.cfg.to_dict(), indent=1, sort_keys=True)
                self._writer.add_text("config", "```\n" + text + "\n```", 0)
        return self._writer

    def on_eval(self, row: dict[str, Any]) -> None:
        step = int(row.get("step", self.last_step))
        self.last_step = step
        for k, v in _scalars(row).items():
            if k != "step":
                self.writer.add_scalar(k, v, step)

    def on_checkpoint(self, step: int, params: Params, kind: str) -> None:
        pass

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        pass

    def on_finish(self, summary: dict[str, Any]) -> None:
        for k, v in _scalars(summary).items():
            self.writer.add_scalar(f"summary/{k}", v, self.last_step)
        self.writer.add_text("summary", "```\n" + json.dumps(summary, indent=1, default=str) + "\n```", self.last_step)
        self.writer.close()


class WandbSink:
    """One offline W&B run under `<dir>/wandb/`: config at init, `log(row, step)` per evaluation,
    the summary into `run.summary` and `finish()` at the end. Never touches the network."""

    def __init__(self, dir: str | Path, cfg: RunConfig | None = None, name: str | None = None,
                 project: str = "grokscope"):
        self._wandb = _require("wandb")
        self.dir, self.cfg, self.name, self.project = Path(dir), cfg, name, project
        self._run: Any = None

    @property
    def run(self) -> Any:
        """The W&B run, started at the first row (lazily, as TensorBoardSink's writer)."""
        if self._run is None:
            wandb = self._wandb
            self.dir.mkdir(parents=True, exist_ok=True)
            # offline whatever the user's environment says; silent: library code logs, never prints
            # (process-wide: wandb-core, a child process, reads them too)
            os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(self.dir))
            self._run = wandb.init(
                project=self.project, dir=str(self.dir), name=self.name, mode="offline",
                config=self.cfg.to_dict() if self.cfg is not None else None,
                reinit="create_new",  # a sweep holds several runs open in one process
                settings=wandb.Settings(silent=True, console="off", save_code=False, disable_git=True,
                                        x_disable_stats=True, x_disable_meta=True),
            )
        return self._run

    def on_eval(self, row: dict[str, Any]) -> None:
        scalars = _scalars(row)
        step = int(scalars.pop("step", 0))
        self.run.log(scalars, step=step)

    def on_checkpoint(self, step: int, params: Params, kind: str) -> None:
        pass

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        pass

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.run.summary.update({k: v for k, v in summary.items() if isinstance(v, str | int | float | bool)})
        self.run.finish()


def tracker_factory(names: Sequence[str]) -> Callable[[RunConfig, Path], list[Any]]:
    """`sinks(cfg, run_dir)` for `grokscope.sweep.runner.run_sweep` (picklable: runs in workers)."""
    return functools.partial(_factory_sinks, tuple(names))


def _factory_sinks(names: tuple[str, ...], cfg: RunConfig, run_dir: Path) -> list[Any]:
    return tracker_sinks(names, run_dir, cfg)


def tracker_sinks(names: Sequence[str], run_dir: str | Path, cfg: RunConfig) -> list[Any]:
    """The sinks for `names` (from `parse_log`), writing under `run_dir`."""
    run_dir = Path(run_dir)
    out: list[Any] = []
    for name in names:
        if name == "tensorboard":
            out.append(TensorBoardSink(run_dir / "tensorboard", cfg))
        elif name == "wandb":
            out.append(WandbSink(run_dir, cfg, name=run_dir.name))
        else:
            raise GrokscopeError(f"--log {name!r} is not a tracker; choose from {', '.join(TRACKERS)}")
    return out
