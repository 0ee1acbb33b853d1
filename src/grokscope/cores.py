"""How many CPU threads and worker processes to use, chosen from the machine (torch-free).

One OpenMP thread per core is PyTorch's default; beside other jobs those threads wait for each
other and small models run up to 10x slower (README). So the defaults count the cores that are
free now (cores minus the 1-minute load average, which counts runnable processes), and never hand
out more threads than that: workers × threads per worker <= free cores.
"""

from __future__ import annotations

import math
import os


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def free_cores() -> int:
    """Cores not busy with other work now: cores minus the rounded 1-minute load (at least 1)."""
    cores = cpu_count()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, cores - math.floor(busy + 0.5)))


def plan_workers(n_chunks: int, workers: int | None = None, threads: int | None = None) -> tuple[int, int]:
    """(worker processes, threads per worker) for a sweep of `n_chunks` ensemble chunks.

    Independent chunks parallelise perfectly across processes, while one small model's matmuls
    gain little from a second thread, so workers come first: one per free core up to the number of
    chunks; the cores left over become threads of each worker (a sweep of one big ensemble gets one
    worker with every free core). An explicit `workers` or `threads` is kept as given; the other is
    chosen so that workers × threads stays within the free cores.
    """
    cores = free_cores()
    if workers is None:
        workers = max(1, min(cores if threads is None else max(1, cores // threads), n_chunks))
    if threads is None:
        threads = max(1, cores // max(1, workers))
    return workers, threads
