"""Self-contained HTML report of a sweep directory (sweep.json + one directory per run).

    grokscope report runs/<sweep>          (a directory with sweep.json)
    grokscope.report.write_sweep_report("runs/<sweep>")

Phase diagrams over the spec's plot axes (Liu phase, median t_val99, fraction reaching 99% test
accuracy; one row of panels per facet value), the distribution of t_val99, the accuracy curves of
the runs ticked in the table (one representative run per cell at first; clicking a cell of a
diagram shows its runs), and a sortable table of every run that links to its run report (written
with `run_reports=True`, else linked where one exists).

What it shows is true by construction: axes and headings are named by `keys.label` (never by
runs-table columns); every panel's title states the threshold it is drawn at (Liu's phases at
`events.LIU_THRESHOLD`, the events t_train99 / t_val99 and "grokked" at `events.EVENT_THRESHOLD`);
the per-cell numbers are `analysis.cells.cell_stats`; the index and the phase labels come from
`store.db` and `report.phase`; the static PNGs are report.phase's phase_*.png, written beside the HTML.
The table's first columns are the run, the swept axes, t_train99, t_val99, grokked and the stop
reason; the rest scrolls (the run column stays in view).
"""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grokscope.events import EVENT_THRESHOLD, LIU_DELAY, LIU_THRESHOLD, event_names
from grokscope.keys import column, label
from grokscope.report.figures import FONT, _axis, _layout
from grokscope.store.names import REPORT, SWEEP

log = logging.getLogger(__name__)

T_TRAIN, T_VAL = event_names(EVENT_THRESHOLD)
# after the run and the swept axes, in this order; then the rest (scrolled to)
TABLE_FIRST = (T_TRAIN, T_VAL, "grokked", "stop_reason")
TABLE_REST = ("status", "liu_phase", "delta_t", "final_train_acc", "final_test_acc", "steps")
HEADINGS = {  # what the table's non-config columns read as (config columns: keys.label)
    T_TRAIN: T_TRAIN, T_VAL: T_VAL, "grokked": f"grokked (test ≥ {EVENT_THRESHOLD:.0%})",
    "stop_reason": "stop reason", "status": "status", "liu_phase": f"Liu phase at {LIU_THRESHOLD:.0%}",
    "delta_t": "ΔT", "final_train_acc": "final train acc", "final_test_acc": "final test acc", "steps": "steps",
    "forecast_p_groks": "P(groks by horizon) at 20%", "forecast_t_val99": f"forecast {T_VAL} at 20%",
}
HEADING_TITLES = {  # their tooltips
    T_TRAIN: f"first evaluated step with train accuracy ≥ {EVENT_THRESHOLD:.0%}",
    T_VAL: f"first evaluated step with test accuracy ≥ {EVENT_THRESHOLD:.0%}",
    "grokked": f"{T_VAL} exists: test accuracy reached {EVENT_THRESHOLD:.0%}",
    "liu_phase": f"Liu et al.'s phase at {LIU_THRESHOLD:.0%} and a {LIU_DELAY}-step delay",
    "delta_t": f"{T_VAL} − {T_TRAIN}",
}
MAX_POINTS = 150  # points of one run's curve in the page (first, last and both events always kept)
MAX_SELECTED = 8  # runs ticked when the page opens (representatives of evenly spaced cells)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _missing(v: Any) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(v != v)
    except (TypeError, ValueError):
        return False


