"""`grokscope report RUN_A RUN_B ...`: one page overlaying several runs' curves and events, beside the
config values that differ (issue #26)."""

import html as htmlmod
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.events import summarize
from grokscope.presets import load_preset
from grokscope.report.compare_runs import CompareError, write_compare_report
from grokscope.report.html import fmt

# (step, train_acc, test_acc): run a memorises at 200 and generalises at 1000; b at 100 and 400;
# c (unfinished: metrics.jsonl only) memorises at 300 and has not generalised yet
CURVES = {
    "a": [(0, 0.0, 0.0), (100, 0.5, 0.1), (200, 0.995, 0.2), (500, 1.0, 0.6), (1000, 1.0, 0.992), (2000, 1.0, 1.0)],
    "b": [(0, 0.0, 0.0), (100, 0.991, 0.3), (400, 1.0, 0.999), (800, 1.0, 1.0)],
    "c": [(0, 0.0, 0.0), (300, 0.999, 0.05), (600, 1.0, 0.4)],
}
SETS = {"a": ["optim.weight_decay=1.0"], "b": ["optim.weight_decay=0.3", "optim.lr=0.003"],
        "c": ["optim.weight_decay=1.0", "train.seed=3"]}
EVENTS = {"a": (200, 1000), "b": (100, 400), "c": (300, None)}  # (t_train99, t_val99)


def _rows(curve):
    return [{"step": s, "train_acc": tr, "test_acc": te, "train_loss": 2.0 - tr, "test_loss": 2.5 - 2 * te}
            for s, tr, te in curve]


def _write_run(root, name, finished=True):
    cfg = load_preset("swaroop2026").override(["task.p=11", *SETS[name]])
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(cfg.to_json())
    rows = _rows(CURVES[name])
    if finished:
        pq.write_table(pa.Table.from_pylist(rows), d / "metrics.parquet")
        (d / "summary.json").write_text(json.dumps(summarize(rows, run_id=cfg.run_id, stop_reason="max_steps",
                                                             steps=rows[-1]["step"])))
    else:
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@pytest.fixture
def runs(tmp_path):
    return [_write_run(tmp_path / "runs", n, finished=n != "c") for n in ("a", "b", "c")]


def _page(path):
    html = path.read_text()
    return html, json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))


