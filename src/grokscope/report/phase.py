"""Phase diagrams of a sweep: heatmaps over two config axes, faceted by a third.

For every cell (x, y[, facet]) the runs in it (seeds, and any other varied keys) are reduced to
(by `analysis.cells.cell_stats`; nothing is computed here):
  phase_liu.png      the most common Liu phase (comprehension / grokking / memorization / confusion;
                     threshold and delay configurable, default 90% and 10³ steps), categorical colours,
                     with the share of runs carrying that label printed in the cell
  phase_doshi.png    the most common Doshi phase, when any run has task.noise > 0
  phase_t_val99.png  median t_val99 over the runs that reached 99% test accuracy (log colour scale)
  phase_grokked.png  fraction of runs that reached 99% test accuracy ("grokked")
Every figure's title states the threshold it labels at; axes are named by `keys.label`.
`summary_rows` gives the table the CLI prints (label counts per facet value).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from grokscope.analysis.cells import cell_stats
from grokscope.events import (
    DOSHI_PHASES,
    EVENT_THRESHOLD,
    LIU_DELAY,
    LIU_PHASES,
    LIU_THRESHOLD,
    doshi_phase,
    event_names,
    liu_phase,
)
from grokscope.keys import column, label
from grokscope.store.names import SWEEP

LIU = dict(zip(LIU_PHASES, ("#2ca02c", "#1f77b4", "#ff7f0e", "#7f7f7f"), strict=True))
DOSHI = dict(zip(DOSHI_PHASES, ("#2ca02c", "#17becf", "#1f77b4", "#ff7f0e", "#7f7f7f"), strict=True))


def liu_title(threshold: float = LIU_THRESHOLD, delay: int = LIU_DELAY) -> str:
    """"Liu phase at 90% (10³-step delay)": the threshold a Liu label was given at, for every title."""
    d = f"10{_SUP[int(math.log10(delay))]}" if delay > 0 and math.log10(delay).is_integer() and delay >= 10 else f"{delay:,}"
    return f"Liu phase at {threshold:.0%} ({d}-step delay)"


def reached_title(threshold: float = EVENT_THRESHOLD) -> str:
    """"test accuracy ≥ 99%": what t_val99 (`events.event_names`) and "grokked" mean."""
    return f"test accuracy ≥ {threshold:.0%}"


_SUP = dict(zip(range(10), "⁰¹²³⁴⁵⁶⁷⁸⁹", strict=True))


def accuracy_rows(db: str | Path, metrics: tuple[str, ...] = ("train_acc", "test_acc")) -> dict[str, list[dict[str, Any]]]:
    """run_id -> its metrics rows ({"step", <metric>: value}, steps ascending) as the index holds them."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        acc = con.execute(f"SELECT run_id, step, metric, value FROM metrics WHERE metric IN ({', '.join('?' * len(metrics))}) "
                          "ORDER BY run_id, step", list(metrics)).fetchall()
    finally:
        con.close()
    rows: dict[str, dict[int, dict[str, Any]]] = {}  # run_id -> step -> metrics row (steps ascending)
    for run_id, step, metric, value in acc:
        rows.setdefault(run_id, {}).setdefault(int(step), {"step": int(step)})[metric] = value
    return {k: list(v.values()) for k, v in rows.items()}


