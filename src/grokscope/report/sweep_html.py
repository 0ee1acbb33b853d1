"""Self-contained HTML report of a sweep directory (sweep.json + one directory per run).

    grokscope report runs/<sweep>          (a directory with sweep.json)
    grokscope.report.write_sweep_report("runs/<sweep>")

Phase diagrams over the spec's plot axes (Liu phase, median t_val99, fraction grokked; one panel
per facet value), the distribution of t_val99, and a sortable table of every run that links to
its run report (written with `run_reports=True`, else linked where one exists). The index and the
phase labels come from `store.db` and `report.phase`; the static PNGs are report.phase's
phase_*.png, written beside the HTML.
"""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grokscope.report.figures import FONT, _axis, _layout
from grokscope.store.names import REPORT, SWEEP

log = logging.getLogger(__name__)

TABLE_COLS = ("status", "liu_phase", "t_train99", "t_val99", "delta_t", "final_train_acc", "final_test_acc",
              "steps", "stop_reason")


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


def write_sweep_report(path: str | Path, out: str | Path | None = None, *, run_reports: bool = False, x: str | None = None, y: str | None = None,
                       facet: str | None = None) -> Path:
    """Write `<sweep>/report.html` (or `out`); with `run_reports`, a run report (no PNGs) for every
    finished run first, so the table's links work. Returns the report's path."""
    from grokscope.report.html import render, script_json, write_run_report_safe
    from grokscope.report.phase import LIU, sweep_phase_diagrams
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
    varied = [c for c in (xc, yc, fc) if c]
    seed_cols = [c for c in ("train_seed", "task_data_seed") if c in df.columns and df[c].nunique() > 1] if len(df) else []
    table_cols = [*varied, *[c for c in seed_cols if c not in varied], *[c for c in TABLE_COLS if len(df) and c in df.columns]]
    if _add_forecasts(rows):  # the forecast made at 20% of the budget, beside what happened (t_val99)
        table_cols += ["forecast_p_groks", "forecast_t_val99"]
    table = []
    for r in sorted(rows, key=lambda r: tuple(str(r.get(c)) for c in varied)):
        run_path = Path(r["path"])
        rep = run_path / REPORT
        table.append({"run_id": r["run_id"], "href": os.path.relpath(rep if rep.exists() else run_path, base),
                      "has_report": rep.exists(), "cells": [_clean(r.get(c)) for c in table_cols]})
    figs = _figures(df, xc, yc, fc, LIU) if len(df) else {}
    phase_grid = _phase_grid(figs, df, fc)
    counts = {k: int((df["liu_phase"] == k).sum()) for k in LIU} if len(df) and "liu_phase" in df else {}
    html = render(
        "sweep.html.j2", name=meta.get("name", sweep_dir.name), meta=meta, n_runs=meta.get("n_runs", len(rows)),
        n_indexed=len(rows), axes=(xc, yc, fc), counts=counts, figs=figs, table_cols=table_cols, table=table,
        pngs=[os.path.relpath(p, base) for p in pngs], payload=script_json({"figs": figs}),
        phase_grid=phase_grid, measures=[m[1] for m in MEASURES],
        version=_version(), generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_reports=sum(t["has_report"] for t in table),
    )
    write_text(target, html)
    log.info("sweep report %s (%d runs)", target, len(rows))
    return target


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
            fc = forecast_run(r["path"], fraction=0.2, model=model)
        except GrokscopeError:
            continue  # a family the model does not know, too few points: the cells stay empty
        r["forecast_p_groks"], r["forecast_t_val99"] = round(fc.p_groks, 3), fc.t_val99
        made = True
    return made


# the phase-diagram grid's columns: (figure id prefix, column heading, what an empty cell means)
MEASURES = (("fig-liu", "Liu phase (most common over seeds)", "no finished run"),
            ("fig-tval", "median t_val99 of the runs that grokked (log10, one scale for all rows)",
             "no run reached 99% test accuracy"),
            ("fig-grok", "fraction of runs reaching 99% test accuracy", "no finished run"))


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
            row["label"] = f"{fc} = {f:g}" if isinstance(f, float) else f"{fc} = {f}"
    return rows