def _table(html, table_id):
    """{data-key: [cell texts]} of a table's body rows."""
    body = re.search(rf'<table class="cmp" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    out = {}
    for m in re.finditer(r'<tr data-key="([^"]+)">(.*?)</tr>', body, re.S):
        cells = re.findall(r'<td class="v">(.*?)</td>', m.group(2), re.S)
        out[m.group(1)] = [htmlmod.unescape(c) for c in cells]
    return out


def test_one_trace_per_run_per_curve_and_events_at_their_steps(runs, tmp_path):
    path = write_compare_report(runs, tmp_path / "cmp.html")
    html, data = _page(path)
    assert html.count("plotly.js v") == 1 and not re.search(r"<script[^>]+src=", html)
    ids = [r["run_id"] for r in data["runs"]]
    assert len(set(ids)) == 3
    acc, loss = data["figs"]["fig-acc"], data["figs"]["fig-loss"]
    assert sorted(tuple(t["meta"]) for t in acc["data"]) == sorted(
        (rid, k) for rid in ids for k in ("train_acc", "test_acc", "events"))
    assert sorted(tuple(t["meta"]) for t in loss["data"]) == sorted(
        (rid, k) for rid in ids for k in ("train_loss", "test_loss"))
    assert acc["layout"]["xaxis"]["type"] == "log" and loss["layout"]["xaxis"]["type"] == "log"
    by = {tuple(t["meta"]): t for t in acc["data"] + loss["data"]}
    for rid, name in zip(ids, ("a", "b", "c"), strict=True):
        rows = _rows(CURVES[name])
        assert by[(rid, "test_acc")]["x"] == [max(r["step"], 1) for r in rows]
        assert by[(rid, "test_acc")]["y"] == [r["test_acc"] for r in rows]
        assert by[(rid, "train_loss")]["y"] == [r["train_loss"] for r in rows]
        t_train, t_val = EVENTS[name]
        ev = by[(rid, "events")]
        assert ev["x"] == [s for s in (t_train, t_val) if s is not None]
        at = {r["step"]: r for r in rows}
        assert ev["y"] == [at[t_train]["train_acc"], *([at[t_val]["test_acc"]] if t_val else [])]
        colors = {by[(rid, k)]["line"]["color"] for k in ("train_acc", "test_acc", "train_loss", "test_loss")}
        assert colors == {ev["marker"]["color"]}  # one colour per run across both figures
    events = _table(html, "events-table")
    assert events["t_train99"] == ["200", "100", "300"] and events["t_val99"] == [fmt(1000), "400", "—"]
    assert events["delta_t"] == ["800", "300", "—"] and events["grokked"] == ["yes", "yes", "no"]
    assert events["stop_reason"][2].startswith("unfinished")


def test_the_config_table_lists_exactly_the_differing_keys(runs, tmp_path):
    html, data = _page(write_compare_report(runs, tmp_path / "cmp.html"))
    diff = _table(html, "config-diff")
    assert set(diff) == set(data["differing"]) == {"optim.weight_decay", "optim.lr", "train.seed"}
    assert diff["optim.weight_decay"] == ["1", "0.3", "1"] and diff["train.seed"] == ["0", "0", "3"]
    assert "weight decay<code>optim.weight_decay</code>" in html  # named for people, with the key beside it
    html2, data2 = _page(write_compare_report(runs[:2], tmp_path / "two.html"))
    assert set(_table(html2, "config-diff")) == set(data2["differing"]) == {"optim.weight_decay", "optim.lr"}


def test_bad_input_is_one_line(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    for bad, says in ((runs[:1], "at least two"), ([runs[0], tmp_path / "nope"], "not a run directory"),
                      ([runs[0], tmp_path / "empty"], "no config.json"), ([runs[0], tmp_path / "sweep"], "sweep directory"),
                      ([runs[0], runs[0]], "given twice")):
        with pytest.raises(CompareError, match=says):
            write_compare_report(bad, tmp_path / "x.html")


def _invoke(args):
    result = CliRunner().invoke(app, ["report", *map(str, args)])
    return result.exit_code, result.output


def test_cli_compares_runs_into_compare_html_by_default(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = _invoke(runs[:2])
    assert code == 0, out
    html, data = _page(tmp_path / "compare.html")  # the default: compare.html in the current directory
    assert len(data["runs"]) == 2
    code, out = _invoke([*runs, "--out", tmp_path / "sub" / "three.html"])
    assert code == 0, out
    assert len(_page(tmp_path / "sub" / "three.html")[1]["runs"]) == 3


@pytest.mark.parametrize("case", ["missing", "not_a_run", "sweep", "twice", "run_reports"])
def test_cli_bad_input_is_one_red_line_and_exit_2(case, runs, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "sweep.json").write_text("{}")
    args = {"missing": [runs[0], tmp_path / "nope"], "not_a_run": [runs[0], tmp_path / "empty"],
            "sweep": [runs[0], tmp_path / "sw"], "twice": [runs[0], runs[0]],
            "run_reports": [runs[0], runs[1], "--run-reports"]}[case]
    code, out = _invoke([*args, "--out", tmp_path / "x.html"])
    assert code == 2, out
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), out
    assert not (tmp_path / "x.html").exists()


def test_cli_single_run_report_still_works(tmp_path):
    from tests.helpers import tiny_mlp

    import grokscope

    run = grokscope.run(tiny_mlp("train.steps=100"), out=tmp_path)
    code, out = _invoke([run.path, "--no-png", "--frames", "4"])
    assert code == 0, out
    assert (run.path / "report.html").exists() and not (tmp_path / "compare.html").exists()
    code, out = _invoke([run.path, tmp_path / "nope"])
    assert code == 2 and out.startswith("error:")
