"""grokscope.forecast: features read only rows up to the cut, the censored model, the weight-norm law,
forecasts, the verdict, the JSON model and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pytest

from grokscope.forecast import (
    Forecast,
    ForecastError,
    ForecastModel,
    ForecastTracker,
    Recipe,
    forecast_rows,
    horizon_end,
    load_model,
    trajectory_features,
    verdict,
)
from grokscope.forecast.features import ALL_FEATURES, PHYSICS_FEATURES, TRAJECTORY_FEATURES
from grokscope.forecast.fit import STOP_P, FitRun, evaluate, fit_cure, fit_model, stop_rule_info
from grokscope.forecast.law import Law, fit_laws, law_inputs, law_times
from grokscope.forecast.model import model_from_dict
from grokscope.forecast.predict import HORIZON_MULT

RECIPE = Recipe("mlp/two_hot", lr=1e-3, weight_decay=1.0, beta2=0.999, n_classes=31)


def synthetic_rows(t_val: float | None, t_mem: int = 200, end: int = 4000, every: int = 20, rate: float = 2e-4,
                   acc_at_mem: float = 0.03, seed: int = 0) -> list[dict]:
    """A run that memorises at t_mem and groks at t_val (or never): test loss falls (or rises) after
    memorisation, ||θ||² decays at `rate` per step after t_mem."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(0, end + 1, every):
        train_acc = min(1.0, 0.05 + 0.95 * step / t_mem)
        if t_val is None:
            test_acc, test_loss = acc_at_mem, 3.0 + step / end
        else:
            z = (step - t_val) / (0.05 * t_val)
            test_acc = acc_at_mem + (1 - acc_at_mem) / (1 + math.exp(-4 * z)) + (0.01 if step >= t_val else 0)
            test_loss = 10 ** (0.6 - 2.5 * max(step - t_mem, 0) / max(t_val - t_mem, 1))
        wn = 50 * math.exp(-0.5 * rate * max(step - t_mem, 0))
        rows.append({"step": step, "train_loss": 10 ** (-3 * min(step / t_mem, 1.5)) * (1 + 0.05 * rng.random()),
                     "test_loss": test_loss, "train_acc": train_acc, "test_acc": min(test_acc, 1.0), "weight_norm": wn,
                     "logit_scale": 5 + 10 * min(step / t_mem, 1) * math.exp(-rate * max(step - t_mem, 0))})
    return rows


def tiny_model(features=TRAJECTORY_FEATURES, mu: float = math.log(2.0), sigma: float = 0.5,
               laws=None) -> ForecastModel:
    n = len(features)
    return ForecastModel(features=list(features), mean=[0.0] * n, scale=[1.0] * n, coef=[0.0] * n, intercept=mu,
                         cure_coef=[0.0] * n, cure_intercept=40.0, sigma=sigma,  # P(groks at all) = 1
                         laws=laws or {"mlp/two_hot": {"kappa": 1.0, "rho": 0.5, "n": 3},
                                       "any": {"kappa": 1.0, "rho": 0.5, "n": 3}}, null_band=2.0)


def test_features_use_only_rows_up_to_the_cut():
    rows = synthetic_rows(1200)
    early = [r for r in rows if r["step"] <= 400]
    a = trajectory_features(early, RECIPE, 400)
    b = trajectory_features(rows, RECIPE, 400)  # the same run with every later row appended
    c = trajectory_features(synthetic_rows(None)[:21] + rows[21:], RECIPE, 400)  # later rows of another run
    assert a == b
    assert a != c
    assert set(a) == set(TRAJECTORY_FEATURES) | set(PHYSICS_FEATURES)
    assert all(math.isfinite(v) for v in a.values())


def test_features_do_not_read_the_budget_and_tell_grokking_from_not():
    grok = trajectory_features(synthetic_rows(1200), RECIPE, 400)
    never = trajectory_features(synthetic_rows(None), RECIPE, 400)
    assert grok["test_loss_slope"] < 0 < never["test_loss_slope"]
    assert grok["since_mem"] == pytest.approx(math.log(2.0))
    assert grok["decay_per_cut"] == pytest.approx(math.log10(1e-3 * 1.0 * 400))
    assert grok["wn_rate"] > 0  # the norm contracts after memorisation


