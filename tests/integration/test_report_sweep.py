"""The sweep report: phase diagrams, t_val99 distribution, curves of ticked runs, a sortable table
linking run reports; what it shows is named for people and states its thresholds (issue #26)."""

import html as htmlmod
import json
import re

import pytest

from grokscope.events import EVENT_THRESHOLD, LIU_THRESHOLD
from grokscope.keys import LABELS, column, label
from grokscope.report.sweep_html import write_sweep_report
from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import parse_spec

pytest.importorskip("duckdb")

AXES = ("optim.weight_decay", "task.frac_train")
SEEDS = ("train.seed", "task.data_seed")


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    """A 2 × 2 grid × 2 seeds of tiny MLPs, its report (with run reports) and the page's JSON."""
    spec = parse_spec({"base": "swaroop2026", "seeds": 2,
                       "set": {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
                               "train": {"steps": 60, "eval_every": 20}, "optim": {"lr": 3e-3}},
                       "grid": {"optim.weight_decay": [0.1, 1.0], "task.frac_train": [0.5, 0.7]}}, name="tiny")
    result = run_sweep(spec, tmp_path_factory.mktemp("s") / "sweep", workers=0)
    path = write_sweep_report(result.path, run_reports=True)
    html = path.read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    return path, html, data


def _heads(html):
    """(data-key, text) of the runs table's headings, in order (the run column's key is "run")."""
    thead = re.search(r'<table class="kv sortable" id="runs-table">\s*<thead>(.*?)</thead>', html, re.S).group(1)
    return [(m.group(1) or "run", htmlmod.unescape(re.sub(r"<[^>]+>", "", m.group(2))))
            for m in re.finditer(r'<th(?: data-key="([^"]+)")?[^>]*>(.*?)</th>', thead, re.S)]


def test_sweep_report(sweep_report):
    path, html, data = sweep_report
    assert html.count("plotly.js v") == 1 and not re.search(r"<script[^>]+src=", html)
    assert {"fig-liu-0", "fig-grok-0", "fig-curves"} <= set(data["figs"])
    grokked = any(v is not None for row in data["figs"]["fig-grok-0"]["data"][0]["z"] for v in row if v)
    assert ("fig-tval-0" in data["figs"]) == grokked  # median t_val99 only where some run grokked
    heat = data["figs"]["fig-liu-0"]["data"][0]
    assert len(heat["z"]) == 2 and len(heat["z"][0]) == 2  # 2 × 2 grid of cells
    links = re.findall(r'<a href="([^"]+/report\.html)">', html)
    assert len(links) == 8
    for link in links:
        assert (path.parent / link).exists()
    assert 'class="kv sortable"' in html


def test_axes_and_headings_are_named_for_people_not_by_database_columns(sweep_report):
    _, html, data = sweep_report
    columns = {column(k) for k in LABELS} | {column(k) for k in (*AXES, *SEEDS)}
    titles = {}
    for fid, fig in data["figs"].items():
        for ax in ("xaxis", "yaxis"):
            titles[(fid, ax)] = fig["layout"].get(ax, {}).get("title", {}).get("text", "")
    assert titles[("fig-liu-0", "xaxis")] == "weight decay" == label("optim.weight_decay")
    assert titles[("fig-liu-0", "yaxis")] == "train fraction" == label("task_frac_train")
    for (fid, ax), text in titles.items():
        assert not any(c in text for c in columns), (fid, ax, text)
        assert text.count("_") <= 1 and not re.search(r"\b(optim|task|model|train)_", text), (fid, ax, text)
    heads = dict(_heads(html))
    assert heads["optim_weight_decay"] == "weight decay" and heads["task_frac_train"] == "train fraction"
    assert heads["train_seed"] == "init seed" and heads["task_data_seed"] == "data seed"
    visible = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S))
    assert not any(c in visible for c in columns), [c for c in columns if c in visible]  # only in tooltips / JSON
    assert "x = weight decay, y = train fraction" in visible


