"""Bring runs to "finished": the one place that decides, per run directory, whether to skip it,
continue it from its last saved state, or train it from step 0 — for `run`, `sweep`, `reproduce`
and `compare` alike.

A run is finished when its directory holds a readable `summary.json` (`store.rundir.is_finished`:
the one definition). The caller names a `Policy`:

- `skip`   (a user's own directory, `grokscope run`): finished runs of the same config are returned
           as they are; a directory holding an unfinished run or another config is refused, with the
           command that continues or replaces it.
- `resume` (directories the tool owns: sweeps, reproductions, comparisons): finished runs are
           skipped; unfinished ones continue from their saved state (a torn or missing state starts
           that run again); a directory holding another config is replaced.
- `redo`   every run trains again from step 0.

Runs are trained as few engine calls as possible: same-shape configs (`stack_key`) that continue
from the same step share one stack, so a sweep or reproduction killed in the middle of a stack
continues every model of it from its last checkpoint, and (each model's arithmetic being
independent of its stack-mates) ends exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grokscope.config import RunConfig
from grokscope.errors import RunDirError
from grokscope.forecast.stop_rule import ForecastStop
from grokscope.store.rundir import RunWriter, is_finished, load_resume, read_config, read_summary
from grokscope.train.loop import Engine, stack_key
from grokscope.train.sinks import Sink, tee
from grokscope.train.state import Resume
from grokscope.train.stop_rules import Rule, asks_for

log = logging.getLogger(__name__)

SinkFactory = Callable[[RunConfig, Path], Sequence[Sink]]  # (config, run dir) -> extra sinks for that run


class Policy(enum.StrEnum):
    skip = "skip"
    resume = "resume"
    redo = "redo"


@dataclass
class Job:
    """One run to bring to finished: its config, directory, and (when continuing) saved state."""

    cfg: RunConfig
    path: Path
    state: Resume | None = None

    @property
    def start(self) -> int:
        return self.state.step if self.state else 0


def plan(cfgs: Sequence[RunConfig], paths: Sequence[Path], policy: Policy) -> tuple[list[Job], list[Path]]:
    """(jobs to train, finished directories left as they are) under `policy`; nothing is written."""
    jobs, done = [], []
    for cfg, path in zip(cfgs, paths, strict=True):
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path} exists and is not a directory; choose another --out/--name")
        if policy == Policy.redo or not path.exists() or not any(path.iterdir()):
            jobs.append(Job(cfg, path))
            continue
        same = _same_config(path, cfg, policy)
        # a corrupt summary.json: refused in one line under skip (the user's run), redone otherwise
        if same and (read_summary(path) is not None if policy == Policy.skip else is_finished(path)):
            done.append(path)
            continue
        if policy == Policy.skip:
            raise RunDirError(f"{path} holds an unfinished run of this config; continue it with --resume {path} "
                              "or restart with --force")
        jobs.append(Job(cfg, path, _saved_state(path) if same else None))
    return jobs, done


def _same_config(path: Path, cfg: RunConfig, policy: Policy) -> bool:
    try:
        existing = read_config(path)
    except RunDirError:
        if policy == Policy.skip:
            raise
        return False  # no readable config.json: nothing of it can be trusted
    if existing != cfg and policy == Policy.skip:
        raise RunDirError(f"{path} holds a different run ({existing.run_id}); choose another --out/--name or pass --force")
    return existing == cfg


def _saved_state(path: Path) -> Resume | None:
    try:
        state = load_resume(path)[1]
    except RunDirError as e:  # no state saved yet, or a torn one: that run starts again
        log.info("%s; training it from step 0", e)
        return None
    return state if state.step > 0 else None  # a state at step 0 holds nothing a fresh start lacks


def handed_in_rules(cfgs: Sequence[RunConfig]) -> list[Rule]:
    """The stop rules that training does not know and these configs ask for (the forecaster's)."""
    return [ForecastStop()] if any(asks_for(ForecastStop.name, c) for c in cfgs) else []


def stacks(jobs: Sequence[Job]) -> list[list[Job]]:
    """Jobs that can share one engine call: same stack_key, continuing from the same step."""
    groups: dict[tuple[str, int], list[Job]] = {}
    for job in jobs:
        groups.setdefault((stack_key(job.cfg), job.start), []).append(job)
    return list(groups.values())


def train_stack(jobs: Sequence[Job], *, sinks: SinkFactory | None = None, on_row: Callable[[dict], None] | None = None,
                dtype: torch.dtype | None = None,
                init: Mapping[str, torch.Tensor] | Sequence[Mapping[str, torch.Tensor]] | None = None,
                ) -> list[dict[str, Any]]:
    """Train one stack (jobs from `stacks`) to its end, writing each run directory; the summaries.

    `init`: start weights instead of the seeded init, for fresh jobs only: one model's weights
    (a single job), or a sequence of them, one per job (e.g. grokked models continued as one stack)."""
    cfgs = [j.cfg for j in jobs]
    writers = [tee(RunWriter(j.path, j.cfg, on_row=on_row) if j.state else
                   RunWriter.create(j.path, j.cfg, force=True, on_row=on_row),  # what was there is replaced
                   *(sinks(j.cfg, j.path) if sinks else ())) for j in jobs]
    rules = handed_in_rules(cfgs)
    start = jobs[0].start
    if start:
        log.info("continuing %d model(s) from step %d", len(jobs), start)
    engine = Engine(cfgs, writers, dtype=dtype, stop_rules=rules)
    if start:
        engine.load([j.state for j in jobs])
    if init is not None:
        inits = [init] if isinstance(init, Mapping) else list(init)
        if len(inits) != len(jobs):
            raise ValueError(f"init: {len(inits)} sets of weights for {len(jobs)} jobs")
        with torch.no_grad():
            for k, p in engine.params.items():
                for row, one in enumerate(inits):  # row r of every stacked tensor is job r at the start
                    p[row].copy_(one[k].reshape(p[row].shape))
    return engine.run()


def finish(cfgs: Sequence[RunConfig], paths: Sequence[Path], policy: Policy = Policy.resume, *,
           sinks: SinkFactory | None = None, on_row: Callable[[dict], None] | None = None,
           dtype: torch.dtype | None = None) -> dict[Path, str]:
    """Bring every run to finished under `policy`; {path: finished | diverged | skipped}."""
    jobs, done = plan(cfgs, paths, policy)
    status = {p: "skipped" for p in done}
    for group in stacks(jobs):
        for j, s in zip(group, train_stack(group, sinks=sinks, on_row=on_row, dtype=dtype), strict=True):
            status[j.path] = "diverged" if s.get("stop_reason") == "diverged" else "finished"
    return status
