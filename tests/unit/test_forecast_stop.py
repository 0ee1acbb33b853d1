"""The forecast stop rule (train.stop_forecast_p): stops only its own model, at the cut, and never
changes a run it does not stop; `grokscope sweep --stop-forecast P` and its measured FN-rate line."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

import grokscope.forecast
import grokscope.forecast.stop_rule as stop_rule
from grokscope.cli import app
from grokscope.errors import ConfigError
from grokscope.forecast import ForecastError, ForecastModel
from grokscope.forecast.features import TRAJECTORY_FEATURES
from grokscope.forecast.stop_rule import ForecastStop
from grokscope.train.loop import train
from grokscope.train.sinks import MemorySink

# 300 steps, cut at 60; dense evaluations so the forecaster has points; never stops on accuracy.
# lr 3e-2 memorises by step 30 (the rule looks only at memorised runs) and never groks in 300 steps
BASE = tiny_mlp("train.eval_every=10", "train.stop_test_acc=1.1", "optim.lr=3e-2")
ON, OFF = BASE.override(["train.stop_forecast_p=0.05"]), BASE
OTHER = BASE.override(["optim.lr=1e-2"])  # a different stack partner


def const_model(mu: float, family: str = "mlp/two_hot", info=None) -> ForecastModel:
    """A forecaster whose ln((t_val99 - cut) / cut) is mu for every run: P(by the horizon) ~0 at mu = 30,
    ~1 at mu = -30."""
    n = len(TRAJECTORY_FEATURES)
    return ForecastModel(features=list(TRAJECTORY_FEATURES), mean=[0.0] * n, scale=[1.0] * n, coef=[0.0] * n,
                         intercept=mu, cure_coef=[0.0] * n, cure_intercept=40.0, sigma=0.5, laws={family: {"kappa": 1.0, "rho": 0.5, "n": 1}}, null_band=2.0,
                         info=dict(info or {}))


NEVER, SURE = const_model(30.0), const_model(-30.0)


def _train(cfgs, model=None):
    sinks = [MemorySink() for _ in cfgs]
    train(cfgs, sinks, dtype=torch.float64, stop_rules=[ForecastStop(model)])  # the rule, as lifecycle hands it in
    return sinks


def _same(a: MemorySink, b: MemorySink, exact: bool = True) -> None:
    """Equal metrics rows (wall time aside) and final weights; exactly, or to float64 rounding."""
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
    ra, rb = strip(a.rows), strip(b.rows)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    (fa,), (fb,) = ([p for (s, kind), p in x.checkpoints.items() if kind == "final"] for x in (a, b))
    for k in fa:
        assert torch.equal(fa[k], fb[k]) if exact else torch.allclose(fa[k], fb[k], rtol=1e-8, atol=1e-12), k
    for x, y in zip(ra, rb, strict=True):
        assert x == y if exact else all(x[k] == pytest.approx(y[k], rel=1e-8, abs=1e-12) for k in x)


def test_a_hopeless_member_stops_at_the_cut_and_its_partner_is_unchanged():
    stopped, partner = _train([ON, OTHER], NEVER)
    (alone,) = _train([OTHER], NEVER)
    assert max(r["test_acc"] for r in stopped.rows) < 0.99  # the rule applies: not grokked by the cut
    s = stopped.summary
    assert s["stop_reason"] == "forecast" and s["steps"] == 60  # cut_for(300, 0.2); an evaluation step
    assert s["forecast_stop_p_groks"] < 1e-6 and s["final_step"] == 60 and not s["grokked"]
    assert stopped.rows[-1]["step"] == 60 and (60, "final") in stopped.checkpoints
    assert partner.summary["stop_reason"] == "max_steps" and partner.summary["steps"] == 300
    assert "forecast_stop_p_groks" not in partner.summary  # the rule was off for it
    _same(partner, alone, exact=False)  # a stack of two that loses one vs a stack of one


def test_a_member_forecast_to_grok_trains_on_bit_for_bit():
    on = _train([ON, OTHER], SURE)
    off = _train([OFF, OTHER], SURE)
    assert on[0].summary["stop_reason"] == "max_steps" and on[0].summary["forecast_stop_p_groks"] > 0.999
    for a, b in zip(on, off, strict=True):
        _same(a, b)


def test_an_unsupported_family_trains_on_with_one_warning(caplog):
    other_family = const_model(30.0, family="transformer")
    with caplog.at_level(logging.WARNING, logger="grokscope.forecast.stop_rule"):
        on = _train([ON, OTHER], other_family)
    off = _train([OFF, OTHER], other_family)
    warnings = [r.getMessage() for r in caplog.records if "forecast stop rule does not apply" in r.getMessage()]
    assert len(warnings) == 1 and "no fitted head for the 'mlp/two_hot' family" in warnings[0]
    assert on[0].summary["stop_reason"] == "max_steps"
    for a, b in zip(on, off, strict=True):
        _same(a, b)


def test_the_model_loads_lazily_once_and_an_unreadable_one_never_stops_a_run(monkeypatch, caplog):
    calls = []

    def broken():
        calls.append(1)
        raise ForecastError("forecast model model.json is unreadable or corrupt (JSONDecodeError)")

    monkeypatch.setattr(stop_rule, "load_model", broken)
    _train([OFF, OTHER])
    assert calls == []  # no member has the rule on: nothing loaded
    with caplog.at_level(logging.WARNING, logger="grokscope.forecast.stop_rule"):
        on = _train([ON, ON.override(["optim.lr=1e-2"])])
    assert len(calls) == 1  # once per rule (one per engine), although two members ask
    assert [s.summary["stop_reason"] for s in on] == ["max_steps", "max_steps"]
    assert sum("unreadable or corrupt" in r.getMessage() for r in caplog.records) == 2  # one per run


@pytest.mark.parametrize("p", ["1.0", "-0.1"])
def test_stop_forecast_p_is_validated(p):
    with pytest.raises(ConfigError, match=r"train.stop_forecast_p must be in \[0, 1\) \(0 = off\), got") as e:
        BASE.override([f"train.stop_forecast_p={p}"])
    assert "\n" not in str(e.value)


def test_the_rule_is_off_by_default_and_keeps_run_ids():
    assert BASE.train.stop_forecast_p == 0.0
    assert BASE.override(["train.stop_forecast_p=0"]).run_id == BASE.run_id != ON.run_id


SPEC = """
base = "swaroop2026"
seeds = 2
[set]
task.p = 11
task.frac_train = 0.6
model.d_mlp = 32
train.steps = 300
train.eval_every = 10
train.stop_test_acc = 1.1
optim.lr = 3e-2
"""

MEASURED = {"stop_rule": {"p": 0.05, "held_out_by": "family", "n_runs": 216, "n_stopped": 105,
                          "n_stopped_grokked": 2, "fn_rate": 2 / 105}}


@pytest.mark.parametrize("info", [MEASURED, {}])
def test_sweep_option_prints_the_rule_and_counts_the_stopped_runs(tmp_path, monkeypatch, info):
    model = const_model(30.0, info=info)
    monkeypatch.setattr(stop_rule, "load_model", lambda: model)  # the engine's forecaster (workers 0: this process)
    monkeypatch.setattr(grokscope.forecast, "load_model", lambda: model)  # the CLI's FN-rate line
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    out = tmp_path / "sweep"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet",
                                   "--no-plots", "--stop-forecast", "0.05"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # rich wraps long lines
    if info:
        assert ("stopping runs forecast never to grok: P(by the horizon) < 0.05 at 20% of the budget; measured false-negative "
                "rate 1.9% (2 of 105 stopped runs grokked; held out by family, 216 runs)") in text
    else:
        assert "false-negative rate not measured for this forecast model" in text
    assert "2 finished, 0 diverged, 0 failed/unfinished (2 of the finished stopped as forecast never to grok)" in text
    summaries = [json.loads(p.read_text()) for p in out.glob("*/summary.json")]
    assert [s["stop_reason"] for s in summaries] == ["forecast", "forecast"]
    assert json.loads((out / "sweep.json").read_text())["spec"]["set"]["train.stop_forecast_p"] == 0.05


def test_sweep_without_the_option_prints_no_rule(tmp_path, monkeypatch):
    monkeypatch.setattr(stop_rule, "load_model", lambda: pytest.fail("the forecaster was loaded with the rule off"))
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC.replace("train.steps = 300", "train.steps = 40"))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s"), "--workers", "0", "--quiet",
                                   "--no-plots"])
    assert res.exit_code == 0, res.output
    assert "forecast" not in res.output and "2 finished" in res.output


def test_sweep_option_out_of_range_is_one_line(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s"), "--stop-forecast", "1.5"])
    assert res.exit_code == 2
    assert "train.stop_forecast_p must be in [0, 1)" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_training_refuses_the_rule_when_nobody_hands_it_in():
    """train/ does not know the forecaster: a config asking for its rule without the rule is refused
    (never silently trained without it); the same config with the rule handed in trains."""
    with pytest.raises(ConfigError, match="no 'forecast' stop rule was handed to the engine"):
        train([ON], [MemorySink()])
    train([OFF], [MemorySink()])  # the control: nothing asks for it
