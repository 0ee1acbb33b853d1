"""The Ray backend: each chunk is one Ray task (`max_retries`, so a lost worker's chunk is rerun).

Tasks write into the same sweep directory as the local backend (on a cluster it must be a shared
filesystem). `train_chunk` is idempotent, so a retried task skips the runs its first attempt
finished and continues the rest from their saved state (`grokscope.lifecycle`). With `address` the driver joins that cluster; otherwise it starts a
local Ray (`num_cpus = workers`, no dashboard) and stops it at the end. If Ray is already
initialised (a notebook, a test), that instance is used and left running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from grokscope.config import RunConfig
from grokscope.errors import WriteRefused

log = logging.getLogger(__name__)
MAX_RETRIES = 3


def _ray_chunk(sweep_dir: str, payload: list[dict], curves: bool, threads: int, sinks=None) -> dict[str, str]:
    from grokscope.sweep.worker import set_threads, train_chunk

    set_threads(threads)
    return train_chunk(sweep_dir, payload, curves, event=lambda item: None, sinks=sinks)


def run_ray(path: Path, chunks: list[list[RunConfig]], tally, *, workers: int, threads: int, address: str | None,
            curves: bool, on_progress: Callable | None, sinks: Callable | None = None) -> None:
    import ray

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        threads = threads if not address else 1  # a cluster's nodes: one thread per Ray CPU
        task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_ray_chunk)
        refs = {}
        for ch in chunks:
            ref = task.remote(str(path.resolve()), [c.to_dict() for c in ch], curves, threads, sinks)
            refs[ref] = ch
        # Ray gives chunk-level progress; a chunk counts as running once submitted.
        for ch in chunks:
            tally.apply(("start", [c.run_id for c in ch]))
        if on_progress:
            on_progress(tally)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                try:
                    status = ray.get(ref)
                except WriteRefused:  # a full disk: every other task would fail the same way
                    for other in pending:
                        ray.cancel(other)
                    raise
                except Exception as e:  # retries exhausted: its runs stay unfinished
                    log.error("a ray task failed after %d retries: %s", MAX_RETRIES, e)
                    for c in refs[ref]:
                        tally.running.discard(c.run_id)
                    continue
                for run_id, s in status.items():
                    if s == "skipped":
                        tally.running.discard(run_id)
                        tally.skipped += 1
                    else:
                        tally.apply(("done", run_id, s))
            if on_progress:
                on_progress(tally)
    finally:
        if started:
            ray.shutdown()
