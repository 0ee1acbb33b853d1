"""The run report without a browser: one self-contained HTML file, its structure and its data."""

import json
import re

import numpy as np
import pytest
from tests.helpers import tiny_mlp, tiny_transformer
from typer.testing import CliRunner

import grokscope
from grokscope.analysis.neurons import default_thresholds
from grokscope.analysis.phases import nanda_phases, phase_events
from grokscope.cli import app
from grokscope.report.data import pick_frames, sig
from grokscope.report.figures import PHASES, phase_bands, unshaded
from grokscope.report.html import REPORT, SECTIONS, fmt, write_run_report, write_run_report_safe


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
    for fig_id in ("fig-spectrum", "fig-waves", "fig-phase", "fig-mini"):
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
    for text in ("t_train99", "t_val99", "saturation step", "frac_train=0.6", 'id="slider"'):
        assert text in html, text
    for name in ("measures.png", "fourier_neurons.png", "neuron_waves.png", "phase_sum.png"):
        assert (mlp_run.path / "report_figures" / name).stat().st_size > 1000, name
        assert f'href="report_figures/{name}"' in html
    # a two-hot MLP has no embedding: no circle drawn (the family's panels), none linked
    assert not (mlp_run.path / "report_figures" / "embedding_circle.png").exists()
    assert "embedding_circle.png" not in html
    # the run directory's files, linked relative to the page, each with what it holds
    for name in ("config.json", "metrics.parquet", "summary.json", "checkpoints/"):
        assert re.search(rf'<a href="{re.escape(name)}">{re.escape(name)}</a></td><td>\w', html), name
    # every figure says what it shows in one sentence
    captions = dict(re.findall(r'<figcaption class="caption" data-fig="([^"]+)">([^<]*)</figcaption>', html))
    assert set(captions) == set(re.findall(r'<div id="(fig-[^"]+)" class="fig plotly-fig', html))
    assert all(c.strip().endswith(".") and c.count(". ") == 0 for c in captions.values()), captions
    # p = 11 is cheap: restricted / excluded loss are computed for the report, nothing written
    assert any(t["name"].startswith("restricted") for t in data["figs"]["fig-loss"]["data"])
    assert not (mlp_run.path / "analysis.parquet").exists()


def _sections(html: str) -> tuple[list[str], list[str]]:
    """(navigation links, section ids) of a report page."""
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S).group(1)
    return re.findall(r'href="#([^"]+)"', nav), re.findall(r'<section id="([^"]+)"', html)


def _chips(html: str, section: str) -> set[str]:
    row = re.search(rf"<tr><th>{section}</th><td>(.*?)</td></tr>", html, re.S).group(1)
    return set(re.findall(r'<span class="chip">([^=]+)=', row))


def test_panels_that_do_not_apply_to_the_family_are_absent(mlp_run, tmp_path):
    """A two-hot MLP: no embedding circle, no clock vs pizza, no Nanda phases, no transformer or
    embedding config fields; the navigation lists exactly the sections on the page."""
    html = write_run_report(mlp_run.path, out=tmp_path / "r.html", png=False).read_text()
    data = _payload(html)
    nav, sections = _sections(html)
    assert nav == sections == ["summary", "curves", "scrub", "fourier", "files"]
    assert [name for key, name in SECTIONS if key in nav] == ["summary", "training curves", "through training",
                                                            "Fourier weights", "run directory"]
    page = html.split('<script type="application/json"')[0].split("</head>")[1]  # what is shown, less the JS
    for absent in ('id="fig-pca"', 'id="algorithms"', 'name="clock"', "logit axis", "Clock vs pizza",
                   "memorisation ends", "circuit formation starts", "Shaded phases"):
        assert absent not in page, absent
    assert not {"t_mem_end", "t_circuit", "t_cleanup"} & set(data["events"])  # no "→ cleanup" jump either
    assert data["slider"] == ["fig-spectrum", "fig-waves", "fig-phase"]
    assert "not applied to this mlp run" in html
    # config chips: only the fields this model reads
    assert _chips(html, "model") == {"arch", "input", "d_mlp", "act", "bias", "init", "init_scale"}
    # the spectrum and Gini name the MLP's own weights
    assert data["input_label"] == "input weights W_a | W_b" and data["W_L"] == "W_out"
    assert [t["name"] for t in data["figs"]["fig-gini"]["data"]] == ["Gini, input weights W_a | W_b spectrum",
                                                                    "Gini, W_out spectrum"]


