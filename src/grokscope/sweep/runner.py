"""Run a sweep: plan the work, hand chunks to a backend, keep a tally, index the results.

Layout of a sweep directory (default `runs/<spec name>/`):

    sweep.json            the spec, resolved: axes, run ids, backend, counts (written first, and at the end)
    <run_id>/             one RunWriter directory per run (summary.json marks it finished,
                          error.json marks it failed)
    grokscope.duckdb      the index (see `grokscope.store.db`), rebuilt from the run directories
    phase_*.png           phase diagrams (see `grokscope.report.phase`)

Work units are chunks: runs with equal `stack_key` train together as one ensemble, at most
`chunk` models per engine call. Chunking depends only on the spec and the worker count.
"""

from __future__ import annotations

import fcntl
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from grokscope.config import RunConfig
from grokscope.cores import free_cores, plan_workers
from grokscope.errors import GrokscopeError, WriteRefused
from grokscope.store.files import write_error, write_json
from grokscope.store.names import SWEEP, SWEEP_LOCK
from grokscope.store.rundir import is_finished, read_summary
from grokscope.sweep import BACKENDS
from grokscope.sweep.spec import SweepSpec, expand, load_spec
from grokscope.sweep.worker import ERROR, SinkFactory, init_worker, set_threads, train_chunk
from grokscope.train.loop import stack_key

log = logging.getLogger(__name__)


class SweepError(GrokscopeError):
    """A sweep could not start (bad spec, busy directory, missing backend)."""


@dataclass
class Tally:
    """What the progress display shows; updated from worker events."""

    total: int = 0
    skipped: int = 0
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    diverged: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)

    def apply(self, event: tuple) -> None:
        kind = event[0]
        if kind == "start":
            self.running.update(event[1])
        elif kind == "requeue":
            for s in (self.done, self.failed, self.diverged, self.running):
                s.discard(event[1])
        elif kind == "done":
            run_id, status = event[1], event[2]
            self.running.discard(run_id)
            self.done.add(run_id)
            (self.failed if status == "failed" else self.diverged if status == "diverged" else set()).add(run_id)

    @property
    def completed(self) -> int:
        return self.skipped + len(self.done)


@dataclass
class SweepResult:
    path: Path
    n_runs: int
    skipped: int
    finished: int
    diverged: int
    failed: int
    wall_s: float
    run_ids: list[str]
    forecast_stopped: int = 0  # finished runs stopped by the forecast rule (train.stop_forecast_p)


def plan(cfgs: list[RunConfig], chunk: int, workers: int | None = None,
         threads: int | None = None) -> tuple[list[list[RunConfig]], int, int]:
    """(chunks, worker processes, threads per worker) for training `cfgs`: chunks are cut for the
    free cores (or the workers asked for), then `cores.plan_workers` fits workers × threads into
    the free cores. workers = 0 keeps 0 (train in this process, with `threads` threads)."""
    if workers is not None and workers < 0:
        raise SweepError(f"--workers must be >= 0, got {workers}")
    if threads is not None and threads < 1:
        raise SweepError(f"--threads must be >= 1, got {threads}")
    free = free_cores()  # sampled once: chunking and the worker plan see the same count
    chunks = plan_chunks(cfgs, chunk, max(1, free if workers is None else workers))
    n_workers, n_threads = plan_workers(len(chunks), workers, threads, free)
    return chunks, (0 if workers == 0 else n_workers), n_threads


