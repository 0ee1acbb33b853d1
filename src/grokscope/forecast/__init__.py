"""Forecast grokking from a run's rows after memorisation: when test accuracy reaches 99%, with an 80%
interval and P(by a horizon), and whether what happened is grokking at all.

`forecast_run(path)` reads a run directory; `ForecastTracker` feeds on a running run's rows (the
`grokscope run` progress line); `Monitor` takes rows from any training loop, and
`grokscope.forecast.hf.ForecastCallback` shows the forecast in a Hugging Face Trainer. The shipped
model (`model.json`, refit with `grokscope forecast fit`) is evaluated with numpy; fitting and
evaluation (`grokscope.forecast.fit`) need scipy. See docs/forecast.md.
"""

from grokscope.forecast.features import ForecastError, Recipe, family_of, recipe_of, trajectory_features
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.monitor import Monitor
from grokscope.forecast.predict import (
    Forecast,
    ForecastTracker,
    cut_for,
    forecast_history,
    forecast_rows,
    horizon_end,
    stop_rule_line,
)
from grokscope.forecast.run import forecast_run, verdict_run
from grokscope.forecast.verdict import Verdict, verdict

__all__ = [
    "Forecast", "ForecastError", "ForecastModel", "ForecastTracker", "Monitor", "Recipe", "Verdict", "cut_for",
    "family_of", "forecast_history", "forecast_rows", "forecast_run", "horizon_end", "load_model", "recipe_of",
    "stop_rule_line", "trajectory_features", "verdict", "verdict_run",
]
