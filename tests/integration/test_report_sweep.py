"""The sweep report: phase diagrams, t_val99 distribution, a sortable table linking run reports."""

import json
import re

import pytest

from grokscope.report.sweep_html import write_sweep_report
from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import parse_spec

pytest.importorskip("duckdb")




def test_sweep_report(tmp_path):
    spec = parse_spec({"base": "swaroop2026", "seeds": 2,
                       "set": {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
                               "train": {"steps": 60, "eval_every": 20}, "optim": {"lr": 3e-3}},
                       "grid": {"optim.weight_decay": [0.1, 1.0], "task.frac_train": [0.5, 0.7]}}, name="tiny")
    result = run_sweep(spec, tmp_path / "sweep", workers=0)
    path = write_sweep_report(result.path, run_reports=True)
    html = path.read_text()
    assert html.count("plotly.js v") == 1 and not re.search(r"<script[^>]+src=", html)
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert {"fig-liu-0", "fig-grok-0"} <= set(data["figs"])
    grokked = any(v is not None for row in data["figs"]["fig-grok-0"]["data"][0]["z"] for v in row if v)
    assert ("fig-tval-0" in data["figs"]) == grokked  # median t_val99 only where some run grokked
    heat = data["figs"]["fig-liu-0"]["data"][0]
    assert len(heat["z"]) == 2 and len(heat["z"][0]) == 2  # 2 × 2 grid of cells
    links = re.findall(r'<a href="([^"]+/report\.html)">', html)
    assert len(links) == 8
    for link in links:
        assert (path.parent / link).exists()
    assert 'class="kv sortable"' in html and "optim_weight_decay" in html


def test_phase_grid_rows_follow_the_facet_and_share_the_t_val99_scale():
    import pandas as pd

    from grokscope.report.phase import LIU
    from grokscope.report.sweep_html import _figures, _phase_grid

    rows = []
    for width, t in ((96, 1000.0), (24, None), (48, 100_000.0)):  # width 24: nothing grokked
        for wd in (0.1, 1.0):
            for frac in (0.3, 0.5):
                rows.append({"width": width, "wd": wd, "frac": frac, "status": "finished", "t_val99": t,
                             "liu_phase": "grokking" if t else "memorization"})
    df = pd.DataFrame(rows)
    figs = _figures(df, "wd", "frac", "width", LIU)
    grid = _phase_grid(figs, df, "width")
    assert [r["label"] for r in grid] == ["width = 24", "width = 48", "width = 96"]
    assert [c[0] for c in grid[0]["cells"]] == ["fig-liu-0", None, "fig-grok-0"]  # the empty cell keeps its column
    assert [c[0] for c in grid[2]["cells"]] == ["fig-liu-2", "fig-tval-2", "fig-grok-2"]
    scales = {(figs[f"fig-tval-{i}"]["data"][0]["zmin"], figs[f"fig-tval-{i}"]["data"][0]["zmax"]) for i in (1, 2)}
    assert scales == {(3.0, 5.0)}  # log10 1000 .. log10 100000, the same for both rows


def test_sweep_labels_are_the_events_functions_on_each_runs_rows(tmp_path):
    """`label_runs` at any threshold / delay gives what `grokscope.events` gives on the run's own
    metrics rows (NaN never crosses); the report holds no second implementation of the events."""
    import math

    import pyarrow as pa
    import pyarrow.parquet as pq

    from grokscope.events import doshi_phase, liu_phase
    from grokscope.presets import load_preset
    from grokscope.report.phase import label_runs
    from grokscope.store.db import build_index

    curves = {  # (step, train_acc, test_acc)
        0.1: [(0, 0.0, 0.0), (400, 0.95, math.nan), (900, 1.0, 0.85), (2500, 1.0, 0.97)],
        1.0: [(0, 0.0, 0.0), (300, 0.8, 0.8), (600, 0.92, 0.91), (4000, 0.99, 0.999)],
        3.0: [(0, 0.1, 0.0), (5000, math.nan, 0.2)],
    }
    rows_of = {}
    for wd, curve in curves.items():
        cfg = load_preset("pair2023").override([f"optim.weight_decay={wd}", "task.noise=0.2"])
        d = tmp_path / cfg.run_id
        d.mkdir()
        (d / "config.json").write_text(cfg.to_json())
        rows = [{"step": s, "train_acc": tr, "test_acc": te, "train_loss": 1.0, "test_loss": 1.0} for s, tr, te in curve]
        pq.write_table(pa.Table.from_pylist(rows), d / "metrics.parquet")
        (d / "summary.json").write_text(json.dumps({"run_id": cfg.run_id, "final_train_acc": curve[-1][1],
                                                    "final_test_acc": curve[-1][2], "steps": curve[-1][0]}))
        rows_of[cfg.run_id] = rows
    db = build_index(tmp_path)
    seen = set()
    for threshold, delay in ((0.9, 1000), (0.95, 3000), (0.5, 100), (0.99, 10_000)):
        df = label_runs(db, threshold=threshold, delay=delay)
        for r in df.to_dict("records"):
            rows = rows_of[r["run_id"]]
            assert r["liu_phase"] == liu_phase(rows, threshold, delay), (threshold, delay, r["run_id"])
            last = rows[-1]
            want = doshi_phase(last["train_acc"], last["test_acc"], 0.2, threshold)
            assert r["doshi_phase"] == want
            seen.add(r["liu_phase"])
    assert len(seen) >= 3  # the cases exercise different labels