def _clean(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if _missing(v):
        return None
    if isinstance(v, float):
        return float(f"{v:.4g}")
    return v


def _lab(v: Any) -> str:
    v = _clean(v) if not isinstance(v, str) else v
    return f"{v:g}" if isinstance(v, float) else str(v)


def write_sweep_report(path: str | Path, out: str | Path | None = None, *, run_reports: bool = False, x: str | None = None, y: str | None = None,
                       facet: str | None = None) -> Path:
    """Write `<sweep>/report.html` (or `out`); with `run_reports`, a run report (no PNGs) for every
    finished run first, so the table's links work. Returns the report's path."""
    from grokscope.analysis.cells import cell_stats
    from grokscope.report.html import render, script_json, write_run_report_safe
    from grokscope.report.phase import LIU, accuracy_rows, liu_title, reached_title, sweep_phase_diagrams
    from grokscope.store.db import ensure_index
    from grokscope.store.files import write_text

    sweep_dir = Path(path)
    meta = json.loads((sweep_dir / SWEEP).read_text())
    pngs, df, (xc, yc, fc) = sweep_phase_diagrams(sweep_dir, x, y, facet)  # also (re)draws phase_*.png
    rows = df.to_dict("records") if len(df) else []
    if run_reports:
        for r in rows:
            if r.get("status") == "finished":
                write_run_report_safe(r["path"], png=False)
    target = Path(out) if out is not None else sweep_dir / REPORT
    base = target.parent.resolve()
    varied = _swept_columns(meta, (xc, yc, fc), df)
    table_cols = [*varied, *[c for c in (*TABLE_FIRST, *TABLE_REST) if len(df) and c in df.columns]]
    if _add_forecasts(rows):  # the forecast made at 20% of the steps trained, beside what happened (t_val99)
        table_cols += ["forecast_p_groks", "forecast_t_val99"]
    cells = cell_stats(df, [fc, yc, xc]) if len(df) else []
    selected = _representatives(cells)
    table = []
    for r in sorted(rows, key=lambda r: tuple(_sort_value(r.get(c)) for c in varied)):
        run_path = Path(r["path"])
        rep = run_path / REPORT
        table.append({"run_id": r["run_id"], "href": os.path.relpath(rep if rep.exists() else run_path, base),
                      "has_report": rep.exists(), "cells": [_clean(r.get(c)) for c in table_cols],
                      "finished": r.get("status") == "finished", "selected": r["run_id"] in selected})
    figs = _figures(df, xc, yc, fc, LIU) if len(df) else {}
    phase_grid = _phase_grid(figs, df, fc)
    curves = _curves(accuracy_rows(ensure_index(sweep_dir)) if len(df) else {}, rows)
    names = {r["run_id"]: _run_name(r, varied) for r in rows}
    ordered = [t["run_id"] for t in table if t["run_id"] in selected and t["run_id"] in curves]
    figs["fig-curves"] = _curves_figure(curves, ordered, names)
    cell_runs = {_cell_key(c, fc, yc, xc): c["run_ids"] for c in cells}
    whole = (cell_stats(df, []) or [None])[0] if len(df) else None  # every finished run as one group
    counts = {k: whole["liu_phase_counts"].get(k, 0) for k in LIU} if whole else {}
    n_done, n_reached = (whole["n"], whole["n_reached"]) if whole else (0, 0)
    html = render(
        "sweep.html.j2", name=meta.get("name", sweep_dir.name), meta=meta, n_runs=meta.get("n_runs", len(rows)),
        n_indexed=len(rows), axes=tuple(label(c) if c else None for c in (xc, yc, fc)), counts=counts, figs=figs,
        table_cols=[{"key": c, "head": HEADINGS.get(c) or label(c), "title": HEADING_TITLES.get(c, c.replace("_", ".", 1) if c in varied else "")}
                    for c in table_cols],
        table=table, pngs=[os.path.relpath(p, base) for p in pngs],
        payload=script_json({"figs": figs, "curves": curves, "names": names, "cell_runs": cell_runs,
                             "palette": PALETTE, "facets": _facet_labels(df, fc)}),
        phase_grid=phase_grid, measures=[m[1] for m in _measures()], liu_title=liu_title(), reached=reached_title(),
        n_done=n_done, n_reached=n_reached, t_val=T_VAL, t_train=T_TRAIN, event_pct=f"{EVENT_THRESHOLD:.0%}",
        liu_pct=f"{LIU_THRESHOLD:.0%}",
        version=_version(), generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_reports=sum(t["has_report"] for t in table), n_selected=len(ordered),
    )
    write_text(target, html)
    log.info("sweep report %s (%d runs)", target, len(rows))
    return target


def _swept_columns(meta: dict[str, Any], plot: tuple[str | None, ...], df: Any) -> list[str]:
    """The runs-table columns of the keys the sweep varies: the plot axes (x, y, facet), the other
    varied keys, then the seed keys."""
    spec = meta.get("spec", {})
    seed_keys = [column(k) for k in spec.get("seed_keys", [])]
    varied = [column(k) for k, vals in meta.get("axes", {}).items() if len(vals) > 1]
    out = [c for c in plot if c]
    out += [c for c in varied if c not in out and c not in seed_keys]
    out += [c for c in seed_keys if c in varied and c not in out]
    return [c for c in out if len(df) and c in df.columns]


def _facet_labels(df: Any, fc: str | None) -> list[str]:
    """The facet values as the heatmap rows (fig-*-<i>) are numbered, labelled as in `_cell_key`."""
    if not fc or not len(df):
        return [""]
    done = df[df["status"] == "finished"] if "status" in df else df
    return [_lab(f) for f in sorted(done[fc].dropna().unique())]


def _sort_value(v: Any) -> tuple:
    v = _clean(v)
    return (0, v, "") if isinstance(v, int | float) and not isinstance(v, bool) else (1, 0, str(v))


def _run_name(r: dict[str, Any], varied: list[str]) -> str:
    """A run in a legend: its swept values, named ("weight decay 0.1 · train fraction 0.5 · ...")."""
    return " · ".join(f"{label(c)} {_lab(r.get(c))}" for c in varied) or str(r["run_id"])


def _cell_key(c: dict[str, Any], fc: str | None, yc: str | None, xc: str | None) -> str:
    """The key of a cell in the page: facet, y and x values as the heatmaps label them, joined by '|'."""
    return "|".join(_lab(c[k]) if k else "" for k in (fc, yc, xc))


def _representatives(cells: list[dict[str, Any]]) -> set[str]:
    """One run per cell (`cell_stats`' representative), of at most MAX_SELECTED evenly spaced cells."""
    reps = [c["representative"] for c in cells]
    if len(reps) > MAX_SELECTED:
        reps = [reps[round(i * (len(reps) - 1) / (MAX_SELECTED - 1))] for i in range(MAX_SELECTED)]
    return set(reps)


def _curves(acc: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]) -> dict[str, dict[str, list]]:
    """run_id -> {"step", "train", "test"}: the finished runs' accuracy rows as the index holds them,
    at most MAX_POINTS steps each (evenly in index; the first, the last, t_train99 and t_val99 kept)."""
    from grokscope.report.data import pick_frames, sig

    out = {}
    for r in rows:
        got = acc.get(r["run_id"])
        if r.get("status") != "finished" or not got:
            continue
        keep = [int(r[k]) for k in (T_TRAIN, T_VAL) if not _missing(r.get(k))]
        by_step = {row["step"]: row for row in got}
        steps = pick_frames(list(by_step), MAX_POINTS, keep=keep)
        out[r["run_id"]] = {"step": [max(s, 1) for s in steps],  # step 0 drawn at 1 on the log axis
                            "train": sig([by_step[s].get("train_acc") for s in steps]),
                            "test": sig([by_step[s].get("test_acc") for s in steps])}
    return out


