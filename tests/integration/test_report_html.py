"""The run report without a browser: one self-contained HTML file, its structure and its data."""

import json
import re

import numpy as np
import pytest
from tests.helpers import tiny_mlp, tiny_transformer
from typer.testing import CliRunner

import grokscope
from grokscope.cli import app
from grokscope.report.data import pick_frames, sig
from grokscope.report.html import REPORT, write_run_report, write_run_report_safe


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    cfg = tiny_mlp("train.checkpoint_every=25", "train.eval_every=25")
    return grokscope.run(cfg, out=tmp_path_factory.mktemp("runs"))


def _payload(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "no report-data block"
    return json.loads(m.group(1))


def test_run_report_is_one_self_contained_file(mlp_run):
    path = write_run_report(mlp_run.path, max_frames=6)
    assert path == mlp_run.path / REPORT
    html = path.read_text()
    # plotly.js inlined exactly once, nothing fetched from anywhere
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]+src=", html) and not re.search(r"<link[^>]+href=", html)
    assert "cdn.plot.ly/plotly" not in html.split("</script>", 1)[1]  # none outside the bundle
    assert html.count("<script") == 3  # bundle, data, page logic
    data = _payload(html)
    steps = mlp_run.checkpoint_steps()
    # every static figure has a div and traces; frames are downsampled but keep first and last
    for fig_id, spec in data["figs"].items():
        assert f'id="{fig_id}"' in html and spec["data"], fig_id
    for fig_id in ("fig-acc", "fig-loss", "fig-norm", "fig-gini", "fig-heat-W_a", "fig-heat-W_b", "fig-heat-W_L"):
        assert fig_id in data["figs"], fig_id
    for fig_id in ("fig-pca", "fig-spectrum", "fig-waves", "fig-phase"):
        assert f'id="{fig_id}"' in html
    assert len(data["frames"]) == len(data["steps"]) <= 6 < len(steps)
    assert data["steps"][0] == steps[0] and data["steps"][-1] == steps[-1]
    fr = data["frames"][-1]
    assert len(fr["waves"]) == 4 and all(len(row) == 3 for row in fr["waves"])
    assert len(fr["waves"][0][0]["w"]) == 11 and len(fr["spec_embed"]) == 5
    assert len(fr["pca"]["x"]) == 11 and fr["plane"]["k"] == data["frames"][0]["plane"]["k"]
    assert data["frames"][0]["waves"][0][0]["w"] != fr["waves"][0][0]["w"]  # the slider has something to show
    # heatmaps: diverging, centred on 0, Fourier component names on the axis
    heat = data["figs"]["fig-heat-W_a"]["data"][0]
    assert heat["zmid"] == 0 and heat["zmin"] == -heat["zmax"]
    assert heat["colorscale"][0][1] == "#67001f" and heat["colorscale"][5][1] == "#f7f7f7"
    assert heat["y"][:3] == ["const", "cos1", "sin1"]
    # the summary: events, config, slider, static PNGs beside the file
    for text in ("t_train99", "t_val99", "saturation step", "memorisation ends", "frac_train=0.6", 'id="slider"'):
        assert text in html, text
    for name in ("measures.png", "fourier_neurons.png", "neuron_waves.png", "phase_sum.png", "embedding_circle.png"):
        assert (mlp_run.path / "report_figures" / name).stat().st_size > 1000, name
        assert f"report_figures/{name}" in html
    # p = 11 is cheap: restricted / excluded loss are computed for the report, nothing written
    assert any(t["name"].startswith("restricted") for t in data["figs"]["fig-loss"]["data"])
    assert not (mlp_run.path / "analysis.parquet").exists()


def test_run_report_prefers_the_analysis_table(mlp_run, tmp_path):
    from grokscope.analysis.pipeline import analyze_run

    analyze_run(mlp_run.path, measures=["progress"])
    try:
        html = write_run_report(mlp_run.path, out=tmp_path / "r.html", png=False).read_text()
        assert "analysis.parquet" in html
        data = _payload(html)
        assert len(data["figs"]["fig-gini"]["data"][0]["x"]) == len(mlp_run.checkpoint_steps())
    finally:
        (mlp_run.path / "analysis.parquet").unlink()
        (mlp_run.path / "analysis.json").unlink()


def test_transformer_report_has_clock_pizza_and_embedding_heatmap(tmp_path):
    run = grokscope.run(tiny_transformer(), out=tmp_path)
    html = write_run_report(run.path, png=False).read_text()
    data = _payload(html)
    assert "fig-heat-W_E" in data["figs"] and data["arch"] == "transformer"
    for key in ("gradient_symmetricity", "distance_irrelevance", "fve_clock", "fve_pizza"):
        assert key in html, key
    assert not (run.path / "report_figures").exists()


def test_cli_report(mlp_run, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(mlp_run.path), "--out", str(tmp_path / "x.html"), "--no-png", "--frames", "3"])
    assert res.exit_code == 0, res.output
    assert len(_payload((tmp_path / "x.html").read_text())["frames"]) == 3
    res = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_safe_report_never_raises(tmp_path):
    assert write_run_report_safe(tmp_path / "missing") is None


def test_pick_frames_keeps_ends_and_events():
    steps = list(range(0, 1000))
    out = pick_frames(steps, 60, keep=[123, 999, None])
    assert len(out) == 60 and out[0] == 0 and out[-1] == 999 and 123 in out and out == sorted(set(out))
    assert pick_frames([0, 5, 9], 60) == [0, 5, 9]


def test_sig_rounds_and_drops_nan():
    assert sig(np.array([1.23456, np.nan, -0.000123456])) == [1.235, None, -0.0001235]
    assert sig(float("inf")) is None and sig("a") == "a"
