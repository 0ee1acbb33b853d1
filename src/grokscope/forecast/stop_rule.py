"""The forecaster's stop rule, handed to the engine by whoever trains (`grokscope.lifecycle`):
at a model's first evaluation at or after 20% of its budget, stop it if the forecast P(groks by the
horizon, min(budget, 1000 t_mem)) < train.stop_forecast_p. It reads only the model's own history; a
model not memorised by then, or one it cannot forecast (or any numeric failure), keeps training (the
last two with one warning)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from grokscope.config import RunConfig
from grokscope.events import EVENT_THRESHOLD
from grokscope.forecast.features import ForecastError, memorised_at, recipe_of
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import DEFAULT_FRACTION, forecast_rows
from grokscope.train.state import Member
from grokscope.train.stop_rules import Rule, asks_for

log = logging.getLogger(__name__)


class ForecastStop(Rule):
    """`model`: the forecaster (default: the shipped model, loaded on first use)."""

    name = "forecast"

    def __init__(self, model: ForecastModel | None = None):
        self._model: ForecastModel | ForecastError | None = model  # or why it cannot load

    def active(self, cfg: RunConfig) -> bool:
        return asks_for(self.name, cfg)

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        seen = m.rules.setdefault(self.name, {})
        if seen.get("checked") or step < round(DEFAULT_FRACTION * cfg.train.steps):
            return False
        seen["checked"] = True  # one look, at the cut
        if row["test_acc"] >= EVENT_THRESHOLD or memorised_at(m.history) is None:
            return False  # grokked, or not memorised: nothing to forecast
        p = self._p_groks(m, cfg, step)
        if p is None:
            return False
        seen["p_groks"] = p
        if p < cfg.train.stop_forecast_p:
            log.info("%s stopped at step %d: forecast P(groks) = %.3g < %g", cfg.run_id, step, p, cfg.train.stop_forecast_p)
            return True
        return False

    def _p_groks(self, m: Member, cfg: RunConfig, step: int) -> float | None:
        try:
            if self._model is None:
                self._model = load_model()  # once per rule
            if isinstance(self._model, ForecastError):
                raise self._model
            p = float(forecast_rows(m.history, recipe_of(cfg), step, self._model, int(cfg.train.steps)).p_groks)
            if not math.isfinite(p):
                raise ValueError(f"P(groks) = {p}")
            return p
        except (ForecastError, ValueError, ArithmeticError, KeyError, TypeError, np.linalg.LinAlgError) as e:
            if self._model is None and isinstance(e, ForecastError):  # unreadable model: keep the error
                self._model = e
            log.warning("%s: the forecast stop rule does not apply, training on: %s", cfg.run_id, str(e) or type(e).__name__)
            return None

    def summary(self, m: Member) -> dict[str, Any]:
        p = m.rules.get(self.name, {}).get("p_groks")
        return {} if p is None else {"forecast_stop_p_groks": round(p, 6)}