def _curve_traces(curves: dict[str, dict[str, list]], ids: list[str], names: dict[str, str]) -> list[dict[str, Any]]:
    """Two traces per run (test solid, train dashed; one colour per run, the legend entry on the test
    trace). The page's JS builds the same traces when the ticks change (`traces` in sweep.html.j2)."""
    out = []
    for i, rid in enumerate(ids):
        c, color = curves[rid], PALETTE[i % len(PALETTE)]
        for part, dash in (("test", None), ("train", "dash")):
            out.append({"type": "scatter", "mode": "lines", "x": c["step"], "y": c[part],
                        "name": f"{names.get(rid, rid)} ({rid})", "legendgroup": rid, "showlegend": part == "test",
                        "meta": [rid, part], "hovertemplate": f"{rid} {part} acc %{{y}} at step %{{x}}<extra></extra>",
                        "line": {"color": color, "width": 1.6, **({"dash": dash} if dash else {})}})
    return out


def _curves_figure(curves: dict[str, dict[str, list]], ids: list[str], names: dict[str, str]) -> dict[str, Any]:
    lay = _layout("accuracy of the ticked runs: test solid, train dashed", xaxis=_axis("step", log=True),
                  yaxis=_axis("accuracy", range=[-0.02, 1.02]), height=520, hovermode="closest",
                  legend={"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top", "font": {"size": 10}},
                  shapes=[{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": EVENT_THRESHOLD,
                           "y1": EVENT_THRESHOLD, "line": {"color": "#999", "width": 1, "dash": "dot"}}])
    lay["font"] = FONT
    return {"data": _curve_traces(curves, ids, names), "layout": lay}


