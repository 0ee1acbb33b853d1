"""The library entry points: `run(config)`, `resume(path)`, `load_run(path)`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from grokscope.config import RunConfig, check_name
from grokscope.errors import ConfigError, TrainingDiverged
from grokscope.models import build_model
from grokscope.report.curves import write_curves
from grokscope.report.html import write_run_report_safe
from grokscope.store.run import Run, load_run
from grokscope.store.rundir import RunWriter, load_resume, read_config, read_summary
from grokscope.tasks import make_task
from grokscope.train.loop import Engine, train
from grokscope.train.sinks import Sink, tee

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
) -> Run:
    """Train one model (the engine with K = 1) into `out/<name or run_id>/` and return the run.

    A finished run of the same config is returned as it is (nothing retrained) unless `force`.
    `sinks` also receive everything the run directory receives (experiment trackers, memory).
    `init`: start from these weights (e.g. `interop.transformer_lens.from_transformer_lens`)
    instead of the config's seeded init; the default name is then `<run_id>-init-<weights hash>`.
    """
    if init is not None:
        init = _checked_init(cfg, init)  # before anything is written: bad weights leave no directory
        name = name if name is not None else f"{cfg.run_id}-init-{_digest(init)}"
    path = Path(out) / check_name(name, "--name") if name is not None else Path(out) / cfg.run_id
    if not force and (path / "summary.json").exists() and read_config(path) == cfg:
        log.info("run %s is already finished; returning it (pass force=True to retrain)", path)
        read_summary(path)  # a corrupt summary.json: one line saying what to do
        return load_run(path)
    writer = RunWriter.create(path, cfg, force=force, on_row=on_row)  # refuses a different/unfinished run
    if init is not None:
        return _finished(path, _train_from(cfg, tee(writer, *sinks), init))
    return _finished(path, train([cfg], [tee(writer, *sinks)])[0])


def _digest(params: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(params):
        h.update(k.encode())
        h.update(params[k].detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


def _checked_init(cfg: RunConfig, init: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One model's start weights (no K axis; K = 1 stacks accepted), checked against the config's spec."""
    spec = build_model(cfg.model, make_task(cfg.task).n).spec()
    out = {}
    for k, (shape, *_) in spec.items():
        if k not in init:
            raise ConfigError(f"init weights lack {k!r}; this {cfg.model.arch} config needs {', '.join(spec)}")
        t = init[k].detach()
        t = t[0] if t.dim() == len(shape) + 1 and t.shape[0] == 1 else t
        if tuple(t.shape) != tuple(shape):
            raise ConfigError(f"init weight {k} has shape {tuple(t.shape)}; this config needs {tuple(shape)}")
        out[k] = t
    return out


def _train_from(cfg: RunConfig, sink: Sink, init: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The engine with K = 1 whose parameters start at `init` instead of the seeded init."""
    engine = Engine([cfg], [sink])
    with torch.no_grad():
        for k, p in engine.params.items():
            p[0].copy_(init[k])
    return engine.run()[0]


def resume(path: str | Path, *, on_row: RowCallback | None = None, sinks: Sequence[Sink] = ()) -> Run:
    """Continue an interrupted run from its newest checkpoint; the result equals an uninterrupted run.
    `sinks` receive what the run directory receives from the resumed step on."""
    path = Path(path)
    cfg, state = load_resume(path)
    summary = train([cfg], [tee(RunWriter(path, cfg, on_row=on_row), *sinks)], resume=[state])[0]
    return _finished(path, summary)


def resume_many(paths: Sequence[str | Path], *, on_row: RowCallback | None = None) -> list[Run]:
    """Continue interrupted runs that were trained as one ensemble, as one ensemble again.

    Every path must be unfinished and saved at the same step (an ensemble saves all its live
    members together, so this holds for the runs of one killed `train` call). Members that had
    already finished are left out by the caller: each model's result does not depend on which
    others share its stack.
    """
    paths = [Path(p) for p in paths]
    loaded = [load_resume(p) for p in paths]
    writers = [RunWriter(p, cfg, on_row=on_row) for p, (cfg, _) in zip(paths, loaded, strict=True)]
    train([cfg for cfg, _ in loaded], writers, resume=[state for _, state in loaded])
    for p in paths:  # a diverged member is told by its summary; it must not cost the others their report
        write_curves(p)
        write_run_report_safe(p, png=False)
    return [load_run(p) for p in paths]


def _finished(path: Path, summary: dict[str, Any]) -> Run:
    write_curves(path)  # curves.png (never fails the run), also for a diverged run
    if summary.get("stop_reason") == "diverged":
        raise TrainingDiverged(
            f"loss became NaN/inf by step {summary['steps']}; the last good checkpoint is kept in {path}/checkpoints"
        )
    write_run_report_safe(path, png=False)  # report.html beside the run (~2 s; never fails the run)
    return load_run(path)


__all__ = ["Run", "load_run", "resume", "resume_many", "run"]