def label_runs(db: str | Path, threshold: float = LIU_THRESHOLD, delay: int = LIU_DELAY):
    """Runs of an index with liu_phase / doshi_phase recomputed for these thresholds -> DataFrame.

    The labels are `grokscope.events`' functions (`liu_phase`, `doshi_phase`) applied to each run's
    train/test accuracy rows as the index holds them; nothing is computed here (the index stores
    the labels for the default thresholds, these are the same functions at any threshold and delay)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        df = con.execute("SELECT * FROM runs").df()
    finally:
        con.close()
    rows = accuracy_rows(db)

    def liu(row: Any) -> Any:
        if row["status"] != "finished":
            return None
        return liu_phase(rows.get(row["run_id"], []), threshold, delay)

    def doshi(row: Any) -> Any:
        if row["status"] != "finished" or _missing(row.get("final_test_acc")):
            return None
        return doshi_phase(row["final_train_acc"], row["final_test_acc"], float(row.get("task_noise") or 0), threshold)

    if len(df):
        df["liu_phase"] = df.apply(liu, axis=1)
        df["doshi_phase"] = df.apply(doshi, axis=1)
    return df


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is getattr(__import__("pandas"), "NA", None)


def _cells(df, x: str, y: str, facet: str | None):
    xs = sorted(df[x].dropna().unique())
    ys = sorted(df[y].dropna().unique())
    fs = sorted(df[facet].dropna().unique()) if facet else [None]
    return xs, ys, fs


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


def phase_diagrams(df, x: str, y: str, out_dir: str | Path, facet: str | None = None,
                   title: str = "", threshold: float = LIU_THRESHOLD, delay: int = LIU_DELAY) -> list[Path]:
    """Write the PNGs described in the module docstring; returns their paths.

    df: one row per run with columns x, y, [facet], liu_phase, doshi_phase, t_val99, task_noise, status;
    threshold / delay: what its labels were given at (`label_runs`), for the titles.
    """
    out_dir = Path(out_dir)
    df = df[df["status"] == "finished"]
    if not len(df):
        return []
    xs, ys, fs = _cells(df, x, y, facet)
    cells = {tuple(c[k] for k in (facet, y, x) if k): c for c in cell_stats(df, [facet, y, x])}

    def grid(fn):
        out = []
        for f in fs:
            arr = np.empty((len(ys), len(xs)), dtype=object)
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    c = cells.get((f, yv, xv) if facet else (yv, xv))
                    arr[i, j] = fn(c) if c is not None else None
            out.append(arr)
        return out

    written = []
    label_sets = [("liu", "liu_phase", LIU, liu_title(threshold, delay))]
    if "task_noise" in df and (df["task_noise"].fillna(0) > 0).any():
        label_sets.append(("doshi", "doshi_phase", DOSHI, f"Doshi phase at {threshold:.0%}"))
    for name, col, colors, what in label_sets:
        order = list(colors)
        cmap = ListedColormap(list(colors.values()))
        norm = BoundaryNorm(np.arange(len(order) + 1) - 0.5, len(order))
        grids = grid(lambda c: (c[col], c[f"{col}_count"] / c[f"{col}_n"]) if c[col] is not None else None)  # noqa: B023
        fig, axs = _figure(len(fs))
        for ax, f, arr in zip(axs, fs, grids):
            img = np.full(arr.shape, np.nan)
            for (i, j), cell in np.ndenumerate(arr):
                if cell and cell[0] is not None:
                    img[i, j] = order.index(cell[0])
                    ax.text(j, i, f"{cell[1]:.0%}", ha="center", va="center", fontsize=7, color="white")
            ax.imshow(img, cmap=cmap, norm=norm, origin="lower", aspect="auto")
            _axes(ax, xs, ys, x, y, facet, f)
        handles = [Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
        fig.legend(handles, order, loc="outside lower center", ncol=len(order), fontsize=8)
        fig.suptitle(f"{title} {what}\nmost common over seeds (% = its share)".strip(), fontsize=10)
        written.append(_save(fig, out_dir / f"phase_{name}.png"))

    t_val = event_names()[1]
    for name, fn, text, norm in (
        (t_val, lambda c: c["median_t_val"], f"median {t_val} (runs reaching {reached_title()})", "log"),
        ("grokked", lambda c: c["frac_reached"], f"fraction of runs reaching {reached_title()}", None),
    ):
        grids = grid(fn)
        vals = [v for arr in grids for v in arr.flat if v is not None and not math.isnan(v)]
        fig, axs = _figure(len(fs))
        kw: dict[str, Any] = {"cmap": "viridis", "origin": "lower", "aspect": "auto"}
        if norm == "log" and vals:
            kw["norm"] = LogNorm(max(min(vals), 1), max(max(vals), 2))
        elif norm is None:
            kw.update(vmin=0, vmax=1)
        im = None
        for ax, f, arr in zip(axs, fs, grids):
            img = np.array([[np.nan if v is None else v for v in row] for row in arr], dtype=float)
            im = ax.imshow(img, **kw)
            for (i, j), v in np.ndenumerate(img):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.0f}" if name == t_val else f"{v:.2f}", ha="center", va="center",
                            fontsize=7, color="white")
            _axes(ax, xs, ys, x, y, facet, f)
        if im is not None and vals:
            fig.colorbar(im, ax=axs, shrink=0.8)
        fig.suptitle(f"{title}\n{text}".strip(), fontsize=10)
        written.append(_save(fig, out_dir / f"phase_{name}.png"))
    return written


def _figure(n: int):
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.6 * cols + 1, 3.2 * rows + 0.8), layout="constrained")
    axs = fig.subplots(rows, cols, squeeze=False)
    flat = list(axs.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _axes(ax, xs, ys, x: str, y: str, facet: str | None, f: Any) -> None:
    ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs], fontsize=7, rotation=45)
    ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys], fontsize=7)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if facet:
        ax.set_title(f"{label(facet)} = {_fmt(f)}", fontsize=9)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)  # a bare Figure: no pyplot state, no backend switch
    return path


def summary_rows(df, facet: str | None) -> tuple[list[str], list[list[str]]]:
    """Header and rows: per facet value, run counts per Liu phase, fraction grokked, median t_val99
    (`analysis.cells.cell_stats` per facet value)."""
    pct = f"{EVENT_THRESHOLD:.0%}"
    header = [label(facet) if facet else "all", "runs", *LIU, f"grokked ({pct})", f"median {event_names()[1]}"]
    rows = []
    for c in cell_stats(df, [facet]):
        counts = c["liu_phase_counts"]
        rows.append([_fmt(c[facet]) if facet else "all", str(c["n"]), *[str(counts.get(k, 0)) for k in LIU],
                     f"{c['frac_reached']:.2f}", _fmt(c["median_t_val"]) if c["frac_reached"] else "-"])
    return header, rows


def sweep_phase_diagrams(sweep_dir: str | Path, x: str | None = None, y: str | None = None,
                         facet: str | None = None, threshold: float = LIU_THRESHOLD, delay: int = LIU_DELAY):
    """Phase diagrams of a sweep directory (its index is refreshed first).

    Axes are config keys (dotted or flattened: `optim.weight_decay` or `optim_weight_decay`);
    defaults come from the spec's [plot] table, else its first varied keys (seed keys last).
    Returns (written paths, runs DataFrame, (x, y, facet) as column names)."""
    import json

    from grokscope.store.db import ensure_index

    sweep_dir = Path(sweep_dir)
    meta = json.loads((sweep_dir / SWEEP).read_text())
    spec = meta.get("spec", {})
    plot = spec.get("plot", {})
    varied = [k for k, vals in meta.get("axes", {}).items() if len(vals) > 1]
    seed_keys = spec.get("seed_keys", [])
    order = [k for k in varied if k not in seed_keys] + [k for k in varied if k in seed_keys]
    x = x or plot.get("x")
    y = y or plot.get("y")
    facet = facet or plot.get("facet")
    chosen = [k for k in (x, y, facet) if k]
    rest = [k for k in order if k not in chosen]
    x = x or (rest.pop(0) if rest else None)
    y = y or (rest.pop(0) if rest else None)
    if facet is None and rest and rest[0] not in seed_keys:
        facet = rest[0]
    col = lambda k: column(k) if k else None  # noqa: E731
    df = label_runs(ensure_index(sweep_dir), threshold, delay)
    if len(df):
        df = df[df["run_id"].isin(set(meta.get("run_ids", [])))]
    if not (x and y) or not len(df):
        return [], df, (col(x), col(y), col(facet))
    for k in (x, y, facet):
        if k and col(k) not in df.columns:
            from grokscope.errors import GrokscopeError

            raise GrokscopeError(f"no column {col(k)!r} in the runs table for the phase diagram")
    paths = phase_diagrams(df, col(x), col(y), sweep_dir, facet=col(facet), title=meta.get("name", ""),
                           threshold=threshold, delay=delay)
    return paths, df, (col(x), col(y), col(facet))