def _add_forecasts(rows: list[dict[str, Any]]) -> bool:
    """Add forecast_p_groks / forecast_t_val99 (made at f = 0.2) to each finished row; False if none could be made."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import ForecastError, forecast_run, load_model

    try:
        model = load_model()
    except ForecastError:
        return False
    made = False
    for r in rows:
        if r.get("status") != "finished":
            continue
        try:
            fc, _ = forecast_run(r["path"], fraction=0.2, model=model)
        except GrokscopeError:
            continue  # a family the model does not know, too few points: the cells stay empty
        r["forecast_p_groks"], r["forecast_t_val99"] = round(fc.p_groks, 3), fc.t_val99
        made = True
    return made


def _measures() -> tuple[tuple[str, str, str], ...]:
    """The phase-diagram grid's columns: (figure id prefix, column heading, what an empty cell means);
    each heading states the threshold its panel is drawn at."""
    from grokscope.report.phase import liu_title, reached_title

    return (("fig-liu", f"{liu_title()}: most common over seeds", "no finished run"),
            ("fig-tval", f"median {T_VAL} of the runs reaching {reached_title()} (log10, one scale for all rows)",
             f"no run reached {reached_title()}"),
            ("fig-grok", f"fraction of runs reaching {reached_title()} (grokked)", "no finished run"))


MEASURES = _measures()


def _phase_grid(figs: dict[str, Any], df: Any, fc: str | None) -> list[dict[str, Any]]:
    """Rows of the phase-diagram grid, one per facet value in sorted order (a single row without a
    facet): {"label", "cells": [(figure id or None, text for an empty cell)] in MEASURES order}."""
    rows = []
    fi = 0
    while f"fig-liu-{fi}" in figs:
        rows.append({"label": "", "cells": [(f"{pre}-{fi}" if f"{pre}-{fi}" in figs else None, empty)
                                            for pre, _, empty in MEASURES]})
        fi += 1
    if fc and len(df):
        done = df[df["status"] == "finished"] if "status" in df else df
        for row, f in zip(rows, sorted(done[fc].dropna().unique())):
            row["label"] = f"{label(fc)} = {_lab(f)}"
    return rows


def _figures(df: Any, xc: str | None, yc: str | None, fc: str | None, liu: dict[str, str]) -> dict[str, Any]:
    """The page's plotly figures: t_val99 histogram and box plot, and per facet value the three phase
    heatmaps, drawn from `analysis.cells.cell_stats`."""
    import numpy as np

    from grokscope.analysis.cells import cell_stats
    from grokscope.report.phase import reached_title

    figs: dict[str, Any] = {}
    done = df[df["status"] == "finished"] if "status" in df else df
    tv = done[T_VAL].astype(float) if T_VAL in done else None
    if tv is not None and tv.notna().any():
        logs = np.log10(np.maximum(tv.dropna().to_numpy(), 1))  # drawn on a log10 axis
        figs["fig-tval-hist"] = {"data": [{"type": "histogram", "x": [round(v, 4) for v in logs.tolist()],
                                           "nbinsx": min(40, max(5, len(logs) // 2)), "marker": {"color": "#1f77b4"},
                                           "name": "runs"}],
                                 "layout": _layout(f"{T_VAL} of the {len(logs)} runs reaching {reached_title()} "
                                                   f"({len(done) - len(logs)} did not)",
                                                   xaxis=_axis(f"log10 {T_VAL}"), yaxis=_axis("runs"), showlegend=False)}
        if xc:
            boxes = []
            for val, g in done.groupby(xc):
                v = g[T_VAL].astype(float).dropna()
                if len(v):
                    boxes.append({"type": "box", "y": v.tolist(), "name": _lab(val),
                                  "boxpoints": "all", "jitter": 0.4, "pointpos": 0, "marker": {"size": 4}})
            if boxes:
                figs["fig-tval-box"] = {"data": boxes, "layout": _layout(f"{T_VAL} by {label(xc)}",
                                                                         xaxis=_axis(label(xc), type="category"),
                                                                         yaxis=_axis(T_VAL, log=True), showlegend=False,
                                                                         hovermode="closest")}
    if not (xc and yc):
        return figs
    facets = sorted(done[fc].dropna().unique()) if fc else [None]
    order = list(liu)
    xs, ys = sorted(done[xc].dropna().unique()), sorted(done[yc].dropna().unique())
    n_col = len(order)
    liu_scale = []
    for i, color in enumerate(liu.values()):  # a step colour scale: one flat band per label
        liu_scale += [[i / n_col, color], [(i + 1) / n_col, color]]
    cells = {(c[fc] if fc else None, c[yc], c[xc]): c for c in cell_stats(done, [fc, yc, xc])}
    # median t_val99 shares one colour scale over every facet, so equal colours mean equal times
    # (Liu phases and the fraction grokked have fixed ranges already)
    tv_all = [c["median_t_val"] for c in cells.values() if not math.isnan(c["median_t_val"])]
    tv_range = ([round(math.log10(max(min(tv_all), 1)), 3), round(math.log10(max(max(tv_all), 1)), 3)]
                if tv_all else None)
    if tv_range and tv_range[1] <= tv_range[0]:
        tv_range[1] = tv_range[0] + 0.1
    reached = reached_title()
    for fi, f in enumerate(facets):
        z_phase, z_share, z_tv, z_grok, z_n = ([[None] * len(xs) for _ in ys] for _ in range(5))
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                c = cells.get((f, yv, xv))
                if c is None:
                    continue
                if c["liu_phase"] is not None:
                    z_phase[i][j] = order.index(c["liu_phase"]) if c["liu_phase"] in order else None
                    z_share[i][j] = f"{c['liu_phase']} ({c['liu_phase_count']}/{c['liu_phase_n']})"
                z_tv[i][j] = None if math.isnan(c["median_t_val"]) else round(math.log10(max(c["median_t_val"], 1)), 3)
                z_grok[i][j] = round(c["frac_reached"], 3)
                z_n[i][j] = f"{c['n_reached']}/{c['n']}"
        # the facet value is the grid row's heading in the page; titles stay short (and clear of the toolbar)
        title = f" · {label(fc)} = {_lab(f)}" if fc else ""
        common = dict(x=[_lab(v) for v in xs], y=[_lab(v) for v in ys], xgap=1, ygap=1)
        lay = lambda t: _layout(t, xaxis=_axis(label(xc), type="category"), yaxis=_axis(label(yc), type="category"),  # noqa: E731
                                height=340, hovermode="closest")
        figs[f"fig-liu-{fi}"] = {"data": [{"type": "heatmap", "z": z_phase, "text": z_share, "colorscale": liu_scale,
                                           "zmin": -0.5, "zmax": n_col - 0.5, "hovertemplate": "%{text}<extra></extra>",
                                           "colorbar": {"tickvals": list(range(n_col)), "ticktext": order, "thickness": 10},
                                           **common}],
                                 "layout": lay(f"Liu phase at {LIU_THRESHOLD:.0%}{title}")}
        if any(v is not None for row in z_tv for v in row):
            figs[f"fig-tval-{fi}"] = {"data": [{"type": "heatmap", "z": z_tv, "colorscale": "Viridis", "colorbar":
                                                {"title": {"text": "log10"}, "thickness": 10},
                                                "zmin": tv_range[0], "zmax": tv_range[1],
                                                "hovertemplate": f"median log10 {T_VAL} %{{z}}<extra></extra>", **common}],
                                      "layout": lay(f"median {T_VAL} (test ≥ {EVENT_THRESHOLD:.0%}){title}")}
        figs[f"fig-grok-{fi}"] = {"data": [{"type": "heatmap", "z": z_grok, "text": z_n, "colorscale": "Viridis",
                                            "zmin": 0, "zmax": 1, "colorbar": {"thickness": 10},
                                            "hovertemplate": f"%{{text}} runs reached {reached}<extra></extra>", **common}],
                                  "layout": lay(f"fraction with test ≥ {EVENT_THRESHOLD:.0%}{title}")}
    for spec in figs.values():
        spec["layout"].setdefault("font", FONT)
    return figs


def _version() -> str:
    from grokscope import __version__

    return __version__
