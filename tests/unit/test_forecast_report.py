"""The forecast in the reports: held-out evaluation plots and JSON (report.forecast_eval), the run report's
forecast-history panel (report.forecast_panel) and its "is this grokking?" row. Nothing here depends on the
shipped model's numbers (it is refit from time to time)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from tests.helpers import tiny_mlp

import grokscope
from grokscope.forecast import Forecast, Recipe
from grokscope.forecast.fit import FitRun, Pred
from grokscope.report import forecast_panel as FP
from grokscope.report.forecast_eval import calibration_bins, write_eval_plots

RECIPE = Recipe("mlp/two_hot", lr=1e-3, weight_decay=1.0, beta2=0.999, n_classes=11)


def _fit_run(i: int, family: str) -> FitRun:
    return FitRun(Path(f"/sweeps/s/run{i}"), "s", None, [], RECIPE, 1000, 1000, 10, None, {"family": family})


def _raw() -> dict:
    """Two protocols of the forecast and one baseline: 2 + 2 + 1 pairs, one outcome unknown, one nan."""
    a, b = _fit_run(0, "mlp/two_hot"), _fit_run(1, "transformer")
    grok = Pred(0, 100, 1000, 1, 400, 0.8, 0.8, 350.0, 200.0, 700.0)
    never = Pred(1, 100, 1000, 0, None, 0.1, 0.1, 5000.0, 900.0, 1e5)
    unknown = Pred(1, 40, 1000, None, None, 0.3, 0.3, 800.0, 300.0, 2000.0)
    law = Pred(0, 100, 1000, 1, 400, 1.0, -300.0, 300.0, math.nan, math.inf)
    return {("20% of trained", "forecast"): [(a, grok), (b, never)],
            ("2 t_mem", "forecast"): [(a, grok), (b, unknown)],
            ("20% of trained", "weight-norm law"): [(a, law)]}


def test_write_eval_plots_writes_two_figures_and_the_held_out_json(tmp_path):
    folder = tmp_path / "new" / "eval"
    paths = write_eval_plots(_raw(), folder, "fam")
    assert [p.name for p in paths] == ["fam_calibration.png", "fam_forecast_vs_actual.png", "fam_heldout.json"]
    assert all(p.parent == folder and p.stat().st_size > 1000 for p in paths[:2])
    records = json.loads(paths[2].read_text())
    assert len(records) == 5
    first = records[0]
    assert first == {"protocol": "20% of trained", "method": "forecast", "run": "run0", "family": "mlp/two_hot",
                     "cut": 100, "horizon": 1000, "label": 1, "t_true": 400, "p": 0.8, "t_pred": 350.0, "low": 200.0,
                     "high": 700.0}
    law = next(r for r in records if r["method"] == "weight-norm law")
    assert law["low"] is None and law["high"] is None  # nan and inf become null
    assert next(r for r in records if r["protocol"] == "2 t_mem" and r["run"] == "run1")["label"] is None


def test_write_eval_plots_with_nothing_to_draw_still_writes_every_file(tmp_path):
    paths = write_eval_plots({}, tmp_path, "empty")
    assert all(p.exists() for p in paths) and json.loads(paths[2].read_text()) == []


def test_calibration_bins_are_equal_width_and_keep_p_of_one():
    x, y, n = calibration_bins([0.05, 0.07, 0.5, 1.0], [0, 1, 1, 1])
    assert n.tolist() == [2, 1, 1] and y.tolist() == [0.5, 1.0, 1.0]
    assert x.tolist() == pytest.approx([0.06, 0.5, 1.0])


def _rows(memorise: bool) -> list[dict]:
    return [{"step": s, "train_acc": (min(1.0, s / 100) if memorise else 0.5), "test_acc": 0.1, "train_loss": 0.1,
             "test_loss": 2.0, "weight_norm": 10.0, "logit_scale": 5.0} for s in range(0, 401, 20)]


def test_the_panel_says_why_there_is_no_history():
    why = FP.panel_of(_rows(memorise=False), RECIPE, 1000).why
    assert why and "never reached 99%" in why and why.endswith(".")
    grokked = [{**r, "test_acc": 1.0} for r in _rows(memorise=True)]  # generalised as it memorised
    assert "nothing left to forecast" in FP.panel_of(grokked, RECIPE, 1000).why


def test_the_panel_figure_has_the_band_the_actual_t_val99_and_t_mem():
    hist = [Forecast(s, 100, 1000, 0.6, 3 * s, 2 * s, 6 * s) for s in (100, 200, 400)]
    fig = FP.figure(FP.HistoryPanel(hist, t_mem=100, t_val99=900, horizon=1000))
    traces = {t["name"]: t for t in fig["data"]}
    assert traces["median forecast"]["x"] == [100, 200, 400] and traces["median forecast"]["y"] == [300, 600, 1200]
    assert traces["80% interval"]["fill"] == "tonexty" and traces["80% interval"]["y"] == [200, 400, 800]
    assert traces["actual t_val99"]["y"] == [900, 900]
    assert traces["t_mem (memorised)"]["x"] == [100, 100]
    assert fig["layout"]["xaxis"]["type"] == fig["layout"]["yaxis"]["type"] == "log"
    lo, hi = fig["layout"]["yaxis"]["range"]
    assert lo <= math.log10(200) and hi >= math.log10(1200)
    json.dumps(fig, allow_nan=False)  # embeddable with script_json
    assert FP.CAPTION.endswith(".") and ". " not in FP.CAPTION  # one sentence, as every caption


def test_the_run_report_shows_the_forecast_history_and_the_verdict(tmp_path):
    from grokscope.report.html import write_run_report

    run = grokscope.run(tiny_mlp("train.eval_every=10", "train.checkpoint_every=150"), out=tmp_path)
    html = write_run_report(run.path, max_frames=2, png=False, progress_budget_s=0.0).read_text()
    events = dict(re.findall(r'<tr data-key="(\w+)"><td>[^<]*</td><td class="v">([^<]*)</td></tr>', html))
    assert "is this grokking?" in html and events["verdict"].strip()
    assert "forecast at 20% of the steps trained" in html and events["forecast"].strip()
    assert "forecast made at 20% of the budget" not in html
    has_fig = f'<div id="{FP.FIG_ID}" class="fig plotly-fig' in html
    has_why = re.search(rf'<div class="note" id="{FP.NONE_ID}"[^>]*>No forecast history: [^<]+\.</div>', html)
    assert has_fig != bool(has_why)  # the figure, or one line saying why not
    if has_fig:
        assert f'data-fig="{FP.FIG_ID}">{FP.CAPTION}' in html.replace("&#39;", "'")
