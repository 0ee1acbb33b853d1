"""Forecasting one run from its first rows: P(groks within budget) and t_val99 with an 80% interval.

numpy only and below the store: the training engine reads it for its forecast stop rule
(`train.stop_forecast_p`); reading a run directory is `grokscope.forecast.run`.
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
    as_vector,
    config_features,
    family_of,
    rows_until,
    trajectory_features,
)
from grokscope.forecast.model import ForecastModel, load_model

DEFAULT_FRACTION = 0.2


@dataclass(frozen=True)
class Forecast:
    """A forecast made at `cut_step` of a run whose budget is `budget` steps.

    `observed` is True when test accuracy had already reached 99% by the cut: then p_groks is 1 and
    t_val99 is the observed step (low = high = t_val99).
    """

    cut_step: int
    budget: int
    p_groks: float
    t_val99: int
    low: int
    high: int
    observed: bool = False

    def line(self) -> str:
        """One line for a progress bar or a table."""
        if self.observed:
            return f"forecast: grokked at step {self.t_val99:,} (observed)"
        return (f"forecast: groks ≈ step {self.t_val99:,} (80% interval {self.low:,}–{self.high:,}), "
                f"P = {self.p_groks:.2f}")

    def as_dict(self) -> dict[str, Any]:
        return {"forecast_step": self.cut_step, "forecast_p_groks": round(self.p_groks, 4),
                "forecast_t_val99": self.t_val99, "forecast_t_low": self.low, "forecast_t_high": self.high,
                "forecast_observed": self.observed}


def forecast_rows(rows: Sequence[Mapping[str, Any]], cfg: Any, cut_step: int,
                  model: ForecastModel | None = None) -> Forecast:
    """The forecast of a run (its config and metrics rows) made from the rows up to `cut_step` only.

    ForecastError ("cannot forecast: ...") for a family the model was not fitted on or too few points.
    """
    model = model or load_model()
    budget = int(cfg.train.steps)
    family = family_of(cfg)
    if family not in model.families:
        raise ForecastError(f"cannot forecast: the model was fitted on {', '.join(model.families)} runs, "
                            f"not {family}; refit it on runs of this family (grokscope forecast fit)")
    cut_step = min(int(cut_step), budget)
    early = rows_until(rows, cut_step)
    t_obs = first_step(early, "test_acc", EVENT_THRESHOLD)
    if t_obs is not None:
        return Forecast(cut_step, budget, 1.0, t_obs, t_obs, t_obs, observed=True)
    feats = trajectory_features(early, budget, cut_step)
    if any(name in model.features for name in ("weight_decay", "frac_train", "log2_width")):
        feats |= config_features(cfg)
    x = as_vector(feats, model.features)[None, :]
    p = float(model.p_groks(x)[0])
    mid = float(model.log_ratio(x)[0])

    def step(log_ratio: float) -> int:  # never before the cut: the run has not grokked by then
        return max(cut_step + 1, int(round(cut_step * math.exp(min(log_ratio, 50.0)))))

    return Forecast(cut_step, budget, p, step(mid), step(mid + model.resid_q10), step(mid + model.resid_q90))


def cut_for(budget: int, fraction: float | None = None, step: int | None = None) -> int:
    """The cut step: `step`, or `fraction` (default 0.2) of the budget."""
    if step is not None:
        if step <= 0:
            raise ForecastError(f"--step must be > 0, got {step}")
        return min(step, budget)
    f = DEFAULT_FRACTION if fraction is None else fraction
    if not 0 < f <= 1:
        raise ForecastError(f"--fraction must be in (0, 1], got {f}")
    return max(1, int(round(f * budget)))


class ForecastTracker:
    """Feeds on evaluation rows (a run's on_row) and keeps the latest forecast line; never raises.

    Forecasts once the run is past `fraction` of its budget (the warm-up), at most every `every` rows,
    numpy only — cheap next to a training step.
    """

    def __init__(self, cfg: Any, fraction: float = DEFAULT_FRACTION, every: int = 5,
                 model: ForecastModel | None = None, history: Sequence[Mapping[str, Any]] = ()):
        self.cfg, self.every = cfg, every
        self.warmup = cut_for(int(cfg.train.steps), fraction)
        self.rows: list[dict[str, Any]] = [dict(r) for r in history]  # a resumed run's rows so far
        self.line: str | None = None
        self.forecast: Forecast | None = None  # the forecast behind `line` (None: none, or n/a)
        self._n = 0
        self._model = model
        try:
            self._model = model or load_model()
        except ForecastError as e:
            self.line = f"forecast: n/a ({e})"

    def on_row(self, row: Mapping[str, Any]) -> str | None:
        """Add a row; the current forecast line (None during the warm-up)."""
        self.rows.append(dict(row))
        if self._model is None or int(row["step"]) < self.warmup:
            return self.line
        self._n += 1
        if self.line is None or (self._n - 1) % self.every == 0:
            self.forecast = None
            try:
                fc = forecast_rows(self.rows, self.cfg, int(row["step"]), self._model)
                self.forecast, self.line = fc, fc.line()
            except ForecastError as e:
                self.line = f"forecast: n/a ({str(e).removeprefix('cannot forecast: ')})"
            except (ValueError, ArithmeticError, KeyError, TypeError, np.linalg.LinAlgError) as e:
                self.line = f"forecast: n/a ({type(e).__name__})"  # a forecast never stops a run
        return self.line


def stop_rule_line(p: float, model: ForecastModel) -> str:
    """One line describing the stop rule "P(groks) < p at 20% of the budget" and its false-negative rate
    as measured when the model was fitted (`info["stop_rule"]`, see `forecast.fit.stop_rule_info`)."""
    rule = f"stopping runs forecast never to grok: P < {p:g} at {DEFAULT_FRACTION:.0%} of the budget"
    m = model.info.get("stop_rule")
    if not isinstance(m, dict) or "fn_rate" not in m:
        return f"{rule}; false-negative rate not measured for this forecast model (refit it with grokscope forecast fit)"
    measured = (f"{m['n_stopped_grokked']} of {m['n_stopped']} stopped runs grokked; held out by "
                f"{m['held_out_by']}, {m['n_runs']} runs")
    fn = "n/a" if m["fn_rate"] is None else f"{m['fn_rate']:.1%}"
    if not math.isclose(float(m["p"]), p) or not math.isclose(float(m["fraction"]), DEFAULT_FRACTION):
        return (f"{rule}; false-negative rate not measured for this threshold (at P < {m['p']:g}: {fn}, "
                f"{measured})")
    return f"{rule}; measured false-negative rate {fn} ({measured})"