def test_no_forecast_before_memorisation_nor_with_a_thin_window():
    with pytest.raises(ForecastError, match="cannot forecast yet: train accuracy has not reached 99%") as e:
        forecast_rows(synthetic_rows(1200), RECIPE, 100, tiny_model())
    assert "\n" not in str(e.value)
    sparse = [r for r in synthetic_rows(1200, every=100) if r["step"] <= 300]
    with pytest.raises(ForecastError, match="evaluations in steps 150–300; needs 3"):
        forecast_rows(sparse, RECIPE, 300, tiny_model())


def test_forecast_is_the_log_normal_of_the_model():
    m = tiny_model(mu=math.log(2.0), sigma=0.5)
    fc = forecast_rows(synthetic_rows(None), RECIPE, 400, m, budget=3000)
    assert isinstance(fc, Forecast) and not fc.observed and fc.cut_step == 400 and fc.t_mem == 200
    assert fc.t_val99 == 400 + 800  # cut + cut * exp(mu)
    z = NormalDist().inv_cdf(0.9) * 0.5
    assert fc.low == 400 + round(400 * math.exp(math.log(2) - z)) and fc.high == 400 + round(400 * math.exp(math.log(2) + z))
    assert fc.horizon == 3000 == horizon_end(200, 3000)
    assert fc.p_groks == pytest.approx(NormalDist(math.log(2.0), 0.5).cdf(math.log((3000 - 400) / 400)))
    assert "forecast: groks ≈ step 1,200" in fc.line() and "P(by step 3,000)" in fc.line()
    late = forecast_rows(synthetic_rows(None), RECIPE, 400, tiny_model(mu=math.log(50.0)), budget=3000)
    assert late.p_groks < 0.01 and late.line().startswith("forecast: P(groks by step 3,000) = 0.00; if it does, ≈ step")


def test_horizon_is_budget_capped_multiple_of_memorisation():
    assert horizon_end(200) == HORIZON_MULT * 200
    assert horizon_end(200, 10_000) == 10_000
    assert horizon_end(2, 10_000) == 2 * HORIZON_MULT


def test_a_run_that_already_grokked_is_observed():
    fc = forecast_rows(synthetic_rows(300), RECIPE, 400, tiny_model())
    assert fc.observed and fc.p_groks == 1.0 and fc.low == fc.t_val99 == fc.high <= 400
    assert fc.line() == f"forecast: grokked at step {fc.t_val99:,}"


def test_unknown_family_is_one_line_and_any_is_pooled():
    other = Recipe("transformer", 1e-3, 1.0, 0.999, 31)
    with pytest.raises(ForecastError, match="no fitted head for the 'transformer' family") as e:
        forecast_rows(synthetic_rows(1200), other, 400, tiny_model())
    assert "\n" not in str(e.value)
    pooled = Recipe("any", 1e-3, 1.0, 0.999, 31)
    assert forecast_rows(synthetic_rows(1200), pooled, 400, tiny_model()).cut_step == 400


def test_json_model_round_trips(tmp_path):
    m = tiny_model(features=ALL_FEATURES)
    back = load_model(m.save(tmp_path / "m.json"))
    assert back == m


@pytest.mark.parametrize("text", ["{not json", json.dumps({"format": "other"}),
                                  json.dumps({"format": "grokscope-forecast/1"}), "sizes", "feature"])
def test_corrupt_model_file_is_one_line(tmp_path, text):
    path = tmp_path / "m.json"
    d = json.loads(tiny_model().to_json())
    if text == "sizes":
        d["coef"] = d["coef"][:-1]
        text = json.dumps(d)
    elif text == "feature":
        d["features"][0] = "budget"
        text = json.dumps(d)
    path.write_text(text)
    with pytest.raises(ForecastError, match=r"m\.json") as e:
        load_model(path)
    assert "\n" not in str(e.value)


def test_model_from_dict_rejects_nan():
    d = json.loads(tiny_model().to_json())
    d["sigma"] = float("nan")
    with pytest.raises(ForecastError, match="corrupt"):
        model_from_dict(d, "x.json")


def test_shipped_model_loads_and_forecasts():
    m = load_model()
    assert {"mlp/two_hot", "any"} <= set(m.families) and m.null_band > 1
    assert set(m.features) <= set(ALL_FEATURES)
    fc = forecast_rows(synthetic_rows(1500), RECIPE, 400, m, budget=4000)
    assert 0.0 <= fc.p_groks <= 1.0
    assert fc.cut_step < fc.low <= fc.t_val99 <= fc.high


