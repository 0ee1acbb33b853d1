"""How many CPU threads and worker processes to use, chosen from the machine (torch-free).

One OpenMP thread per core is PyTorch's default; beside other jobs those threads wait for each
other and small models run up to 10x slower (docs). So the defaults count the cores that are
free now and never hand out more threads than that: workers × threads per worker <= free cores.

"Now" is a 0.1 s sample of the CPU time our cores spent busy (/proc/stat, the cores of this
process's affinity mask), not the 1-minute load average: that average still counts a job that
ended seconds ago, so a run started right after another took 1 thread on an idle 2-core machine.
Where /proc/stat cannot be read (not Linux), the load average is the fallback.
"""

from __future__ import annotations

import math
import os
import time

SAMPLE_S = 0.1  # how long free_cores watches the cores


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> dict[int, tuple[int, int]]:
    """{cpu: (busy ticks, total ticks)} of every core, from /proc/stat (OSError where there is none)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                t = [int(x) for x in ticks[:8]]  # user nice system idle iowait irq softirq steal
                out[int(name[3:])] = (t[0] + t[1] + t[2] + t[5] + t[6] + t[7], sum(t))
    if not out:
        raise OSError("no per-cpu lines in /proc/stat")
    return out


def _mask() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def busy_cores(sample_s: float = SAMPLE_S) -> float:
    """How many of our cores other work keeps busy now: their busy share over `sample_s` seconds,
    summed (this process sleeps meanwhile, so it does not count itself)."""
    mine = _mask()
    before = _cpu_times()
    time.sleep(sample_s)
    after = _cpu_times()
    busy = 0.0
    for cpu, (b1, t1) in after.items():
        if (mine is None or cpu in mine) and cpu in before:
            b0, t0 = before[cpu]
            busy += (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


def free_cores() -> int:
    """Cores not busy with other work now: cores minus the rounded busy cores (at least 1)."""
    cores = cpu_count()
    try:
        busy = busy_cores()
    except (OSError, ValueError):
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):
            return cores
    return max(1, min(cores, cores - math.floor(busy + 0.5)))


def plan_workers(n_chunks: int, workers: int | None = None, threads: int | None = None,
                 free: int | None = None) -> tuple[int, int]:
    """(worker processes, threads per worker) for a sweep of `n_chunks` ensemble chunks.

    Independent chunks parallelise perfectly across processes, while one small model's matmuls
    gain little from a second thread, so workers come first: one per free core up to the number of
    chunks; the cores left over become threads of each worker (a sweep of one big ensemble gets one
    worker with every free core). An explicit `workers` or `threads` is kept as given; the other is
    chosen so that workers × threads stays within the free cores. `free`: the free-core count when the
    caller has already sampled it (each `free_cores()` watches the cores for 0.1 s).
    """
    cores = free_cores() if free is None else free
    if workers is None:
        workers = max(1, min(cores if threads is None else max(1, cores // threads), n_chunks))
    if threads is None:
        threads = max(1, cores // max(1, workers))
    return workers, threads
