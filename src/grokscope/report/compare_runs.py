"""One self-contained page that overlays several runs, the first thing to look at after two runs.

    grokscope report RUN_A RUN_B [...] [--out compare.html]
    grokscope.report.write_compare_report(["runs/a", "runs/b"], "compare.html")

It shows, for every run in its own colour:
  accuracy   train (dashed) and test (solid) accuracy against step (log x), with markers at
             t_train99 (triangle) and t_val99 (circle), the events of `grokscope.events`
  loss       train (dashed) and test (solid) loss against step (log x, log y)
  config     the dotted config keys whose values differ between the runs (`keys.differing`),
             named by `keys.label`, one column per run; the keys they share are listed below it
  events     t_train99, t_val99, ΔT, grokked, Liu phase, stop reason, final accuracies side by side
A finished run's events are its summary.json's; an unfinished run's are `events.summarize` and
`events.liu_phase` of the rows it has logged so far (marked "unfinished"). Nothing is computed here.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grokscope.errors import GrokscopeError
from grokscope.events import EVENT_THRESHOLD, event_names, liu_phase, summarize
from grokscope.keys import differing, flatten, label
from grokscope.report.figures import FONT, _axis, _layout
from grokscope.store.names import CONFIG, METRICS_JSONL, METRICS_PARQUET, REPORT, SWEEP

log = logging.getLogger(__name__)

DEFAULT_OUT = "compare.html"  # in the current directory (the CLI's --out default)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
T_TRAIN, T_VAL = event_names(EVENT_THRESHOLD)
CURVES = (("acc", "train_acc", "train", "dash"), ("acc", "test_acc", "test", None),
          ("loss", "train_loss", "train", "dash"), ("loss", "test_loss", "test", None))
MARKERS = ((T_TRAIN, "train_acc", "triangle-up"), (T_VAL, "test_acc", "circle"))
EVENT_ROWS = (  # (key, what the events table calls it)
    (T_TRAIN, f"{T_TRAIN}: train accuracy ≥ {EVENT_THRESHOLD:.0%}"),
    (T_VAL, f"{T_VAL}: test accuracy ≥ {EVENT_THRESHOLD:.0%}"),
    ("delta_t", f"ΔT = {T_VAL} − {T_TRAIN}"),
    ("grokked", f"grokked (test accuracy ≥ {EVENT_THRESHOLD:.0%})"),
    ("liu_phase", "LIU"),  # report.phase.liu_title(), as the sweep report words it
    ("stop_reason", "stopped because"), ("steps", "steps trained"),
    ("final_train_acc", "final train accuracy"), ("final_test_acc", "final test accuracy"),
    ("best_test_acc", "best test accuracy"), ("final_test_loss", "final test loss"),
    ("wall_s", "training wall time (s)"),
)

ALWAYS = (T_TRAIN, T_VAL, "delta_t", "grokked", "liu_phase", "stop_reason")  # rows shown even when empty (— = never)


class CompareError(GrokscopeError):
    """The runs given cannot be compared (not run directories, fewer than two, the same run twice)."""


def check_run_dirs(paths: list[str | Path]) -> list[Path]:
    """The paths as run directories, or CompareError with a one-line reason: fewer than two, a path
    that is not a directory, a sweep directory, a directory without config.json or without metrics,
    the same run directory twice."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise CompareError(f"comparing runs needs at least two run directories, got {len(paths)}")
    seen: dict[Path, Path] = {}
    for p in paths:
        if not p.is_dir():
            raise CompareError(f"{p} is not a run directory (no such directory)")
        if (p / SWEEP).exists():
            raise CompareError(f"{p} is a sweep directory, not a run: compare its run directories, "
                               f"or write its sweep report with `grokscope report {p}`")
        if not (p / CONFIG).exists():
            raise CompareError(f"{p} is not a run directory (no {CONFIG})")
        if not ((p / METRICS_PARQUET).exists() or (p / METRICS_JSONL).exists()):
            raise CompareError(f"{p} has no metrics yet (no {METRICS_PARQUET} or {METRICS_JSONL})")
        if p.resolve() in seen:
            raise CompareError(f"{p} is given twice (as {seen[p.resolve()]}); compare different runs")
        seen[p.resolve()] = p
    return paths


def _run(path: Path) -> dict[str, Any]:
    """What the page shows of one run: config, rows, events (summary.json, else `events` of the rows)."""
    from grokscope.store.rundir import read_config, read_metrics, read_summary

    cfg = read_config(path)
    rows = read_metrics(path)
    if not rows:
        raise CompareError(f"{path} has no metrics rows yet; nothing to draw")
    summary = read_summary(path)
    finished = summary is not None
    events = dict(summary) if finished else summarize(rows)
    events.setdefault("steps", rows[-1]["step"])
    if not finished:
        events["stop_reason"] = "unfinished (no summary.json yet)"
    events["liu_phase"] = liu_phase(rows)  # Liu's rule on the rows (the index applies the same function)
    return {"path": path, "run_id": (summary or {}).get("run_id") or cfg.run_id, "config": cfg.to_dict(),
            "rows": rows, "events": events, "finished": finished}