def test_labels_are_defined_once_for_valid_config_keys():
    from grokscope.config import RunConfig
    from grokscope.keys import key_type

    for key in LABELS:
        if key != "preset":
            key_type(RunConfig, key)  # ConfigError for a key the config does not have
    assert len(set(LABELS.values())) == len(LABELS)  # two keys never read the same
    assert label("optim.lr") == label("optim_lr") == "learning rate"
    assert label("model.init_scale") == label("model_init_scale") == "init scale"  # no entry: the field's name


def test_every_panel_states_the_threshold_it_is_drawn_at():
    """A cell whose runs reach 90% but not 99% reads "grokking" (Liu, 90%) beside 0 runs reaching
    99%: the two panels say which threshold each uses, and the headings over the grid do too."""
    import pandas as pd

    from grokscope.report.phase import LIU
    from grokscope.report.sweep_html import MEASURES, _figures

    rows = [{"optim_weight_decay": wd, "task_frac_train": 0.5, "status": "finished", "liu_phase": "grokking",
             "t_val99": t, "run_id": f"r{wd}-{i}"} for wd, t in ((0.1, None), (1.0, 2000.0)) for i in range(2)]
    figs = _figures(pd.DataFrame(rows), "optim_weight_decay", "task_frac_train", None, LIU)
    liu, pct = f"{LIU_THRESHOLD:.0%}", f"{EVENT_THRESHOLD:.0%}"
    assert liu != pct
    assert liu in figs["fig-liu-0"]["layout"]["title"]["text"] and pct not in figs["fig-liu-0"]["layout"]["title"]["text"]
    for fid in ("fig-tval-0", "fig-grok-0"):
        title = figs[fid]["layout"]["title"]["text"]
        assert pct in title and liu not in title, title
    assert figs["fig-liu-0"]["data"][0]["text"][0][0] == "grokking (2/2)"
    assert figs["fig-grok-0"]["data"][0]["z"][0] == [0.0, 1.0]  # wd 0.1: "grokking" at 90%, none at 99%
    assert [liu in m[1] for m in MEASURES] == [True, False, False]
    assert [pct in m[1] for m in MEASURES] == [False, True, True]


def test_the_page_states_both_thresholds(sweep_report):
    _, html, data = sweep_report
    assert f"Liu phase at {LIU_THRESHOLD:.0%}" in html and f"test accuracy ≥ {EVENT_THRESHOLD:.0%}" in html
    heads = dict(_heads(html))
    assert f"{EVENT_THRESHOLD:.0%}" in heads["grokked"] and f"{LIU_THRESHOLD:.0%}" in heads["liu_phase"]


def test_table_puts_run_axes_and_events_first(sweep_report):
    _, html, _ = sweep_report
    keys = [k for k, _ in _heads(html)]
    first = ["run", *map(column, AXES), *map(column, SEEDS), "t_train99", "t_val99", "grokked", "stop_reason"]
    assert keys[:len(first)] == first, keys
    assert {"status", "liu_phase", "final_test_acc"} <= set(keys[len(first):])
    assert 'class="table-scroll"' in html  # the rest scrolls; the run column is sticky
    assert re.search(r"#runs-table td\.run[^{]*\{[^}]*position:\s*sticky", html)


