"""`grokscope compare`: a method against baselines on one task, over seeds, as a sweep store.

`run_compare(spec, out)` trains every (arm, lr, seed) run through the sweep engine (so runs of
the same shape share ensembles), then writes `compare.json` (per setting and per arm: median
and interquartile range of t_val99 and t_val95, fraction of seeds grokked, wall time, memory;
per method arm: the speed-up of its best setting over the best baseline setting with a bootstrap
confidence interval), `compare.png` and `compare.md` (the same tables in Markdown) into the sweep
directory.

Best setting of an arm: the lr with the smallest median t_val99 (ties: more seeds grokked, then
smaller median t_val95, then higher median final test accuracy). Selecting on the same seeds that estimate the speed-up favours both
sides alike; the interval resamples seeds of the two chosen settings only. A best lr on the edge of its
arm's grid is not a tuned lr: the grid is extended beyond that edge until the best is interior (at
most `max_extensions` times per arm), and an arm left on an edge is flagged in compare.json/md.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grokscope.compare.spec import (
    METHODS,
    CompareSpec,
    load_compare,
    setting_keys,
    setting_values,
    sweep_spec,
)
from grokscope.compare.stats import quantiles, speedup
from grokscope.config import OPTIMIZERS
from grokscope.keys import get_key
from grokscope.store.names import COMPARE_JSON, COMPARE_MD, COMPARE_PNG

log = logging.getLogger(__name__)


@dataclass
class CompareResult:
    path: Path
    settings: list[dict[str, Any]]  # one per (arm, lr)
    arms: list[dict[str, Any]]  # one per arm: its best setting
    speedups: list[dict[str, Any]]  # one per method arm
    wall_s: float
    peak_rss_mb: float
    plot: Path | None


def state_mb(cfg: Any) -> float:
    """Memory of one model's training state: parameters, optimizer state and gradient-transform
    state (their tensors' bytes at float32, MB). Grokfast-MA's window shows here."""

    from grokscope.models import build_model
    from grokscope.tasks import make_task
    from grokscope.train.optim import StackedOptimizer
    from grokscope.train.transforms import build_transforms

    params = build_model(cfg.model, (task := make_task(cfg.task)).n_in, task.n_out).init([cfg.train.seed])
    tensors = list(params.values()) + list(StackedOptimizer([cfg], params).state_tensors().values())
    for t in build_transforms([cfg], params):
        tensors += list(t.state_tensors().values())
    return sum(t.numel() * 4 for t in tensors if t.is_floating_point()) / 2**20


def _peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) \
        * scale / 2**20


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # last tie-break: the median final test accuracy, so that settings none of whose seeds reached the
    # events inside the budget are still ranked by how far they got (not by their order in the spec)
    return min(rows, key=lambda r: (r["t_val99"]["median"], -r["grokked"], r["t_val95"]["median"],
                                    -_finite(r.get("final_test_acc", math.nan), -1.0)))


def _finite(x: float, default: float) -> float:
    return x if math.isfinite(x) else default


EDGE_STEP = 3.0  # the step of an extension beyond a one-point grid (and the smallest step used: 1.5)


def grid_edge(lrs: list[float], best_lr: float) -> str | None:
    """Where the best lr lies on its arm's grid: "low" / "high" (an end of the grid: the optimum may lie
    beyond it), "single" (a one-point grid: nothing was tuned), None (interior: tuned)."""
    grid = sorted(set(lrs))
    if len(grid) == 1:
        return "single"
    if math.isclose(best_lr, grid[0], rel_tol=1e-9):
        return "low"
    if math.isclose(best_lr, grid[-1], rel_tol=1e-9):
        return "high"
    return None


def next_grid(lrs: list[float], best_lr: float) -> list[float]:
    """The grid extended by one lr beyond the edge its best lr lies on (geometrically, at the grid's own step
    at that end, at least ×1.5; ×3 for a one-point grid, on both sides); the grid itself when the best is interior."""
    grid = sorted(set(lrs))
    edge = grid_edge(grid, best_lr)
    if edge is None:
        return grid
    if edge == "single":
        return [grid[0] / EDGE_STEP, grid[0], grid[0] * EDGE_STEP]
    if edge == "high":
        return [*grid, grid[-1] * max(grid[-1] / grid[-2], 1.5)]
    return [grid[0] / max(grid[1] / grid[0], 1.5), *grid]


def _read_settings(spec: CompareSpec, path: Path, cfgs: list[Any]) -> list[dict[str, Any]]:
    """One row per (arm, lr) setting of `spec` from the sweep store at `path`: order statistics over seeds."""
    import numpy as np

    from grokscope.events import first_step
    from grokscope.store.rundir import read_metrics, read_summary

    keys, values = setting_keys(spec), setting_values(spec)
    per_setting: list[list[dict[str, Any]]] = [[] for _ in values]
    for cfg in cfgs:
        summary = read_summary(path / cfg.run_id)
        if summary is None:
            continue  # failed or unfinished: reported in n_runs vs n
        rows = read_metrics(path / cfg.run_id)
        run = {"run_id": cfg.run_id, "t_val99": summary.get("t_val99"), "t_val95": first_step(rows, "test_acc", 0.95),
               "wall_s": summary.get("wall_s"), "diverged": summary.get("stop_reason") == "diverged",
               "final_test_acc": summary.get("final_test_acc")}
        d = cfg.to_dict()
        mine = [get_key(d, k) for k in keys]
        for i, v in enumerate(values):
            if [v[k] for k in keys] == mine:
                per_setting[i].append(run)
    settings = []
    for i, ((arm, lr), runs) in enumerate(zip(spec.settings(), per_setting)):
        cfg = next(c for c in cfgs if [get_key(c.to_dict(), k) for k in keys] == [values[i][k] for k in keys])
        settings.append({
            "arm": arm.name, "method": arm.method, "lr": lr, "baseline": arm.is_baseline, "matched_to": arm.matched_to,
            "optimizer": cfg.optim.name, "weight_decay": cfg.optim.weight_decay,
            "wd_coupling": "decoupled" if OPTIMIZERS.get(cfg.optim.name).decoupled else "coupled L2", "n": len(runs), "n_seeds": len(spec.seeds),
            "grokked": float(np.mean([r["t_val99"] is not None for r in runs])) if runs else 0.0,
            "t_val99": quantiles([r["t_val99"] for r in runs] or [None]),
            "t_val95": quantiles([r["t_val95"] for r in runs] or [None]),
            "wall_s": float(np.median([r["wall_s"] for r in runs if r["wall_s"] is not None] or [math.nan])),
            # where no seed reaches the event inside the budget, how far they got still ranks the settings
            "final_test_acc": float(np.median([r["final_test_acc"] for r in runs if r["final_test_acc"] is not None]
                                              or [math.nan])),
            "state_mb": state_mb(cfg), "runs": runs,
            "settings": {k: values[i][k] for k in keys},
        })
    return settings


def _train_and_read(spec: CompareSpec, path: Path, **sweep_kw: Any) -> tuple[list[dict[str, Any]], float]:
    """Train the spec's unfinished runs (finished ones, e.g. of a grid before its extension, are reused)
    and read its settings; (settings, the sweep's wall time)."""
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import expand

    sweep = sweep_spec(spec)
    cfgs = expand(sweep)
    result = run_sweep(sweep, path, **sweep_kw)
    return _read_settings(spec, path, cfgs), result.wall_s


def _tuned(spec: CompareSpec, path: Path, extend: bool, **sweep_kw: Any) -> tuple[CompareSpec, list[dict[str, Any]],
                                                                                  dict[str, int], float]:
    """Train, then, while `extend`, extend every arm whose best lr lies on its grid's edge (at most
    spec.max_extensions times per arm) and train the new settings; (final spec, settings, extensions per arm, wall)."""
    extensions = {a.name: 0 for a in spec.arms}
    settings, wall = _train_and_read(spec, path, **sweep_kw)
    while extend:
        grow = {}
        for arm in spec.arms:
            best = _best([s for s in settings if s["arm"] == arm.name])
            if grid_edge(arm.lr, best["lr"]) and extensions[arm.name] < spec.max_extensions:
                grow[arm.name] = next_grid(arm.lr, best["lr"])
        if not grow:
            break
        for name, grid in grow.items():
            extensions[name] += 1
            log.info("compare %s: arm %s's best lr is on its grid's edge; grid -> %s", spec.name, name,
                     ", ".join(f"{x:.3g}" for x in grid))
        spec = spec.with_lrs(grow)
        settings, more = _train_and_read(spec, path, **sweep_kw)
        wall += more
    return spec, settings, extensions, wall


def run_compare(spec: CompareSpec | str | Path, out: str | Path | None = None, *, workers: int | None = None,
                threads: int | None = None, on_progress: Callable[[Any], None] | None = None, plot: bool = True,
                sinks: Any = None, extend: bool | None = None) -> CompareResult:
    """Train (resumably) and summarise a compare spec into `out` (default runs/<spec name>).

    workers / threads / sinks go to `run_sweep` (sinks: per-run tracker factory, as `sweep --log`).
    extend (default: the spec's extend_lr, true unless set): extend the lr grid of an arm whose best lr is on
    its edge until it is interior or max_extensions is reached; either way every arm says whether its best
    lr is on an edge ("edge": low / high / single / None), and a speed-up resting on such an arm says so."""
    from grokscope.store.files import write_json, write_text
    from grokscope.sweep.spec import expand

    if not isinstance(spec, CompareSpec):
        spec = load_compare(spec)
    cfgs = expand(sweep_spec(spec))  # every error surfaces here, before anything is written
    path = Path(out) if out is not None else Path("runs") / spec.name
    grids = {a.name: list(a.lr) for a in spec.arms}
    spec, settings, extensions, wall = _tuned(spec, path, spec.extend_lr if extend is None else extend,
                                              workers=workers, threads=threads, on_progress=on_progress, sinks=sinks)
    cfgs = expand(sweep_spec(spec))
    for s in settings:
        s["added"] = not any(math.isclose(s["lr"], x, rel_tol=1e-9) for x in grids[s["arm"]])  # by an extension
    arms = []
    for arm in spec.arms:
        best = dict(_best([s for s in settings if s["arm"] == arm.name]))
        edge = grid_edge(arm.lr, best["lr"])
        best.update({"grid": sorted(arm.lr), "spec_grid": sorted(grids[arm.name]), "edge": edge,
                     "extensions": extensions[arm.name],
                     "edge_capped": bool(edge and extensions[arm.name] >= spec.max_extensions)})
        arms.append(best)
    bases = [a for a in arms if a["baseline"]]
    best_base = _best(bases)
    speedups = []
    for best in arms:
        if best["baseline"]:
            continue
        for event in ("t_val99", "t_val95"):
            base_t, method_t = ([r[event] for r in s["runs"]] or [None] for s in (best_base, best))
            speedups.append({"arm": best["arm"], "method": best["method"], "event": event, "lr": best["lr"],
                             "baseline_arm": best_base["arm"], "baseline_lr": best_base["lr"],
                             # an edge: the arm's optimum may lie beyond its grid (method: a lower bound on
                             # the speed-up; baseline: an upper bound)
                             "method_edge": best["edge"], "baseline_edge": best_base["edge"],
                             **speedup(base_t, method_t, spec.bootstrap, spec.seed)})
    peak = _peak_rss_mb()
    png = None
    if plot:
        from grokscope.report.compare import plot_compare

        budget = cfgs[0].train.steps
        png = plot_compare(settings, speedups, budget, path / COMPARE_PNG, title=f"compare {spec.name}")
    doc = {
        "name": spec.name, "base": spec.base, "seeds": spec.seeds, "set": spec.set,
        "methods": {a.name: METHODS[a.method].description for a in spec.arms},
        "extend_lr": spec.extend_lr if extend is None else extend, "max_extensions": spec.max_extensions,
        "settings": settings, "arms": arms, "speedups": speedups, "wall_s": wall, "peak_rss_mb": peak,
        "notes": "non-grokked seeds count as +inf; medians/quartiles are order statistics; wall_s is the time of "
                 "the ensemble a run trained in when it stopped; state_mb = parameters + optimizer + transform "
                 "state of one model (float32); an arm's edge (low / high / single) says its best lr lies on the "
                 "edge of its (extended) grid, so its optimum may lie beyond it",
    }
    write_json(path / COMPARE_JSON, doc)
    from grokscope.report.compare import markdown_tables  # matplotlib-free: the tables for notes and docs

    write_text(path / COMPARE_MD, markdown_tables(doc))
    return CompareResult(path, settings, arms, speedups, wall, peak, png)


__all__ = ["CompareResult", "run_compare", "load_compare", "METHODS", "grid_edge", "next_grid"]