def _figures(df: Any, xc: str | None, yc: str | None, fc: str | None, liu: dict[str, str]) -> dict[str, Any]:
    import numpy as np

    figs: dict[str, Any] = {}
    done = df[df["status"] == "finished"] if "status" in df else df
    tv = done["t_val99"].astype(float) if "t_val99" in done else None
    if tv is not None and tv.notna().any():
        logs = np.log10(np.maximum(tv.dropna().to_numpy(), 1))
        figs["fig-tval-hist"] = {"data": [{"type": "histogram", "x": [round(v, 4) for v in logs.tolist()],
                                           "nbinsx": min(40, max(5, len(logs) // 2)), "marker": {"color": "#1f77b4"},
                                           "name": "runs"}],
                                 "layout": _layout(f"t_val99 of the {len(logs)} runs that reached 99% test accuracy "
                                                   f"({len(done) - len(logs)} did not)",
                                                   xaxis=_axis("log10 t_val99"), yaxis=_axis("runs"), showlegend=False)}
        if xc:
            boxes = []
            for val, g in done.groupby(xc):
                v = g["t_val99"].astype(float).dropna()
                if len(v):
                    boxes.append({"type": "box", "y": v.tolist(), "name": f"{val:g}" if isinstance(val, float) else str(val),
                                  "boxpoints": "all", "jitter": 0.4, "pointpos": 0, "marker": {"size": 4}})
            if boxes:
                figs["fig-tval-box"] = {"data": boxes, "layout": _layout(f"t_val99 by {xc}", xaxis=_axis(xc, type="category"),
                                                                         yaxis=_axis("t_val99", log=True), showlegend=False,
                                                                         hovermode="closest")}
    if not (xc and yc):
        return figs
    facets = sorted(done[fc].dropna().unique()) if fc else [None]
    order = list(liu)
    xs, ys = sorted(done[xc].dropna().unique()), sorted(done[yc].dropna().unique())
    lab = lambda v: f"{v:g}" if isinstance(v, float | np.floating) else str(v)  # noqa: E731
    n_col = len(order)
    liu_scale = []
    for i, color in enumerate(liu.values()):  # a step colour scale: one flat band per label
        liu_scale += [[i / n_col, color], [(i + 1) / n_col, color]]
    # t_val99 medians share one colour scale over every facet, so equal colours mean equal times
    # (Liu phases and the fraction grokked have fixed ranges already)
    tv_all = [v for v in done["t_val99"].astype(float).dropna()] if "t_val99" in done else []
    tv_range = ([round(float(np.log10(max(min(tv_all), 1))), 3), round(float(np.log10(max(max(tv_all), 1))), 3)]
                if tv_all else None)
    if tv_range and tv_range[1] <= tv_range[0]:
        tv_range[1] = tv_range[0] + 0.1
    for fi, f in enumerate(facets):
        sub = done if fc is None else done[done[fc] == f]
        z_phase, z_share, z_tv, z_grok = ([[None] * len(xs) for _ in ys] for _ in range(4))
        for (yv, xv), g in sub.groupby([yc, xc]):
            i, j = ys.index(yv), xs.index(xv)
            labels = [v for v in g["liu_phase"] if isinstance(v, str)] if "liu_phase" in g else []
            if labels:
                best = max(set(labels), key=lambda k: (labels.count(k), -order.index(k) if k in order else -99))
                z_phase[i][j] = order.index(best) if best in order else None
                z_share[i][j] = f"{best} ({labels.count(best)}/{len(labels)})"
            v = g["t_val99"].astype(float)
            z_tv[i][j] = round(float(np.log10(max(v.median(), 1))), 3) if v.notna().any() else None
            z_grok[i][j] = round(float(v.notna().mean()), 3)
        # the facet value is the grid row's heading in the page; titles stay short (and clear of the toolbar)
        title = f" · {fc} = {lab(f)}" if fc else ""
        common = dict(x=[lab(v) for v in xs], y=[lab(v) for v in ys], xgap=1, ygap=1)
        lay = lambda t: _layout(t, xaxis=_axis(xc, type="category"), yaxis=_axis(yc, type="category"),  # noqa: E731
                                height=340, hovermode="closest")
        figs[f"fig-liu-{fi}"] = {"data": [{"type": "heatmap", "z": z_phase, "text": z_share, "colorscale": liu_scale,
                                           "zmin": -0.5, "zmax": n_col - 0.5, "hovertemplate": "%{text}<extra></extra>",
                                           "colorbar": {"tickvals": list(range(n_col)), "ticktext": order, "thickness": 10},
                                           **common}],
                                 "layout": lay(f"Liu phase{title}")}
        if any(v is not None for row in z_tv for v in row):
            figs[f"fig-tval-{fi}"] = {"data": [{"type": "heatmap", "z": z_tv, "colorscale": "Viridis", "colorbar":
                                                {"title": {"text": "log10"}, "thickness": 10},
                                                "zmin": tv_range[0], "zmax": tv_range[1],
                                                "hovertemplate": "median log10 t_val99 %{z}<extra></extra>", **common}],
                                      "layout": lay(f"median t_val99{title}")}
        figs[f"fig-grok-{fi}"] = {"data": [{"type": "heatmap", "z": z_grok, "colorscale": "Viridis", "zmin": 0, "zmax": 1,
                                            "colorbar": {"thickness": 10},
                                            "hovertemplate": "grokked %{z}<extra></extra>", **common}],
                                  "layout": lay(f"fraction grokked{title}")}
    for spec in figs.values():
        spec["layout"].setdefault("font", FONT)
    return figs


def _version() -> str:
    from grokscope import __version__

    return __version__
