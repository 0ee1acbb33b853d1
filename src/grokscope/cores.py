"""How many CPU threads and worker processes to use, chosen from the machine (torch-free).

One OpenMP thread per core is PyTorch's default; beside other jobs those threads wait for each
other and small models run up to 10x slower (docs). So the defaults count the cores that are
free now and never hand out more threads than that: workers × threads per worker <= free cores.

"Now" is a sample of at least 0.1 s of the CPU time our cores spent busy (/proc/stat, the cores
of this process's affinity mask, less this process's own CPU time), not the 1-minute load
average: that average still counts a job that ended seconds ago, so a run started right after
another took 1 thread on an idle 2-core machine.
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


def _own_cpu_s() -> float:
    """CPU seconds this process (every thread) has used so far."""
    t = os.times()
    return t.user + t.system


class CoreWatch:
    """Watches our cores from now on: `busy()` later gives how many of them *other* work kept busy
    meanwhile — their busy share summed, less this process's own CPU time over the same wall time.
    So the watch can run while this process works (`grokscope run` imports torch meanwhile) instead
    of sleeping through a sample of its own. Where /proc/stat cannot be read, `busy()` raises
    OSError (`free_cores` then falls back to the load average)."""

    def __init__(self) -> None:
        self.mine = _mask()
        self.t0, self.own0 = time.monotonic(), _own_cpu_s()
        try:
            self.before: dict[int, tuple[int, int]] | None = _cpu_times()
        except (OSError, ValueError):
            self.before = None

    def busy(self, min_s: float = SAMPLE_S) -> float:
        """Busy cores, over at least `min_s` seconds since the watch started (sleeps the rest)."""
        if self.before is None:
            raise OSError("/proc/stat could not be read when the watch started")
        elapsed = time.monotonic() - self.t0
        if elapsed < min_s:
            time.sleep(min_s - elapsed)
        after, own = _cpu_times(), _own_cpu_s() - self.own0
        wall = time.monotonic() - self.t0
        busy = 0.0
        for cpu, (b1, t1) in after.items():
            if (self.mine is None or cpu in self.mine) and cpu in self.before:
                b0, t0 = self.before[cpu]
                busy += (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        return max(0.0, busy - (own / wall if wall > 0 else 0.0))


def busy_cores(sample_s: float = SAMPLE_S) -> float:
    """How many of our cores other work keeps busy now: their busy share over `sample_s` seconds,
    summed (this process sleeps meanwhile; its own CPU time is left out anyway)."""
    return CoreWatch().busy(sample_s)


def free_cores(watch: CoreWatch | None = None) -> int:
    """Cores not busy with other work now: cores minus the rounded busy cores (at least 1); over the
    time since `watch` started when given, else over a fresh 0.1 s sample."""
    cores = cpu_count()
    try:
        busy = watch.busy() if watch is not None else busy_cores()
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
