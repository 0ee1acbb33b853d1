"""Forecasting one run from its rows so far: when test accuracy reaches 99% (t_val99), with an 80%
interval, and P(it does by a horizon step H).

numpy only and below the store: the training engine reads it for its forecast stop rule
(`train.stop_forecast_p`); reading a run directory is `grokscope.forecast.run`.

The horizon H is min(budget, HORIZON_MULT · t_mem): "within the budget, but not more than 1,000 times
as long as memorisation took". Without a budget (a foreign training loop) it is HORIZON_MULT · t_mem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grokscope.events import EVENT_THRESHOLD, first_step
from grokscope.forecast.features import (
    ForecastError,
    Recipe,
    as_vector,
    log_spaced,
    memorised_at,
    rows_until,
    trajectory_features,
)
from grokscope.forecast.law import law_features, law_inputs
from grokscope.forecast.model import Z80, ForecastModel, load_model, normal_cdf

HORIZON_MULT = 1000
DEFAULT_FRACTION = 0.2  # `grokscope forecast RUN` and the stop rule look at 20% of the budget (or of the trained steps)


def horizon_end(t_mem: int, budget: int | None = None) -> int:
    """The horizon step H of a run memorised at t_mem: min(budget, HORIZON_MULT · t_mem)."""
    h = HORIZON_MULT * max(int(t_mem), 1)
    return h if budget is None else min(int(budget), h)


@dataclass(frozen=True)
class Forecast:
    """A forecast made at `cut_step` (an evaluated step) of a run memorised at `t_mem`.

    p_groks is P(t_val99 <= horizon); t_val99 the median forecast if it groks, [low, high] its 80% interval.
    `observed`: test accuracy had reached 99% by the cut; t_val99 is then the observed step.
    """

    cut_step: int
    t_mem: int
    horizon: int
    p_groks: float
    t_val99: int
    low: int
    high: int
    observed: bool = False

    def line(self) -> str:
        """One line for a progress bar or a table."""
        if self.observed:
            return f"forecast: grokked at step {self.t_val99:,}"
        p = f"P(by step {self.horizon:,}) = {self.p_groks:.2f}"
        when = f"≈ step {self.t_val99:,} (80% interval {self.low:,}–{self.high:,})"
        if self.p_groks < 0.5:  # the time is then only "if it groks"
            return f"forecast: P(groks by step {self.horizon:,}) = {self.p_groks:.2f}; if it does, {when}"
        return f"forecast: groks {when}, {p}"

    def as_dict(self) -> dict[str, Any]:
        return {"forecast_step": self.cut_step, "forecast_t_mem": self.t_mem, "forecast_horizon": self.horizon,
                "forecast_p_groks": round(self.p_groks, 4), "forecast_t_val99": self.t_val99,
                "forecast_t_low": self.low, "forecast_t_high": self.high, "forecast_observed": self.observed}


def _step(cut: int, log_ratio: float) -> int:
    """cut + cut · exp(log_ratio), as a step after the cut (the run has not grokked by then)."""
    return cut + max(1, int(round(cut * math.exp(min(log_ratio, 30.0)))))


def forecast_rows(rows: Sequence[Mapping[str, Any]], recipe: Recipe, cut_step: int,
                  model: ForecastModel | None = None, budget: int | None = None) -> Forecast:
    """The forecast of a run made from its rows up to `cut_step` only (the last evaluation at or before it).

    ForecastError ("cannot forecast ...") before memorisation, with too few evaluations in the window,
    or for a family the model has no head for.
    """
    model = model or load_model()
    law = model.law(recipe.family)
    early = rows_until(rows, cut_step)
    if not early:
        raise ForecastError(f"cannot forecast: no evaluation up to step {cut_step:,}")
    cut = int(early[-1]["step"])
    t_mem = memorised_at(early)
    t_obs = first_step(early, "test_acc", EVENT_THRESHOLD)
    if t_obs is not None:
        return Forecast(cut, t_mem if t_mem is not None else t_obs, horizon_end(t_mem or t_obs, budget), 1.0,
                        t_obs, t_obs, t_obs, observed=True)
    feats = trajectory_features(early, recipe, cut) | law_features(law_inputs(early, cut), recipe, law)
    assert t_mem is not None  # trajectory_features raised otherwise
    x = as_vector(feats, model.features)[None, :]
    mu, p_ever = float(model.mu(x)[0]), float(model.p_ever(x)[0])
    horizon = horizon_end(t_mem, budget)
    p = 0.0 if horizon <= cut else p_ever * float(normal_cdf((math.log((horizon - cut) / cut) - mu) / model.sigma))
    s = Z80 * model.sigma
    return Forecast(cut, t_mem, horizon, p, _step(cut, mu), _step(cut, mu - s), _step(cut, mu + s))


def forecast_history(rows: Sequence[Mapping[str, Any]], recipe: Recipe, model: ForecastModel | None = None,
                     budget: int | None = None, max_points: int = 200) -> list[Forecast]:
    """The forecasts the run would have shown at its evaluations from memorisation until it grokked (at most
    `max_points`, spread evenly in log-step); evaluations it cannot be forecast at are left out."""
    model = model or load_model()
    srt = sorted(rows, key=lambda r: int(r["step"]))
    t_mem = memorised_at(srt)
    if t_mem is None:
        return []
    t_obs = first_step(srt, "test_acc", EVENT_THRESHOLD)
    steps = [int(r["step"]) for r in srt if t_mem <= int(r["step"]) and (t_obs is None or int(r["step"]) < t_obs)]
    out = []
    for s in log_spaced(steps, max_points):
        try:
            out.append(forecast_rows(srt, recipe, s, model, budget))
        except ForecastError:
            continue
    return out


def cut_for(rows: Sequence[Mapping[str, Any]], budget: int, fraction: float | None = None,
            step: int | None = None) -> int:
    """The cut step of `grokscope forecast RUN`: `step`; or `fraction` (default 0.2) of the steps the run
    trained (of the budget, if that is earlier), but not before memorisation."""
    if step is not None:
        if step <= 0:
            raise ForecastError(f"--step must be > 0, got {step}")
        return step
    f = DEFAULT_FRACTION if fraction is None else fraction
    if not 0 < f <= 1:
        raise ForecastError(f"--fraction must be in (0, 1], got {f}")
    trained = max((int(r["step"]) for r in rows), default=0)
    cut = max(1, int(round(f * min(trained, budget))))
    t_mem = memorised_at(rows)
    return max(cut, t_mem) if t_mem is not None else cut


class ForecastTracker:
    """Feeds on evaluation rows (a run's on_row) and keeps the latest forecast line; never raises.

    From memorisation on, the forecast is remade at every evaluation (numpy only, cheap next to a
    training step), so the line shown is never older than the last evaluation.
    """

    def __init__(self, recipe: Recipe, budget: int | None = None, model: ForecastModel | None = None,
                 history: Sequence[Mapping[str, Any]] = ()):
        self.recipe, self.budget = recipe, budget
        self.rows: list[dict[str, Any]] = [dict(r) for r in history]  # a resumed run's rows so far
        self.line: str | None = None
        self.forecast: Forecast | None = None  # the forecast behind `line` (None: none, or n/a)
        self._model = model
        try:
            self._model = model or load_model()
        except ForecastError as e:
            self.line = f"forecast: n/a ({e})"

    def on_row(self, row: Mapping[str, Any]) -> str | None:
        """Add a row; the current forecast line (None until memorisation)."""
        self.rows.append(dict(row))
        if self._model is None:
            return self.line
        self.forecast = None
        try:
            self.forecast = forecast_rows(self.rows, self.recipe, int(row["step"]), self._model, self.budget)
            self.line = self.forecast.line()
        except ForecastError as e:
            msg = str(e)
            if msg.startswith("cannot forecast yet"):
                self.line = None  # not memorised: nothing to say yet
            elif "evaluations in steps" in msg:  # just memorised: the window fills as evaluations come
                self.line = "forecast: from the next evaluations (it needs 3 in the last half of the steps)"
            else:
                self.line = f"forecast: n/a ({msg.removeprefix('cannot forecast: ')})"
        except (ValueError, ArithmeticError, KeyError, TypeError, np.linalg.LinAlgError) as e:
            self.line = f"forecast: n/a ({type(e).__name__})"  # a forecast never stops a run
        return self.line


def stop_rule_line(p: float, model: ForecastModel) -> str:
    """One line describing the stop rule "P(groks by the horizon) < p at 20% of the budget" and its
    false-negative rate as measured when the model was evaluated (`info["stop_rule"]`, `grokscope forecast fit`)."""
    rule = f"stopping runs forecast never to grok: P(by the horizon) < {p:g} at {DEFAULT_FRACTION:.0%} of the budget"
    m = model.info.get("stop_rule")
    if not isinstance(m, dict) or "fn_rate" not in m:
        return f"{rule}; false-negative rate not measured for this forecast model (refit it with grokscope forecast fit)"
    measured = (f"{m['n_stopped_grokked']} of {m['n_stopped']} stopped runs grokked; held out by "
                f"{m['held_out_by']}, {m['n_runs']} runs")
    fn = "n/a" if m["fn_rate"] is None else f"{m['fn_rate']:.1%}"
    if not math.isclose(float(m["p"]), p):
        return f"{rule}; false-negative rate not measured for this threshold (at P < {m['p']:g}: {fn}, {measured})"
    return f"{rule}; measured false-negative rate {fn} ({measured})"
