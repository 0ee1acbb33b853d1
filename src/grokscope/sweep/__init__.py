"""Sweeps: a TOML spec -> thousands of runs, trained as ensembles on a process pool or Ray.

    from grokscope.sweep import load_spec, expand, run_sweep, query
    result = run_sweep("sweeps/pair_phase.toml", workers=2)       # -> runs/pair_phase/
    df = query("select width, wd, frac, liu_phase from runs", result.path)

See `spec` (the file format), `runner` (layout, resume, chunks), `grokscope.store.db` (the index)
and `grokscope.report.phase` (phase diagrams).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SweepSpec": "grokscope.sweep.spec", "load_spec": "grokscope.sweep.spec",
    "parse_spec": "grokscope.sweep.spec", "expand": "grokscope.sweep.spec",
    "run_sweep": "grokscope.sweep.runner", "SweepResult": "grokscope.sweep.runner",
    "SweepError": "grokscope.sweep.runner", "plan_chunks": "grokscope.sweep.runner",
    "query": "grokscope.store.db", "build_index": "grokscope.store.db",
    "ensure_index": "grokscope.store.db",
}
BACKENDS = ("local", "ray")  # where the chunks train: a process pool, or a Ray cluster (`runner.run_sweep`)
__all__ = sorted([*_EXPORTS, "BACKENDS"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grokscope.sweep' has no attribute {name!r}")