def _traces(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per figure ("acc", "loss"): one trace per run per curve (meta = [run_id, curve]) and, on the
    accuracy figure, one marker trace per run at its events (meta = [run_id, "events"])."""
    from grokscope.report.data import sig

    out: dict[str, list[dict[str, Any]]] = {"acc": [], "loss": []}
    for i, r in enumerate(runs):
        color, rid, rows = PALETTE[i % len(PALETTE)], r["run_id"], r["rows"]
        x = [max(row["step"], 1) for row in rows]  # step 0 drawn at 1 on the log axis
        for fig, key, part, dash in CURVES:
            if not any(key in row for row in rows):
                continue
            out[fig].append({"type": "scatter", "mode": "lines", "x": x, "y": sig([row.get(key) for row in rows]),
                             "name": r["name"] if part == "test" else f"{r['name']} {part}", "legendgroup": rid,
                             "meta": [rid, key],
                             "showlegend": part == "test",
                             "hovertemplate": f"{r['name']} {part} %{{y}} at step %{{x}}<extra></extra>",
                             "line": {"color": color, "width": 1.6, **({"dash": dash} if dash else {})}})
        at = {row["step"]: row for row in rows}
        ex, ey, etext, esym = [], [], [], []
        for event, key, symbol in MARKERS:
            step = r["events"].get(event)
            if step is None or step not in at:
                continue
            ex.append(max(step, 1))
            ey.append(sig(at[step].get(key)))
            etext.append(f"{event} = {step:,}")
            esym.append(symbol)
        out["acc"].append({"type": "scatter", "mode": "markers", "x": ex, "y": ey, "text": etext,
                           "name": f"{r['name']} events", "legendgroup": rid, "meta": [rid, "events"],
                           "showlegend": False, "hovertemplate": f"{r['name']}: %{{text}}<extra></extra>",
                           "marker": {"color": color, "size": 10, "symbol": esym,
                                      "line": {"color": "white", "width": 1}}})
    return out


def _figures(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    traces = _traces(runs)
    legend = {"orientation": "h", "y": -0.2, "font": {"size": 11}}
    acc = _layout(f"accuracy: test solid, train dashed; ▲ {T_TRAIN}, ● {T_VAL}", xaxis=_axis("step", log=True),
                  yaxis=_axis("accuracy", range=[-0.02, 1.02]), hovermode="closest", height=440, legend=legend,
                  shapes=[{"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": EVENT_THRESHOLD,
                           "y1": EVENT_THRESHOLD, "line": {"color": "#999", "width": 1, "dash": "dot"}}])
    loss = _layout("loss: test solid, train dashed", xaxis=_axis("step", log=True), yaxis=_axis("loss", log=True),
                   hovermode="closest", height=440, legend=legend)
    for lay in (acc, loss):
        lay["font"] = FONT
    return {"fig-acc": {"data": traces["acc"], "layout": acc}, "fig-loss": {"data": traces["loss"], "layout": loss}}


def _value(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, list | dict) else v


def write_compare_report(paths: list[str | Path], out: str | Path | None = None) -> Path:
    """Write the comparison page of the run directories `paths` (at least two) to `out` (default
    ./compare.html); returns its path. CompareError (one line) for input that is not two or more
    distinct run directories."""
    from grokscope.report.html import fmt, render, script_json
    from grokscope.report.phase import liu_title
    from grokscope.store.files import write_text

    t0 = datetime.now(UTC)
    runs = [_run(p) for p in check_run_dirs(paths)]
    target = Path(out) if out is not None else Path(DEFAULT_OUT)
    if target.is_dir():
        raise CompareError(f"--out {target} is a directory; name the HTML file, e.g. {target / DEFAULT_OUT}")
    base = target.resolve().parent
    ids = [r["run_id"] for r in runs]
    for i, r in enumerate(runs):
        # the same run id twice (copies of one run): tell them apart by position
        r["name"] = r["run_id"] if ids.count(r["run_id"]) == 1 else f"{r['run_id']} #{i + 1}"
        r["color"] = PALETTE[i % len(PALETTE)]
        rep = r["path"] / REPORT
        r["href"] = os.path.relpath((rep if rep.exists() else r["path"]).resolve(), base)
    configs = [r["config"] for r in runs]
    diff_keys = differing(configs)
    flat = [flatten(c) for c in configs]
    diff_rows = [{"key": k, "label": label(k), "cells": [fmt(_value(f.get(k))) for f in flat]} for k in diff_keys]
    same = [(k, label(k), fmt(_value(flat[0][k]))) for k in flat[0] if k not in diff_keys]
    event_rows = [{"key": k, "label": liu_title() if text == "LIU" else text, "cells": [fmt(r["events"].get(k)) for r in runs]} for k, text in EVENT_ROWS
                  if k in ALWAYS or any(r["events"].get(k) is not None for r in runs)]
    figs = _figures(runs)
    html = render(
        "compare_runs.html.j2", runs=runs, figs=figs, diff_rows=diff_rows, same=same, event_rows=event_rows,
        payload=script_json({"figs": figs, "runs": [{"run_id": r["run_id"], "name": r["name"], "path": str(r["path"])}
                                                     for r in runs],
                             "differing": diff_keys}),
        version=_version(), generated=t0.strftime("%Y-%m-%d %H:%M UTC"), t_train=T_TRAIN, t_val=T_VAL,
        event_pct=f"{EVENT_THRESHOLD:.0%}",
    )
    write_text(target, html)
    log.info("compare report %s (%d runs)", target, len(runs))
    return target


def _version() -> str:
    from grokscope import __version__

    return __version__