def test_tracker_forecasts_from_memorisation_at_every_row_and_never_raises():
    tr = ForecastTracker(RECIPE, 4000, model=tiny_model())
    rows = synthetic_rows(1200)
    lines = [tr.on_row(r) for r in rows]
    t_mem = next(r["step"] for r in rows if r["train_acc"] >= 0.99)
    first = next(i for i, line in enumerate(lines) if line is not None)
    assert rows[first]["step"] >= t_mem and all(line is None for line in lines[:first])
    assert lines[first + 5].startswith("forecast: groks")
    tr2 = ForecastTracker(RECIPE, 4000, model=tiny_model())
    for r in rows[:40]:
        tr2.on_row(r)
        if tr2.forecast is not None:
            assert tr2.forecast.cut_step == r["step"]  # never older than the last evaluation
    assert lines[-1].startswith("forecast: grokked at step")
    bad = ForecastTracker(Recipe("transformer", 1e-3, 1.0, 0.999, 31), 4000, model=tiny_model())
    assert [bad.on_row(r) for r in rows][-1].startswith("forecast: n/a (no fitted head")


def test_cure_fit_recovers_the_model_and_ignoring_censoring_does_not():
    """Runs grok at all with P = sigmoid(1.5 x0) and then after ln-time 0.5 + x1 (+ 0.7 noise); the
    rest, and late ones, are censored at a random bound. The fit recovers both heads and sigma."""
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 2))
    groks = rng.random(n) < 1 / (1 + np.exp(-1.5 * X[:, 0]))
    y_true = 0.5 + 1.0 * X[:, 1] + 0.7 * rng.normal(size=n)
    bound = rng.uniform(0, 4, size=n)  # censoring times
    event = groks & (y_true <= bound)
    y = np.where(event, y_true, bound)
    w = np.ones(n)
    fit = fit_cure(X, y, event, w, alpha=1e-6)
    assert fit.coef / fit.scale == pytest.approx([0.0, 1.0], abs=0.1) and fit.sigma == pytest.approx(0.7, abs=0.07)
    assert fit.cure_coef / fit.scale == pytest.approx([1.5, 0.0], abs=0.25)
    naive = fit_cure(X, y, np.ones(n, bool), w, alpha=1e-6)  # the control: censored taken as grokked there
    assert abs(naive.coef[1] / naive.scale[1] - 1.0) > 0.2 or abs(naive.sigma - 0.7) > 0.15


def test_weight_norm_law_recovers_its_constants():
    runs = []
    for lr, wd, seed in [(1e-3, 1.0, 0), (2e-3, 1.0, 1), (1e-3, 2.0, 2)]:
        rate = 2 * 0.5 * lr * wd  # kappa 0.5: V = ||θ||² contracts at 2 kappa lr wd per step
        t_mem, rho = 200, 0.4
        t_val = t_mem + round(math.log(1 / rho) / rate / 20) * 20
        rows = synthetic_rows(t_val, t_mem=t_mem, end=t_val, rate=rate, seed=seed)
        runs.append((rows, Recipe("mlp/two_hot", lr, wd, 0.999, 31), t_val))
    laws = fit_laws(runs)
    assert laws["mlp/two_hot"].kappa == pytest.approx(0.5, rel=0.05)
    assert laws["mlp/two_hot"].rho == pytest.approx(0.4, rel=0.05) and laws["any"].n == 3
    rows, recipe, t_val = runs[0]
    physics, observed = law_times(law_inputs(rows, 600), recipe, laws["mlp/two_hot"])
    assert physics == pytest.approx(t_val, rel=0.05) and observed == pytest.approx(t_val, rel=0.05)
    no_decay = Recipe("mlp/two_hot", 1e-3, 0.0, 0.999, 31)
    assert law_times(law_inputs(rows, 600), no_decay, Law(0.5, 0.4, 3))[0] == math.inf


@pytest.mark.parametrize(("rows", "label"), [
    (synthetic_rows(1200), "grokking"),
    (synthetic_rows(300), "not grokking"),  # test accuracy reached 99% right after memorisation
    (synthetic_rows(1200, acc_at_mem=0.5), "delayed, not from chance"),
    (synthetic_rows(None), "memorised, not generalised yet"),
    (synthetic_rows(None)[:5], "not memorised yet"),
])
def test_verdict(rows, label):
    v = verdict(rows, n_classes=31, null_band=2.0)
    assert v.label == label and "\n" not in v.line()


