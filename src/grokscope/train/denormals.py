"""Flush denormal floats to zero while a stack trains (x86 FTZ/DAZ on every CPU thread torch uses).

Why: once a float32 softmax collapses (weight decay 0, large logits) its probabilities, gradients
and Adam's moments decay through the denormal range (below 1.2e-38), where x86 arithmetic runs
10-20x slower. Measured on a 2-core Intel Xeon, one thread: a 52-model PAIR slice of the
pair_phase sweep (`python scripts/sweep_profile.py sweeps/pair_phase_slice.toml`, under cProfile)
406 s unflushed, 73 s flushed, every t_val99 and stop reason equal; the whole 1,040-model grid
ends in the same phases; Power's Figure 1 run after its slingshots 350 vs 45 ms a step. A denormal is
smaller than any quantity a step adds it to by > 30 orders of magnitude, and Adam's eps keeps a
flushed second moment from dividing by zero, so the dynamics are unchanged in every run we compared.

`torch.set_flush_denormal` sets the flag on the calling thread only, and threads inherit it only
when they are created: torch's OpenMP pool, once started, keeps computing with denormals. So the
flag is also set inside one OpenMP parallel region of the runtime torch loaded (libgomp on Linux),
which runs on every pool thread. Where that runtime cannot be found, only the calling thread (all
the work of a one-thread run) is flushed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator
from pathlib import Path

import torch

_Region = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@functools.cache  # loaded with torch, so it does not change for the life of the process
def _openmp_runtime() -> ctypes.CDLL | None:
    """The libgomp torch loaded (from this process's memory map), or None."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "libgomp" in line and line.endswith(".so.1")}
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.GOMP_parallel.argtypes = [_Region, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def set_flush(on: bool) -> bool:
    """Flush denormals (on) or not on this thread and every thread of torch's OpenMP pool;
    False where the CPU has no such mode (then nothing changes)."""
    if not torch.set_flush_denormal(on):
        return False
    gomp = _openmp_runtime()
    if gomp is not None and torch.get_num_threads() > 1:
        region = _Region(lambda _: torch.set_flush_denormal(on))  # runs once on every team thread
        gomp.GOMP_parallel(region, None, 0, 0)  # 0 threads: the pool's current size
    return True


@contextlib.contextmanager
def flushed(on: bool = True) -> Iterator[None]:
    """Denormals flushed inside the block (when `on`), the default (kept) after it."""
    if not on or not set_flush(True):
        yield
        return
    try:
        yield
    finally:
        set_flush(False)
