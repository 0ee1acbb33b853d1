"""The run directory: the on-disk sink of the training engine, and resuming from it.

runs/<run_id>/
  config.json                       resolved config (written first)
  metrics.jsonl                     one row per evaluation while running
  metrics.parquet                   the same rows, written at the end
  checkpoints/step_0001000.safetensors   weights (no ensemble axis), metadata: step, kind
  checkpoints/state.safetensors     newest resumable state: weights, optimizer, bookkeeping
  curves.png                        accuracy and loss against step (drawn by the layer above once
                                    the run finished: `grokscope.report.curves.write_curves`)
  summary.json                      events and final values; written last, atomically
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open

from grokscope.config import RunConfig
from grokscope.errors import ConfigError, RunDirError
from grokscope.store.files import (
    append_line,
    read_json,
    read_parquet,
    write_error,
    write_json,
    write_parquet,
    write_safetensors,
    write_text,
)
from grokscope.store.names import (
    CHECKPOINTS,
    CONFIG,
    METRICS_JSONL,
    METRICS_PARQUET,
    STATE,
    SUMMARY,
    checkpoint_name,
)
from grokscope.train.state import Resume

log = logging.getLogger(__name__)



def read_config(path: Path) -> RunConfig:
    try:
        data = json.loads((path / CONFIG).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} is not a run directory (no {CONFIG})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path / CONFIG} is not valid JSON ({getattr(e, 'msg', type(e).__name__)}); the run "
                          "cannot be read: delete its directory and train it again") from None
    try:
        return RunConfig.from_dict(data)
    except ConfigError as e:
        raise RunDirError(f"{path / CONFIG}: {e}") from None


class RunWriter:
    """Writes one run's directory as the engine reports (implements `train.Sink`)."""

    def __init__(self, path: Path, cfg: RunConfig, on_row: Callable[[dict], None] | None = None):
        self.path, self.cfg, self.on_row = Path(path), cfg, on_row
        self.checkpoint_kinds: dict[int, list[str]] = {}

    @classmethod
    def create(cls, path: Path, cfg: RunConfig, force: bool = False, **kw: Any) -> RunWriter:
        """Start a fresh run directory; refuse to overwrite a different or unfinished run."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} exists and is not a directory; choose another --out/--name")
        if path.exists() and any(path.iterdir()):
            if not force:
                existing = read_config(path)
                if existing != cfg:
                    raise RunDirError(f"{path} holds a different run ({existing.run_id}); choose another --out/--name or pass --force")
                raise RunDirError(f"{path} holds an unfinished run of this config; continue it with --resume {path} or restart with --force")
        try:
            if path.exists() and force:
                shutil.rmtree(path)
            (path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(path, e) from None
        write_text(path / CONFIG, cfg.to_json() + "\n")
        return cls(path, cfg, **kw)

    # ------------------------------------------------------------ Sink API
    def on_eval(self, row: dict[str, Any]) -> None:
        append_line(self.path / METRICS_JSONL, json.dumps(row))
        if self.on_row:
            self.on_row(row)

    def on_checkpoint(self, step: int, params: dict[str, torch.Tensor], kind: str) -> None:
        kinds = self.checkpoint_kinds.setdefault(step, [])
        if kind in kinds:
            return
        kinds.append(kind)
        meta = {"step": str(step), "kind": ",".join(kinds), "run_id": self.cfg.run_id}
        write_safetensors(self.path / checkpoint_name(step), params, meta)

    def on_state(self, step: int, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        meta = {"step": str(step), "info": json.dumps(info), "run_id": self.cfg.run_id}
        write_safetensors(self.path / STATE, tensors, meta)

    def on_finish(self, summary: dict[str, Any]) -> None:
        write_parquet(self.path / METRICS_PARQUET, read_rows(self.path))
        summary = {"run_id": self.cfg.run_id, "preset": self.cfg.preset, **summary}
        # summary first, then drop the resume state: a kill between the two leaves a finished run,
        # never a run with neither (which could not be resumed or read)
        write_json(self.path / SUMMARY, summary)
        (self.path / STATE).unlink(missing_ok=True)


def read_rows(path: Path, max_step: int | None = None) -> list[dict[str, Any]]:
    """Metrics rows from metrics.jsonl, skipping a torn last line."""
    rows = []
    file = Path(path) / METRICS_JSONL
    if not file.exists():
        return rows
    for line in file.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            continue  # not a row of ours (a damaged line)
        if max_step is None or row["step"] <= max_step:
            rows.append(row)
    return rows


def read_summary(path: Path) -> dict[str, Any] | None:
    """summary.json of a run directory (None while unfinished); RunDirError if it is corrupt."""
    file = Path(path) / SUMMARY
    if not file.exists():
        return None
    data = read_json(file, "delete it and train the run again (grokscope run --force, or re-run the sweep)")
    if not isinstance(data, dict):
        raise RunDirError(f"{file} is corrupt (not a JSON object); delete it and train the run again "
                          "(grokscope run --force, or re-run the sweep)")
    return data


def is_finished(path: Path) -> bool:
    """A readable summary.json exists (a corrupt one counts as unfinished: the run is redone)."""
    try:
        return read_summary(path) is not None
    except RunDirError:
        return False


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Metrics rows of a run: metrics.parquet, rebuilt from metrics.jsonl if it is unreadable."""
    import pyarrow as pa

    path = Path(path)
    file = path / METRICS_PARQUET
    if not file.exists():
        return read_rows(path)
    try:
        return read_parquet(file).to_pylist()
    except (pa.ArrowException, OSError) as e:
        rows = read_rows(path)
        if not rows:
            raise RunDirError(f"{file} is corrupt ({type(e).__name__}) and there is no {METRICS_JSONL} to rebuild "
                              "it from; train the run again with --force") from None
        log.warning("%s is corrupt (%s); rebuilt from %s", file, type(e).__name__, METRICS_JSONL)
        write_parquet(file, rows)
        return rows


def load_resume(path: Path) -> tuple[RunConfig, Resume]:
    """Config and newest training state of an unfinished run directory."""
    path = Path(path)
    cfg = read_config(path)
    if read_summary(path) is not None:
        raise RunDirError(f"{path} is already finished (summary.json exists); nothing to resume")
    state = path / STATE
    if not state.exists():
        raise RunDirError(f"{path} has no resumable checkpoint ({STATE}); start it again with --force")
    try:
        with safe_open(str(state), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        step, info = int(meta["step"]), json.loads(meta["info"])
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise RunDirError(f"checkpoint {state} is corrupt or truncated ({type(e).__name__}); it cannot be resumed: "
                          f"start the run again with grokscope run --force") from None
    rows = read_rows(path, max_step=step)
    # Drop rows logged after the state was saved: the resumed run logs them again.
    write_text(path / METRICS_JSONL, "".join(json.dumps(r) + "\n" for r in rows))
    return cfg, Resume(step=step, tensors=tensors, info=info, history=rows)
