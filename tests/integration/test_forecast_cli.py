"""`grokscope forecast` fit / eval / RUN on a small synthetic store, a tiny real run, and bad input (exit 2)."""

from __future__ import annotations

import json

import pytest
from tests.unit.test_forecast import synthetic_rows
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.events import summarize
from grokscope.presets import load_preset

runner = CliRunner()
pytest.importorskip("scipy")


def _write_run(path, cfg, rows):
    path.mkdir(parents=True)
    (path / "config.json").write_text(cfg.to_json() + "\n")
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "summary.json").write_text(json.dumps(summarize(rows, run_id=cfg.run_id)))


def _end(t_val):
    """The last step of a run that stops when test accuracy reaches 99% (a little after the synthetic t_val)."""
    return 4000 if t_val is None else round(t_val * 1.1 / 20) * 20


def _cfg(*sets: str):
    return load_preset("pair2023").override(["train.steps=4000", *sets])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """16 synthetic pair2023 runs over two widths, half of them grokking at different steps (the runs stop
    there, as with train.stop_test_acc), and two with permuted labels for the null band."""
    root = tmp_path_factory.mktemp("store")
    i = 0
    for width in (24, 48):
        for k, t_val in enumerate((900, 1300, 1700, None, None, 1100, None, None)):
            cfg = _cfg(f"model.d_mlp={width}", f"train.seed={k}")
            _write_run(root / f"r{i}", cfg, synthetic_rows(t_val, end=_end(t_val), seed=i))
            i += 1
    for k in range(2):
        cfg = _cfg("task.noise=0.98", "task.noise_kind=uniform_any", f"train.seed={k}")
        _write_run(root / f"null{k}", cfg, synthetic_rows(None, acc_at_mem=0.04, seed=50 + k))
    return root


def test_fit_writes_a_model_the_run_command_reads(store, tmp_path):
    model = tmp_path / "model.json"
    res = runner.invoke(app, ["forecast", "fit", str(store), "--out", str(model)])
    assert res.exit_code == 0, res.output
    assert "fitted on 18 runs" in res.output and "null band ≤ 2.68× chance (2 runs)" in res.output
    res = runner.invoke(app, ["forecast", str(store / "r1"), "--model", str(model), "--step", "600"])
    assert res.exit_code == 0, res.output
    assert "memorised at step 200; at step 600: forecast: groks ≈ step" in res.output
    assert "actual: t_val99 = 1380" in res.output  # the synthetic curve crosses 99% a little after t_val
    assert "verdict: grokking — ΔT = 1,180 steps = 5.9× t_mem" in " ".join(res.output.split())


def test_eval_prints_the_table_held_out_by_width(store, tmp_path):
    res = runner.invoke(app, ["forecast", "eval", str(store), "--by", "width", "--plots", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert "held out by width (2 regions, 18 runs" in res.output
    for method in ("forecast", "weight-norm law", "test-loss trend"):
        assert method in res.output
    line = next(ln for ln in res.output.splitlines() if "2 t_mem" in ln and "│ forecast " in ln)
    assert float(line.split("│")[5]) > 0.9  # AUROC: the synthetic groks are separable once memorised
    assert "weight-norm law, its own error" in res.output
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        "width_calibration.png", "width_forecast_vs_actual.png", "width_heldout.json"]


def test_eval_on_unseen_stores_fits_on_the_roots_and_scores_only_the_unseen_runs(store, tmp_path):
    unseen = tmp_path / "unseen"
    for i, t_val in enumerate((1000, None, 1500, None)):
        _write_run(unseen / f"u{i}", _cfg("model.d_mlp=96", f"train.seed={i}"),
                   synthetic_rows(t_val, end=_end(t_val), seed=100 + i))
    res = runner.invoke(app, ["forecast", "eval", str(store), "--unseen", str(unseen)])
    assert res.exit_code == 0, res.output
    assert "fitted on 18 runs, tested on 4 unseen runs" in res.output and "held out by" not in res.output
    line = next(ln for ln in res.output.splitlines() if "2 t_mem" in ln and "│ forecast " in ln)
    assert line.split("│")[3].strip() == "4" and line.split("│")[4].strip() == "4, 2"  # the unseen runs only; 2 grok


def test_tiny_real_run_forecasts_or_says_why(tmp_path):
    from tests.helpers import tiny_mlp
    from tests.unit.test_forecast import tiny_model

    from grokscope import api

    result = api.run(tiny_mlp("train.eval_every=10", "optim.lr=3e-2"), tmp_path)  # memorises by step 30, ~1 s
    known, unknown = tmp_path / "known.json", tmp_path / "unknown.json"
    tiny_model().save(known)
    tiny_model(laws={"transformer": {"kappa": 1.0, "rho": 0.5, "n": 1}}).save(unknown)
    res = runner.invoke(app, ["forecast", str(result.path), "--model", str(known)])
    assert res.exit_code == 0, res.output
    assert "at step 60: forecast:" in res.output and "verdict:" in res.output  # 20% of 300 steps
    res = runner.invoke(app, ["forecast", str(result.path), "--model", str(unknown)])
    assert res.exit_code == 2, res.output
    assert "cannot forecast: no fitted head for the 'mlp/two_hot' family (fitted: transformer)" in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["not_memorised", "few_points", "corrupt_model", "no_run", "bad_region"])
def test_bad_input_exits_2_with_one_line(store, tmp_path, case):
    from tests.unit.test_forecast import tiny_model

    model = str(tiny_model(laws={"mlp/shared": {"kappa": 1.0, "rho": 0.5, "n": 1}}).save(tmp_path / "shared.json"))
    if case == "not_memorised":
        _write_run(tmp_path / "early", _cfg(), synthetic_rows(None, t_mem=3000))
        args = ["forecast", str(tmp_path / "early"), "--step", "800", "--model", model]
        expect = "cannot forecast yet: train accuracy has not reached 99%"
    elif case == "few_points":
        _write_run(tmp_path / "short", _cfg(), synthetic_rows(None, every=400))
        args = ["forecast", str(tmp_path / "short"), "--step", "800", "--model", model]
        expect = "evaluations in steps 400–800; needs 3"
    elif case == "corrupt_model":
        (tmp_path / "m.json").write_text('{"format": "grokscope-forecast/2", "features": [')
        args = ["forecast", str(store / "r0"), "--model", str(tmp_path / "m.json")]
        expect = "unreadable or corrupt"
    elif case == "no_run":
        args = ["forecast", str(tmp_path / "nothing")]
        expect = "is not a run directory"
    else:
        args = ["forecast", "eval", str(store), "--by", "colour"]
        expect = "unknown region 'colour'"
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert expect in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