def _fit_run(i: int, group: str, t_val: int | None, wd: float, noise: float = 0.0) -> FitRun:
    rows = synthetic_rows(t_val, rate=2e-4 * wd, end=4000 if t_val is None else round(t_val * 1.1 / 20) * 20, seed=i)
    t_val = next((r["step"] for r in rows if r["test_acc"] >= 0.99), None)  # stopped there
    cfg = SimpleNamespace(task=SimpleNamespace(noise=noise))
    recipe = Recipe("mlp/two_hot", 1e-3, wd, 0.999, 31)
    t_mem = next(r["step"] for r in rows if r["train_acc"] >= 0.99)
    return FitRun(Path(f"r{i}"), group, cfg, rows, recipe, 4000, rows[-1]["step"], t_mem, t_val,
                  {"family": "mlp/two_hot", "width": "w", "op": "add", "p": 31, "noise": noise, "seed": i})


def _small_corpus() -> list[FitRun]:
    runs, i = [], 0
    for g, wds in enumerate([(0.5, 1.0, 2.0), (0.7, 1.5, 3.0), (0.6, 1.2, 2.5)]):
        for wd in wds:
            for _ in range(2):
                t_val = int(200 + 600 / wd) // 20 * 20 if wd >= 0.7 else None
                runs.append(_fit_run(i, f"s{g}", t_val, wd))
                i += 1
    runs.append(_fit_run(i, "null", None, 1.0, noise=0.98))
    return runs


def test_fit_and_held_out_evaluation_on_a_small_corpus():
    """Grokking time scales as 1 / wd; the fit, chosen by leave-one-sweep-out, ranks held-out runs."""
    runs = _small_corpus()
    m = fit_model(runs)
    assert m.info["runs"] == len(runs) and m.null_band < 5 and m.sigma > 0
    scores = evaluate(runs, lambda r: r.group, only=["s0", "s1"])
    s = scores[("2 t_mem", "forecast")]
    assert s.n > 0 and s.n_time > 0 and math.isfinite(s.med_rel_err)


def test_stop_rule_false_negative_rate_is_measured_held_out():
    runs = _small_corpus()
    rule = stop_rule_info(runs)
    raw: dict = {}
    evaluate(runs, lambda r: r.group, raw=raw, protocols=["20% of budget"])
    preds = [q for _, q in raw[("20% of budget", "forecast")] if q.label is not None]
    stopped = [q for q in preds if q.p < STOP_P]
    assert rule["held_out_by"] == "sweep" and rule["n_runs"] == len(runs) and rule["p"] == STOP_P
    assert rule["n_stopped"] == len(stopped) and rule["n_stopped_grokked"] == sum(q.label for q in stopped)
    assert stop_rule_info(runs[:3]) is None  # one sweep, one family: nothing to hold out


def test_the_verdict_of_a_regression_rests_on_the_delay_alone_and_dense_tasks_count_their_classes():
    """A regression has no chance level: the null band does not apply and the delay decides; a class
    task's chance is 1 / its number of classes (parity: 2), so its band is measured in those multiples."""
    from grokscope.config import RunConfig
    from grokscope.forecast.features import n_classes_of
    from grokscope.forecast.verdict import verdict

    rows = [{"step": s, "train_acc": tr, "test_acc": te} for s, tr, te in
            [(0, 0.1, 0.1), (100, 0.99, 0.6), (1000, 1.0, 0.995)]]
    v = verdict(rows, None, 1.56)
    assert v.label == "grokking" and "no chance level" in v.reason and v.acc_at_mem_x_chance is None
    assert verdict(rows, 2, 1.56).label == "grokking"  # 0.6 = 1.2× chance of 2 classes: inside the band
    assert verdict(rows, 10, 1.56).label == "delayed, not from chance"  # 6× chance of 10 classes
    dense = RunConfig().override(["task.name=parity", "model.arch=dense", "task.n_train=8", "task.n_test=8"])
    assert n_classes_of(dense) == 2 and n_classes_of(RunConfig()) == 97
    assert n_classes_of(RunConfig().override(["task.name=teacher", "model.arch=dense", "train.loss=mse"])) is None