def test_an_embedding_mlp_gets_the_clock_and_its_embedding_fields(tmp_path):
    run = grokscope.run(tiny_mlp("model.input=tied_embed", "model.d_embed=8", "model.init=normal",
                                 "model.init_std=0.3", "train.steps=60"), out=tmp_path)
    html = write_run_report(run.path, png=False).read_text()
    assert 'id="fig-pca"' in html and 'name="clock"' in html and 'id="algorithms"' not in html
    assert {"d_embed", "init_std"} <= _chips(html, "model")
    assert _payload(html)["input_label"] == "embedding W_E"


def test_key_frequency_text_is_computed_from_the_analysis(mlp_run, transformer_run, tmp_path):
    from grokscope.report import data as report_data
    from grokscope.report.figures import key_frequency_text

    for run in (mlp_run, transformer_run):
        data = report_data.collect(run.path, max_frames=4)
        text = key_frequency_text(data)
        n_freq = (data.n - 1) // 2
        assert data.key_freqs and f"{len(data.key_freqs)} of the {n_freq} frequencies" in text
        html = write_run_report(run.path, out=tmp_path / "k.html", png=False).read_text()
        assert f'<span id="key-text">{text}</span>' in html
        assert "a few rows" not in html and "light up in a few rows" not in html
    data.n, data.key_freqs = 97, [3, 17]
    assert "2 of the 48 frequencies carry the output weights (the key frequencies, k = 3, 17)" in key_frequency_text(data)
    data.key_freqs = list(range(1, (data.n - 1) // 2 + 1))
    assert "no small set of key frequencies" in key_frequency_text(data)


def test_wave_fits_carry_their_score_and_the_spectrum_is_scaled_over_all_frames(mlp_run, tmp_path):
    html = write_run_report(mlp_run.path, out=tmp_path / "w.html", png=False, max_frames=8).read_text()
    data = _payload(html)
    hi = default_thresholds(11)[0]
    assert data["fit_hi"] == sig(hi, 3)
    waves = [w for fr in data["frames"] for row in fr["waves"] for w in row]
    assert all(w["fit"] == (w["score"] > hi) for w in waves)
    # one scale for every frame: the largest bar over the run is 1, and scrubbing changes the heights
    tops = [max(v for v in fr["spec_embed"] if v is not None) for fr in data["frames"]]
    assert max(tops) == 1.0 and min(tops) < 0.9, tops


def test_one_number_format():
    assert fmt(21600) == "21,600" and fmt(7) == "7" and fmt(1e-4) == "1e-4" and fmt(2.5e-05) == "2.5e-5"
    assert fmt(0.1234567) == "0.1235" and fmt(12345.6) == "12,346" and fmt(None) == "—" and fmt(True) == "yes"


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


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory):
    return grokscope.run(tiny_transformer(), out=tmp_path_factory.mktemp("runs"))


def test_transformer_report_has_clock_pizza_and_embedding_heatmap(transformer_run):
    run = transformer_run
    html = write_run_report(run.path, png=False).read_text()
    data = _payload(html)
    assert "fig-heat-W_E" in data["figs"] and data["arch"] == "transformer"
    for key in ("gradient_symmetricity", "distance_irrelevance", "fve_clock", "fve_pizza"):
        assert key in html, key
    assert not (run.path / "report_figures").exists()
    nav, sections = _sections(html)
    assert nav == sections == ["summary", "curves", "scrub", "fourier", "algorithms", "files"]
    assert data["slider"] == ["fig-pca", "fig-spectrum", "fig-waves", "fig-phase"]
    assert "memorisation ends" in html and "d_embed" not in _chips(html, "model")
    write_run_report(run.path, png=True)  # the control of the MLP's absent circle: a transformer has one
    assert (run.path / "report_figures" / "embedding_circle.png").stat().st_size > 1000


# ---------------------------------------------------------------- phases: ordered, consistent with the events


def test_no_phase_starts_after_test_accuracy_reached_99_percent():
    """The default run's fault: train loss alone (no excluded loss) kept falling past t_val99, so
    'memorisation' was shaded over the grokking. With the metrics rows the rules stop at t_val99."""
    steps = list(range(0, 1300, 100))
    series = [{"step": s, "train_loss": 4.0 * 0.5 ** (s / 100) if s < 1000 else 4.0 * 0.5 ** 10} for s in steps]
    rows = [{"step": s, "train_acc": 1.0 if s >= 200 else 0.5, "test_acc": 1.0 if s >= 600 else 0.0,
             "train_loss": r["train_loss"], "test_loss": 1.0} for s, r in zip(steps, series, strict=True)]
    rules = __import__("grokscope.analysis.phases", fromlist=["NandaRules"]).NandaRules(window=100)
    assert nanda_phases(series, rules)["t_mem_end"] == 1000  # without the events: past t_val99 = 600
    ev = phase_events(rows, series, rules)
    assert ev["t_val99"] == 600 and ev["t_mem_end"] is None and ev["t_mem_end_rule"] == "train_loss_only"


def _assert_consistent(data):
    ev = data.events
    val = ev.get("t_val99")
    bounds = [ev[k] for k in ("t_mem_end", "t_circuit", "t_cleanup") if ev.get(k) is not None]
    assert bounds == sorted(bounds) and all(val is None or b <= val for b in bounds), ev
    bands = phase_bands(data)
    if "phases" not in data.panels:
        assert bands == []
    names = [b[0] for b in bands]
    assert names == [n for n in ("memorisation", "circuit formation", "cleanup") if n in names]  # in order
    for (_, _, a0, a1), (_, _, b0, b1) in zip(bands, bands[1:]):
        assert a0 < a1 <= b0 < b1  # no overlap
    for name, _, x0, x1 in bands:
        if name == "memorisation" and val is not None:
            assert x1 <= max(val, 1)
        if val is not None:
            assert x0 <= max(val, 1)  # no phase starts after test accuracy reached 99%


@pytest.mark.parametrize("which", ["mlp", "transformer"])
def test_phases_shown_are_ordered_and_consistent_with_the_events(which, mlp_run, transformer_run, tmp_path):
    from grokscope.analysis.pipeline import analyze_run
    from grokscope.report import data as report_data

    run = mlp_run if which == "mlp" else transformer_run
    data = report_data.collect(run.path, max_frames=4)  # phase events computed for the report
    _assert_consistent(data)
    out = tmp_path / "a"
    import shutil

    shutil.copytree(run.path, out)
    analyze_run(out)  # and as analyze writes them
    analysed = report_data.collect(out, max_frames=4)
    _assert_consistent(analysed)
    html = write_run_report(out, png=False).read_text()
    for fig in _payload(html)["figs"].values():  # the shading drawn is the bands checked above
        rects = [(sh["x0"], sh["x1"]) for sh in fig["layout"].get("shapes", []) if sh["type"] == "rect"]
        assert rects == [(x0, x1) for _, _, x0, x1 in phase_bands(analysed)]


def test_phase_bands_follow_the_rules_and_never_contradict_the_events(transformer_run):
    from grokscope.report import data as report_data

    data = report_data.collect(transformer_run.path, max_frames=4)
    data.rows = [{"step": s} for s in range(0, 101, 10)]
    data.events = {"t_mem_end": 10, "t_circuit": 20, "t_cleanup": 30, "t_cleanup_end": 50, "t_val99": 40,
                   "t_train99": 10, "t_mem_end_rule": "excluded_and_train_loss"}
    assert phase_bands(data) == [("memorisation", PHASES[0][1], 1, 10), ("circuit formation", PHASES[1][1], 20, 30),
                                 ("cleanup", PHASES[2][1], 30, 50)]
    _assert_consistent(data)
    data.events["t_circuit"] = None  # a phase whose start the rules did not find is not shaded
    assert [b[0] for b in phase_bands(data)] == ["memorisation", "cleanup"]
    for change, why in (({"t_mem_end": 60, "t_cleanup": None}, "contradict the accuracy events"),  # an old analysis
                        ({"t_train99": 20}, "before train accuracy reached 99% (step 20)"),
                        ({"t_mem_end_rule": "train_loss_only"}, "need the excluded loss"),
                        ({"t_mem_end": None}, "no end of memorisation by t_val99")):
        data.events = {**data.events, **change}
        assert phase_bands(data) == [] and why in unshaded(data), change
        data.events = {k: v for k, v in data.events.items()} | {k: {"t_mem_end": 10, "t_cleanup": 30, "t_train99": 10,
                                                                     "t_mem_end_rule": "excluded_and_train_loss"}[k]
                                                                 for k in change}
    assert phase_bands(data) and unshaded(data) is None
    data.panels = ("fourier",)  # a family without the phases panel
    assert phase_bands(data) == [] and "not applied to this transformer run" in unshaded(data)


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
