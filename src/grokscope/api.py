"""The library entry points: `run(config)`, `resume(path)`, `load_run(path)`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from grokscope import lifecycle
from grokscope.config import RunConfig, check_name
from grokscope.errors import ConfigError, TrainingDiverged
from grokscope.lifecycle import Policy
from grokscope.models import build_model
from grokscope.report.curves import write_curves
from grokscope.report.html import write_run_report_safe
from grokscope.store.init_from import load_source, weights_hash, write_init
from grokscope.store.run import Run, load_run
from grokscope.store.rundir import load_resume
from grokscope.tasks import make_task
from grokscope.train.sinks import Sink

log = logging.getLogger(__name__)
RowCallback = Callable[[dict[str, Any]], None]


def run(
    cfg: RunConfig,
    out: str | Path = "runs",
    *,
    name: str | None = None,
    force: bool = False,
    on_row: RowCallback | None = None,
    sinks: Sequence[Sink] = (),
    init: Mapping[str, torch.Tensor] | None = None,
    init_from: str | Path | None = None,
) -> Run:
    """Train one model (the engine with K = 1) into `out/<name or run_id>/` and return the run.

    A finished run of the same config is returned as it is (nothing retrained) unless `force`.
    `sinks` also receive everything the run directory receives (experiment trackers, memory).
    `init`: start from these weights (e.g. `interop.transformer_lens.from_transformer_lens`)
    instead of the config's seeded init; the default name is then `<run_id>-init-<weights hash>`.
    `init_from`: start from another run's checkpoint, `"RUN"` or `"RUN:STEP"` (STEP an int or
    final | saturation | first; default final), e.g. to continue a grokked model on a smaller
    training set (`cfg` with a smaller `task.frac_train` and the same `task.data_seed`: its
    training set is a subset of the source's). Same naming as `init`; the new directory also
    holds `init.json` (source path, run id, step, weights hash), written before step 0.
    """
    provenance = None
    if init_from is not None:
        if init is not None:
            raise ConfigError("pass init or init_from, not both")
        source = load_source(init_from)  # before anything is written: a bad source leaves no directory
        init, provenance = source.params, source.info()
    if init is not None:
        init = _checked_init(cfg, init, provenance)  # before anything is written: bad weights leave no directory
        name = name if name is not None else init_name(cfg, init)
        if provenance is not None:
            provenance["weights_hash"] = weights_hash(init)  # the hash in the default name
    path = Path(out) / check_name(name, "--name") if name is not None else Path(out) / cfg.run_id
    jobs, done = lifecycle.plan([cfg], [path], Policy.redo if force else Policy.skip)
    if done:
        log.info("run %s is already finished; returning it (pass force=True to retrain)", path)
        return load_run(path)
    return _finished(path, lifecycle.train_stack(jobs, sinks=_extra(sinks, provenance), on_row=on_row, init=init)[0])


def init_name(cfg: RunConfig, init: Mapping[str, torch.Tensor], provenance: Mapping[str, Any] | None = None) -> str:
    """The default directory name of a run of `cfg` started from `init`: `<run_id>-init-<weights hash>`
    (ConfigError if the weights do not fit `cfg`'s model; `provenance` names their source in it)."""
    return f"{cfg.run_id}-init-{weights_hash(_checked_init(cfg, init, provenance))}"


def _extra(sinks: Sequence[Sink], provenance: dict[str, Any] | None = None) -> lifecycle.SinkFactory:
    def factory(cfg: RunConfig, path: Path) -> Sequence[Sink]:
        if provenance is not None:
            # train_stack asks for the extra sinks right after it has (re)created the run
            # directory and before step 0: the provenance is on disk before any weights are
            write_init(path, provenance)
        return sinks

    return factory


def _checked_init(cfg: RunConfig, init: Mapping[str, torch.Tensor],
                  provenance: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """One model's start weights (no K axis; K = 1 stacks accepted), checked against the config's spec."""
    spec = build_model(cfg.model, (task := make_task(cfg.task)).n_in, task.n_out).spec()
    what = "init weights"
    if provenance is not None:
        source, step = provenance.get("source"), provenance.get("step")
        what = f"the weights of {source} (step {step})"
    out = {}
    for k, (shape, *_) in spec.items():
        if k not in init:
            raise ConfigError(f"{what} lack {k!r}; this {cfg.model.arch} config needs {', '.join(spec)}")
        t = init[k].detach()
        t = t[0] if t.dim() == len(shape) + 1 and t.shape[0] == 1 else t
        if tuple(t.shape) != tuple(shape):
            raise ConfigError(f"{'init weight' if provenance is None else what + ':'} {k} has shape "
                              f"{tuple(t.shape)}; this config needs {tuple(shape)}")
        out[k] = t
    return out


def resume(path: str | Path, *, on_row: RowCallback | None = None, sinks: Sequence[Sink] = ()) -> Run:
    """Continue an interrupted run from its newest checkpoint; the result equals an uninterrupted run.
    `sinks` receive what the run directory receives from the resumed step on."""
    path = Path(path)
    cfg, state = load_resume(path)  # refuses a finished run, a missing or torn state, in one line
    job = lifecycle.Job(cfg, path, state)
    return _finished(path, lifecycle.train_stack([job], sinks=_extra(sinks), on_row=on_row)[0])


def resume_many(paths: Sequence[str | Path], *, on_row: RowCallback | None = None) -> list[Run]:
    """Continue interrupted runs that were trained as one ensemble, as one ensemble again.

    Every path must be unfinished and saved at the same step (an ensemble saves all its live
    members together, so this holds for the runs of one killed `train` call). Members that had
    already finished are left out by the caller: each model's result does not depend on which
    others share its stack.
    """
    paths = [Path(p) for p in paths]
    jobs = [lifecycle.Job(cfg, p, state) for p, (cfg, state) in zip(paths, map(load_resume, paths), strict=True)]
    for group in lifecycle.stacks(jobs):
        lifecycle.train_stack(group, on_row=on_row)
    for p in paths:  # a diverged member is told by its summary; it must not cost the others their report
        write_curves(p)
        write_run_report_safe(p, png=False)
    return [load_run(p) for p in paths]


def _finished(path: Path, summary: dict[str, Any]) -> Run:
    write_curves(path)  # curves.png (never fails the run), also for a diverged run
    if summary.get("stop_reason") == "diverged":
        raise TrainingDiverged(
            f"loss became NaN/inf by step {summary['steps']:,}; the last good checkpoint is kept in {path}/checkpoints"
        )
    write_run_report_safe(path, png=False)  # report.html beside the run (~2 s; never fails the run)
    return load_run(path)


__all__ = ["Run", "init_name", "load_run", "resume", "resume_many", "run"]