def plan_chunks(cfgs: list[RunConfig], chunk: int, workers: int = 1) -> list[list[RunConfig]]:
    """Group by stack_key (first-seen order), split each group into near-equal chunks of at most
    `chunk` models, and into at least `workers` chunks when a group is big enough to share."""
    groups: dict[str, list[RunConfig]] = {}
    for cfg in cfgs:
        groups.setdefault(stack_key(cfg), []).append(cfg)
    out = []
    for group in groups.values():
        n_parts = max(math.ceil(len(group) / chunk), min(workers, len(group) // 8 or 1))
        size = math.ceil(len(group) / n_parts)
        out += [group[i:i + size] for i in range(0, len(group), size)]
    return out


class _DirLock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR)
        except OSError as e:
            raise write_error(self.path, e) from None
        try:  # released by the kernel when the holder dies, so a kill -9 never leaves a stale lock
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise SweepError(f"{self.path.parent} is in use by another sweep process (it holds {self.path.name}); "
                             "wait for it to finish, or choose another --out") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def run_sweep(
    spec: SweepSpec | str | Path,
    out: str | Path | None = None,
    *,
    backend: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    chunk: int | None = None,
    curves: bool = False,
    on_progress: Callable[[Tally], None] | None = None,
    index: bool = True,
    sinks: SinkFactory | None = None,
    stop_forecast: float | None = None,
) -> SweepResult:
    """Train every unfinished run of a spec into `out` (default runs/<spec name>).

    workers and threads per worker default to what fits the free cores (`grokscope.cores`);
    workers = 0 runs chunks in this process (no pool). Resumable: finished runs are skipped.
    sinks(cfg, run_dir) -> extra sinks per run (a picklable module-level function).
    stop_forecast: set train.stop_forecast_p on every run (`with_stop_forecast`).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if stop_forecast is not None:
        spec = with_stop_forecast(spec, stop_forecast)
    if backend not in BACKENDS:
        raise SweepError(f"unknown backend {backend!r}; use {' or '.join(BACKENDS)}")
    cfgs = expand(spec)  # every error surfaces here, before anything is written
    if workers is not None and workers < 0:
        raise SweepError(f"--workers must be >= 0, got {workers}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SweepError("the ray backend needs ray: pip install 'grokscope[ray]'") from None
    path = Path(out) if out is not None else Path("runs") / spec.name
    t0 = time.perf_counter()
    with _DirLock(path / SWEEP_LOCK):
        todo = [c for c in cfgs if not is_finished(path / c.run_id)]
        tally = Tally(total=len(cfgs), skipped=len(cfgs) - len(todo))
        _write_sweep_json(path, spec, cfgs, backend, tally, None)
        chunks, workers, threads = plan(todo, chunk or spec.chunk, workers, threads)
        log.info("sweep %s: %d runs (%d to do) in %d chunks -> %s", spec.name, len(cfgs), len(todo), len(chunks), path)
        if on_progress:
            on_progress(tally)
        try:
            if chunks and backend == "ray":
                from grokscope.sweep.ray_backend import run_ray

                run_ray(path, chunks, tally, workers=max(1, workers), threads=threads, address=address, curves=curves,
                        on_progress=on_progress, sinks=sinks)
            elif chunks:
                _run_local(path, chunks, tally, workers, threads, curves, on_progress, sinks)
        except WriteRefused as e:  # a full disk is the sweep's problem, not a run's: stop, keep what is done
            n_done = sum(is_finished(path / c.run_id) for c in cfgs)
            raise SweepError(f"cannot write {e.path}: {e.reason}; the sweep stopped with {n_done} of {len(cfgs)} "
                             "runs finished (kept); free space or fix permissions, then run the same command "
                             "again to train the rest") from None
        wall = time.perf_counter() - t0
        _write_sweep_json(path, spec, cfgs, backend, tally, wall)
    if index:
        from grokscope.store.db import build_index

        build_index(path)
    status, stops = _statuses(path, cfgs)
    return SweepResult(
        path=path, n_runs=len(cfgs), skipped=tally.skipped,
        finished=sum(s == "finished" for s in status.values()),
        diverged=sum(s == "diverged" for s in status.values()),
        failed=sum(s != "finished" and s != "diverged" for s in status.values()),
        wall_s=wall, run_ids=[c.run_id for c in cfgs],
        forecast_stopped=sum(s == "forecast" for s in stops.values()),
    )


def with_stop_forecast(spec: SweepSpec, p: float) -> SweepSpec:
    """The spec with train.stop_forecast_p = p on every run (`grokscope sweep --stop-forecast P`): an entry
    of its [set], so sweep.json records it and the run ids include it (p = 0 turns the rule off)."""
    import dataclasses

    key = "train.stop_forecast_p"
    for section in ("grid", "zip", "random"):
        if key in getattr(spec, section):
            raise SweepError(f"--stop-forecast sets {key} on every run, but the spec varies it in [{section}]; "
                             "drop one of them")
    return dataclasses.replace(spec, set={**spec.set, key: float(p)})


def _statuses(path: Path, cfgs: list[RunConfig]) -> tuple[dict[str, str], dict[str, str | None]]:
    """(status, stop reason) of every run; a run stopped by a rule (also "forecast") is finished."""
    out, stops = {}, {}
    for c in cfgs:
        d = path / c.run_id
        if is_finished(d):
            stops[c.run_id] = stop = (read_summary(d) or {}).get("stop_reason")
            out[c.run_id] = "diverged" if stop == "diverged" else "finished"
        else:
            out[c.run_id] = "failed" if (d / ERROR).exists() else "unfinished"
    return out, stops


def _write_sweep_json(path: Path, spec: SweepSpec, cfgs: list[RunConfig], backend: str, tally: Tally,
                      wall: float | None) -> None:
    from grokscope.sweep.spec import axes

    varied = {}
    for axis in axes(spec):
        for assignment in axis:
            for k, v in assignment.items():
                varied.setdefault(k, [])
                if v not in varied[k]:
                    varied[k].append(v)
    write_json(path / SWEEP, {
        "name": spec.name, "spec": spec.to_dict(), "n_runs": len(cfgs), "axes": varied,
        "backend": backend, "run_ids": [c.run_id for c in cfgs],
        "finished": wall is not None, "wall_s": wall,
        "last_session": {"skipped": tally.skipped, "done": len(tally.done), "failed": len(tally.failed),
                         "diverged": len(tally.diverged)},
    })


def _run_local(path: Path, chunks: list[list[RunConfig]], tally: Tally, workers: int, threads: int, curves: bool,
               on_progress: Callable[[Tally], None] | None, sinks: SinkFactory | None) -> None:
    payloads = [[c.to_dict() for c in ch] for ch in chunks]
    if workers == 0:
        def event(item: tuple) -> None:
            tally.apply(item)
            if on_progress:
                on_progress(tally)
        for payload in payloads:
            train_chunk(str(path), payload, curves, event=event, sinks=sinks)
        return
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                             initargs=(events, threads)) as pool:
        pending = {pool.submit(train_chunk, str(path), p, curves, None, sinks) for p in payloads}
        refused: WriteRefused | None = None
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(events, tally)
            for fut in finished:
                try:
                    fut.result()
                except WriteRefused as e:  # no chunk can write either: start no more, let running ones end
                    refused = refused or e
                    for other in pending:
                        other.cancel()
                except Exception as e:  # a worker died (e.g. OOM-killed): its runs stay unfinished
                    log.error("a sweep worker failed: %s; re-run the sweep to redo its runs", e)
            pending = {f for f in pending if not f.cancelled()}
            if on_progress:
                on_progress(tally)
        if refused is not None:
            raise refused
        time.sleep(0.05)
        _drain(events, tally)
        if on_progress:
            on_progress(tally)


def _drain(events: Any, tally: Tally) -> None:
    while True:
        try:
            tally.apply(events.get_nowait())
        except Empty:
            return


__all__ = ["SweepError", "SweepResult", "Tally", "plan_chunks", "run_sweep", "set_threads", "with_stop_forecast"]
