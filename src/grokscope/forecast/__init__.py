"""Forecast grokking from early training: P(test accuracy >= 99% within the budget) and t_val99.

`forecast_run(path)` reads a run directory (finished or not) up to 20% of its budget; `ForecastTracker`
feeds on a running run's evaluation rows (the `grokscope run` progress line). The shipped model
(`model.json`, refit with `grokscope forecast fit`) is evaluated with numpy; fitting and evaluation
(`grokscope.forecast.fit`) need scikit-learn. See docs/forecast.md.
"""

from grokscope.forecast.features import ForecastError, config_features, family_of, trajectory_features
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import Forecast, ForecastTracker, cut_for, forecast_rows, stop_rule_line
from grokscope.forecast.run import forecast_run

__all__ = [
    "Forecast", "ForecastError", "ForecastModel", "ForecastTracker", "config_features", "cut_for", "family_of",
    "forecast_rows", "forecast_run", "load_model", "stop_rule_line", "trajectory_features",
]
