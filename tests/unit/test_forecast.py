"""grokscope.forecast: features read only rows up to the cut, the JSON model, forecasts, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from grokscope.forecast import (
    Forecast,
    ForecastError,
    ForecastModel,
    ForecastTracker,
    forecast_rows,
    load_model,
    trajectory_features,
)
from grokscope.forecast.features import TRAJECTORY_FEATURES
from grokscope.forecast.model import model_from_dict
from grokscope.presets import load_preset


def synthetic_rows(budget: int, t_val: float | None, every: int = 50, seed: int = 0) -> list[dict]:
    """Curves shaped like a run that memorises by ~5% of the budget and groks at t_val (or never)."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(0, budget + 1, every):
        s = step / budget
        train_acc = min(1.0, 0.05 + s / 0.05)
        if t_val is None:
            test_acc, test_loss = 0.05 + 0.05 * s, 3.0 + 4 * s
        else:
            z = (step - t_val) / (0.05 * budget)
            test_acc = 0.05 + 0.95 / (1 + math.exp(-4 * z)) + (0.01 if step >= t_val else 0)
            test_loss = 10 ** (0.6 - 2.5 * step / t_val)
        rows.append({"step": step, "train_loss": 10 ** (-4 * min(s, 0.5)) * (1 + 0.05 * rng.random()),
                     "test_loss": test_loss, "train_acc": train_acc, "test_acc": min(test_acc, 1.0),
                     "weight_norm": 50 * math.exp(-s * (3 if t_val else 0.2))})
    return rows


def tiny_model(features=TRAJECTORY_FEATURES, families=("mlp/shared",)) -> ForecastModel:
    n = len(features)
    coef = [0.0] * n
    coef[list(features).index("test_loss_slope")] = -2.0
    return ForecastModel(features=list(features), families=list(families), mean=[0.0] * n, scale=[1.0] * n,
                         clf_coef=coef, clf_intercept=0.0, reg_coef=[0.0] * n, reg_intercept=math.log(2.0),
                         resid_q10=-0.2, resid_q90=0.3)


CFG = load_preset("pair2023").override(["train.steps=2000"])


def test_features_use_only_rows_up_to_the_cut():
    rows = synthetic_rows(2000, 1200)
    early = [r for r in rows if r["step"] <= 400]
    a = trajectory_features(early, 2000, 400)
    b = trajectory_features(rows, 2000, 400)  # the same run with every later row appended
    c = trajectory_features(synthetic_rows(2000, None)[:9] + rows[9:], 2000, 400)  # later rows of another run
    assert a == b
    assert a != c
    assert set(a) == set(TRAJECTORY_FEATURES)
    assert all(math.isfinite(v) for v in a.values())


def test_features_tell_a_falling_test_loss_from_a_rising_one():
    grok = trajectory_features(synthetic_rows(2000, 1200), 2000, 400)
    never = trajectory_features(synthetic_rows(2000, None), 2000, 400)
    assert grok["test_loss_slope"] < 0 < never["test_loss_slope"]
    assert grok["wn_slope"] < never["wn_slope"]


def test_json_model_round_trips(tmp_path):
    m = tiny_model()
    path = m.save(tmp_path / "m.json")
    back = load_model(path)
    assert back == m
    x = np.array([trajectory_features(synthetic_rows(2000, 1200), 2000, 400)[n] for n in m.features])
    assert back.p_groks(x[None])[0] == pytest.approx(m.p_groks(x[None])[0])


def test_shipped_model_loads_and_forecasts():
    m = load_model()
    assert "mlp/shared" in m.families
    assert not {"weight_decay", "frac_train", "log2_width"} & set(m.features)  # the default reads no config
    fc = forecast_rows(synthetic_rows(2000, 1500), CFG, 400, m)
    assert 0.0 <= fc.p_groks <= 1.0
    assert fc.cut_step < fc.low <= fc.t_val99 <= fc.high


def test_forecast_probability_and_interval():
    fc = forecast_rows(synthetic_rows(2000, 1200), CFG, 400, tiny_model())
    assert isinstance(fc, Forecast) and not fc.observed
    assert 0.5 < fc.p_groks <= 1.0  # falling test loss -> likely (the tiny model's one coefficient)
    assert fc.low <= fc.t_val99 <= fc.high
    assert fc.t_val99 == 800  # exp(log 2) * cut
    assert "forecast: groks ≈ step 800" in fc.line()
    never = forecast_rows(synthetic_rows(2000, None), CFG, 400, tiny_model())
    assert never.p_groks < 0.5


def test_a_run_that_already_grokked_is_observed():
    fc = forecast_rows(synthetic_rows(2000, 300), CFG, 400, tiny_model())
    assert fc.observed and fc.p_groks == 1.0 and fc.low == fc.t_val99 == fc.high <= 400


def test_too_few_points_is_one_line():
    with pytest.raises(ForecastError, match="cannot forecast: 3 evaluation points") as e:
        forecast_rows(synthetic_rows(2000, 1200, every=100)[:4], CFG, 300, tiny_model())
    assert "\n" not in str(e.value)


def test_unknown_family_cannot_be_forecast():
    cfg = load_preset("nanda2023").override(["train.steps=2000"])
    with pytest.raises(ForecastError, match="cannot forecast: the model was fitted on mlp/shared runs, not transformer"):
        forecast_rows(synthetic_rows(2000, 1200), cfg, 400, tiny_model())


@pytest.mark.parametrize("text", ["{not json", json.dumps({"format": "other"}), json.dumps({"format": "grokscope-forecast/1"}),
                                  None])
def test_corrupt_model_file_is_one_line(tmp_path, text):
    path = tmp_path / "m.json"
    if text is None:  # right keys, wrong sizes
        d = json.loads(tiny_model().to_json())
        d["clf_coef"] = d["clf_coef"][:-1]
        text = json.dumps(d)
    path.write_text(text)
    with pytest.raises(ForecastError, match=r"m\.json") as e:
        load_model(path)
    assert "\n" not in str(e.value)


def test_model_from_dict_rejects_nan():
    d = json.loads(tiny_model().to_json())
    d["mean"][0] = float("nan")
    with pytest.raises(ForecastError, match="corrupt"):
        model_from_dict(d, "x.json")


def test_tracker_waits_for_the_warmup_and_never_raises():
    tr = ForecastTracker(CFG, fraction=0.2, model=tiny_model())
    lines = [tr.on_row(r) for r in synthetic_rows(2000, 1200)]
    assert lines[0] is None and lines[7] is None  # step 350 < 400
    assert lines[9] is not None and lines[9].startswith("forecast: groks")
    assert lines[-1].startswith("forecast: grokked at step")
    bad = ForecastTracker(load_preset("nanda2023").override(["train.steps=2000"]), model=tiny_model())
    line = [bad.on_row(r) for r in synthetic_rows(2000, 1200)][-1]
    assert line.startswith("forecast: n/a (the model was fitted on")
