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
pytest.importorskip("sklearn")


def _write_run(path, cfg, rows):
    path.mkdir(parents=True)
    (path / "config.json").write_text(cfg.to_json() + "\n")
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "summary.json").write_text(json.dumps(summarize(rows, run_id=cfg.run_id)))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """16 synthetic pair2023 runs over two widths, half of them grokking at different steps."""
    root = tmp_path_factory.mktemp("store")
    i = 0
    for width in (24, 48):
        for k, t_val in enumerate((900, 1300, 1700, None, None, 1100, None, None)):
            cfg = load_preset("pair2023").override([f"model.d_mlp={width}", "train.steps=2000",
                                                    f"train.seed={k}"])
            _write_run(root / f"r{i}", cfg, synthetic_rows(2000, t_val, seed=i))
            i += 1
    return root


def test_fit_writes_a_model_the_run_command_reads(store, tmp_path):
    model = tmp_path / "model.json"
    res = runner.invoke(app, ["forecast", "fit", str(store), "--out", str(model)])
    assert res.exit_code == 0, res.output
    assert "fitted on 16 runs" in res.output
    res = runner.invoke(app, ["forecast", str(store / "r0"), "--model", str(model)])
    assert res.exit_code == 0, res.output
    assert "at step 400 of 2,000: forecast: groks ≈ step" in res.output
    assert "actual: t_val99 = 1000" in res.output  # the synthetic curve crosses 99% just after t_val


def test_fit_records_the_held_out_false_negative_rate_of_the_stop_rule(store, tmp_path):
    import numpy as np

    from grokscope.forecast import load_model
    from grokscope.forecast.fit import REGIONS, evaluate, fit_store, load_runs, stop_rule_info

    model = tmp_path / "model.json"
    fit_store([store]).save(model)
    rule = load_model(model).info["stop_rule"]
    # one family, two widths: held out by width; recomputed here from the pooled held-out predictions
    raw: dict = {}
    evaluate(load_runs([store]), REGIONS["width"], [0.2], raw=raw)
    grok, p = raw[(0.2, "forecast")][:2]
    stopped = p < 0.05
    assert rule == {"p": 0.05, "fraction": 0.2, "held_out_by": "width", "n_runs": 16, "n_held_out": len(grok),
                    "n_stopped": int(stopped.sum()), "n_stopped_grokked": int(grok[stopped].sum()),
                    "fn_rate": round(float(grok[stopped].mean()), 6) if stopped.any() else None}
    assert rule["n_stopped"] <= rule["n_held_out"] <= 16 and np.isfinite(p).all()
    one_width = [r for r in load_runs([store]) if r.cfg.model.d_mlp == 24]
    assert stop_rule_info(one_width)["held_out_by"] == "seed"  # one family, one width: by seed
    assert stop_rule_info(one_width[:1]) is None  # nothing to hold out: no entry (the sweep says "not measured")


def test_eval_prints_the_table_held_out_by_width(store):
    res = runner.invoke(app, ["forecast", "eval", str(store), "--by", "width"])
    assert res.exit_code == 0, res.output
    assert "held out by width (2 regions, 16 runs" in res.output
    for method in ("forecast", "forecast+config", "config rule", "test-loss trend"):
        assert method in res.output
    line = next(ln for ln in res.output.splitlines() if "0.2" in ln and "│ forecast " in ln)
    assert float(line.split("│")[5]) > 0.9  # AUROC: the synthetic groks are separable from their start


def test_eval_on_unseen_stores_fits_on_the_roots_and_scores_only_the_unseen_runs(store, tmp_path):
    unseen = tmp_path / "unseen"
    for i, t_val in enumerate((1000, None, 1500, None)):
        cfg = load_preset("pair2023").override(["model.d_mlp=96", "train.steps=2000", f"train.seed={i}"])
        _write_run(unseen / f"u{i}", cfg, synthetic_rows(2000, t_val, seed=100 + i))
    res = runner.invoke(app, ["forecast", "eval", str(store), "--unseen", str(unseen)])
    assert res.exit_code == 0, res.output
    assert "fitted on 16 runs, tested on 4 unseen runs" in res.output and "held out by" not in res.output
    line = next(ln for ln in res.output.splitlines() if "0.2" in ln and "│ forecast " in ln)
    assert [int(line.split("│")[k]) for k in (3, 4)] == [4, 2]  # n scored = the unseen runs only; 2 grok


def test_tiny_real_run_forecasts_or_says_why(tmp_path):
    from tests.helpers import tiny_mlp
    from tests.unit.test_forecast import tiny_model

    from grokscope import api

    result = api.run(tiny_mlp("train.eval_every=10"), tmp_path)  # a real two-hot MLP run, ~1 s
    known, unknown = tmp_path / "known.json", tmp_path / "unknown.json"
    tiny_model(families=("mlp/two_hot",)).save(known)
    tiny_model(families=("mlp/shared", "transformer")).save(unknown)
    res = runner.invoke(app, ["forecast", str(result.path), "--model", str(known)])
    assert res.exit_code == 0, res.output
    p = float(res.output.split("P = ")[1].split()[0]) if "P = " in res.output else 1.0  # or observed
    assert 0.0 <= p <= 1.0 and "at step 60 of 300" in res.output
    res = runner.invoke(app, ["forecast", str(result.path), "--model", str(unknown)])
    assert res.exit_code == 2, res.output
    assert "cannot forecast: the model was fitted on mlp/shared, transformer runs, not mlp/two_hot" in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["few_points", "corrupt_model", "no_run", "bad_region"])
def test_bad_input_exits_2_with_one_line(store, tmp_path, case):
    if case == "few_points":
        cfg = load_preset("pair2023").override(["train.steps=2000"])
        _write_run(tmp_path / "short", cfg, synthetic_rows(2000, None, every=400))
        args = ["forecast", str(tmp_path / "short")]
        expect = "cannot forecast: 1 evaluation points"
    elif case == "corrupt_model":
        (tmp_path / "m.json").write_text('{"format": "grokscope-forecast/1", "features": [')
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