def test_curves_of_the_ticked_runs_are_in_the_page(sweep_report):
    """One representative run per cell is ticked and drawn (test and train accuracy); every finished
    run's curve is in the page for ticking, at the steps and values the run logged."""
    import pyarrow.parquet as pq

    from grokscope.report.sweep_html import MAX_POINTS
    from grokscope.store.db import query

    path, html, data = sweep_report
    ticked = re.findall(r'<input type="checkbox" class="pick" value="([^"]+)"[^>]*\bchecked\b', html)
    runs = query("select run_id, path, optim_weight_decay, task_frac_train, t_train99, t_val99 from runs",
                 path.parent).to_dict("records")
    assert len(ticked) == 4 and len({(r["optim_weight_decay"], r["task_frac_train"]) for r in runs
                                     if r["run_id"] in ticked}) == 4  # one per cell
    traces = data["figs"]["fig-curves"]["data"]
    assert [t["meta"] for t in traces] == [[rid, part] for rid in ticked for part in ("test", "train")]
    assert set(data["curves"]) == {r["run_id"] for r in runs}
    for r in runs:
        c = data["curves"][r["run_id"]]
        logged = pq.read_table(f"{r['path']}/metrics.parquet").to_pylist()
        assert len(logged) <= MAX_POINTS  # so every logged step is drawn
        assert c["step"] == [max(row["step"], 1) for row in logged]  # step 0 is drawn at 1 on the log axis
        assert c["train"] == pytest.approx([row["train_acc"] for row in logged], rel=1e-3)
        assert c["test"] == pytest.approx([row["test_acc"] for row in logged], rel=1e-3)
        for ev in ("t_train99", "t_val99"):
            if r[ev] == r[ev] and r[ev] is not None:
                assert max(int(r[ev]), 1) in c["step"]
    for t in traces:
        assert t["x"] == data["curves"][t["meta"][0]]["step"] and t["y"] == data["curves"][t["meta"][0]][t["meta"][1]]
    assert set(sum(data["cell_runs"].values(), [])) == {r["run_id"] for r in runs}  # a click on a cell ticks its runs


def test_cell_stats_are_the_numbers_the_diagrams_draw():
    from grokscope.analysis.cells import cell_stats

    rows = [{"run_id": "a", "x": 1, "status": "finished", "liu_phase": "grokking", "t_val99": 100.0},
            {"run_id": "b", "x": 1, "status": "finished", "liu_phase": "grokking", "t_val99": 300.0},
            {"run_id": "c", "x": 1, "status": "finished", "liu_phase": "memorization", "t_val99": None},
            {"run_id": "d", "x": 1, "status": "failed", "liu_phase": None, "t_val99": None},
            {"run_id": "e", "x": 2, "status": "finished", "liu_phase": "memorization", "t_val99": float("nan")},
            {"run_id": "f", "x": 2, "status": "finished", "liu_phase": "confusion", "t_val99": None}]
    one, two = cell_stats(rows, ["x"])
    assert (one["x"], one["n"], one["liu_phase"], one["liu_phase_count"], one["liu_phase_n"]) == (1, 3, "grokking", 2, 3)
    assert one["median_t_val"] == 200.0 and one["n_reached"] == 2 and one["frac_reached"] == pytest.approx(2 / 3)
    assert one["representative"] == "a"  # 100 and 300 are as near the median; the first id wins
    assert two["liu_phase"] == "memorization"  # a 1–1 tie goes to the earlier Liu phase
    assert two["frac_reached"] == 0 and two["median_t_val"] != two["median_t_val"] and two["representative"] == "e"
    (all_,) = cell_stats(rows, [None])
    assert all_["n"] == 5 and all_["liu_phase_counts"] == {"grokking": 2, "memorization": 2, "confusion": 1}


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


def test_long_curves_are_thinned_but_keep_their_events():
    from grokscope.report.sweep_html import MAX_POINTS, _curves

    acc = {"r": [{"step": s, "train_acc": min(1.0, s / 500), "test_acc": min(1.0, s / 800)} for s in range(0, 3000, 3)]}
    (c,) = _curves(acc, [{"run_id": "r", "status": "finished", "t_train99": 495, "t_val99": 792}]).values()
    assert len(c["step"]) <= MAX_POINTS and c["step"][0] == 1 and c["step"][-1] == 2997
    assert {495, 792} <= set(c["step"])
    assert c["test"][c["step"].index(792)] == 0.99


def test_phase_pngs_name_their_axes_for_people():
    from matplotlib.figure import Figure

    from grokscope.report.phase import _axes, liu_title, reached_title

    ax = Figure().subplots()
    _axes(ax, [0.1, 1.0], [0.3, 0.5], "optim_weight_decay", "task_frac_train", "model_d_mlp", 64)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("weight decay", "train fraction",
                                                                  "hidden width (d_mlp) = 64")
    assert f"{LIU_THRESHOLD:.0%}" in liu_title() and f"{EVENT_THRESHOLD:.0%}" in reached_title()
