"""One unit of sweep work: train a chunk of same-shape runs as one ensemble, into the sweep dir.

`train_chunk` is idempotent, which is what makes sweeps resumable and Ray retries safe: it brings
its runs to finished through `grokscope.lifecycle` (policy resume): finished runs are skipped,
interrupted ones (a killed or lost worker) continue from their last saved state. If the engine
raises, the chunk is bisected so one bad run cannot take its neighbours down;
a run that still fails gets `error.json` in its directory and the sweep goes on. A write the file
system refuses (`WriteRefused`: a full disk, a read-only directory) is nobody's run's fault: the
chunk's unfinished directories are removed (freeing what they held) and the error goes up, so the
sweep stops with its finished runs intact.

This module imports no torch at import time: a spawned pool worker unpickles `init_worker` (importing
this module) before it runs it, and `OMP_NUM_THREADS` only counts if it is set before torch (and its
OpenMP runtime) is loaded. Keep the heavy imports inside the functions.
"""

from __future__ import annotations

import logging
import os
import shutil
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grokscope.store.names import ERROR  # stdlib only (no torch)

if TYPE_CHECKING:
    from grokscope.config import RunConfig

log = logging.getLogger(__name__)

Event = Callable[[tuple], None]  # ("start", [run_id, ...]) | ("done", run_id, status)
SinkFactory = Callable[[Any, Path], Sequence[Any]]  # (RunConfig, run dir) -> extra train.Sink objects

_events: Any = None  # a multiprocessing queue, set in pool workers by `init_worker`


class _Finished:
    """A sink teed after a run's RunWriter: once the run directory is complete (summary.json
    written), draws its curves.png if asked (thousands of figures cost more than the training)
    and reports the run as done."""

    def __init__(self, path: Path, run_id: str, event: Event, curves: bool):
        self.path, self.run_id, self.event, self.curves = path, run_id, event, curves

    def on_eval(self, row: dict[str, Any]) -> None:
        pass

    def on_checkpoint(self, step: int, params: Any, kind: str) -> None:
        pass

    def on_state(self, step: int, tensors: Any, info: Any) -> None:
        pass

    def on_finish(self, summary: dict[str, Any]) -> None:
        if self.curves:
            from grokscope.report.curves import write_curves

            write_curves(self.path)  # never raises
        self.event(("done", self.run_id, "diverged" if summary.get("stop_reason") == "diverged" else "finished"))


def init_worker(events: Any = None, threads: int = 1) -> None:
    """Pool-worker initializer: torch threads, the event queue, and die with the parent."""
    global _events
    _events = events
    set_threads(threads)
    try:  # Linux: a SIGKILLed sweep must not leave orphan workers writing into its directory
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:
            os._exit(1)
    except (OSError, AttributeError):
        pass


def set_threads(threads: int) -> None:
    """Use `threads` CPU threads in this (worker) process.

    `OMP_NUM_THREADS` is set first, so that it applies when this call is what loads torch (a fresh
    pool worker): the OpenMP runtime reads it once, at load, for every thread torch does not manage
    itself. `torch.set_num_threads` covers a process where torch was already loaded (a reused Ray worker).
    """
    n = max(1, threads)
    os.environ["OMP_NUM_THREADS"] = str(n)  # the runner's per-worker share wins over an inherited value
    import torch

    torch.set_num_threads(n)


def _queue_event(item: tuple) -> None:
    if _events is not None:
        _events.put(item)


def train_chunk(sweep_dir: str, cfg_dicts: list[dict[str, Any]], curves: bool = False,
              event: Event | None = None, sinks: SinkFactory | None = None) -> dict[str, str]:
    """Bring the runs of one chunk to finished; returns {run_id: finished|diverged|failed|skipped}.

    `sinks(cfg, run_dir)` gives extra sinks for a run (experiment trackers), teed after its
    run directory; it must be picklable (a module-level function) for the process pool."""
    from grokscope import lifecycle
    from grokscope.config import RunConfig
    from grokscope.errors import WriteRefused
    from grokscope.store.files import write_json
    from grokscope.store.rundir import is_finished
    event = event or _queue_event
    root = Path(sweep_dir)
    cfgs = [RunConfig.from_dict(d) for d in cfg_dicts]

    def extra(cfg: RunConfig, path: Path) -> list[Any]:
        return [_Finished(path, cfg.run_id, event, curves), *(sinks(cfg, path) if sinks else ())]

    def attempt(group: list[RunConfig]) -> None:
        """Train `group` (resuming what it saved), bisecting on failure."""
        jobs, done = lifecycle.plan(group, [root / c.run_id for c in group], lifecycle.Policy.resume)
        status.update({p.name: "skipped" for p in done})
        for stack in lifecycle.stacks(jobs):
            for j in stack:
                (j.path / ERROR).unlink(missing_ok=True)  # a failure of an earlier attempt is retried
            event(("start", [j.cfg.run_id for j in stack]))
            try:
                summaries = lifecycle.train_stack(stack, sinks=extra)
            except WriteRefused:
                for j in stack:
                    if not is_finished(j.path):
                        shutil.rmtree(j.path, ignore_errors=True)  # free what the refused runs held
                        event(("requeue", j.cfg.run_id))
                raise
            except Exception as e:  # noqa: BLE001 — record it and go on with the others
                if len(stack) > 1:  # halves continue from what the failed attempt saved
                    log.warning("chunk of %d failed (%s); bisecting", len(stack), e)
                    for j in stack:
                        event(("requeue", j.cfg.run_id))
                    mid = len(stack) // 2
                    attempt([j.cfg for j in stack[:mid]])
                    attempt([j.cfg for j in stack[mid:]])
                    continue
                j = stack[0]
                write_json(j.path / ERROR, {"run_id": j.cfg.run_id, "error": type(e).__name__, "message": str(e),
                                            "traceback": traceback.format_exc()})
                status[j.cfg.run_id] = "failed"
                event(("done", j.cfg.run_id, "failed"))
                continue
            for j, s in zip(stack, summaries, strict=True):
                status[j.cfg.run_id] = "diverged" if s.get("stop_reason") == "diverged" else "finished"

    status: dict[str, str] = {}
    attempt(cfgs)
    return status
