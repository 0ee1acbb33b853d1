"""The forecast and verdict of a run directory (finished or not): its config and metrics rows up to the cut."""

from __future__ import annotations

from pathlib import Path

from grokscope.forecast.features import ForecastError, recipe_of
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import Forecast, cut_for, forecast_rows
from grokscope.forecast.verdict import Verdict, verdict


def forecast_run(path: str | Path, fraction: float | None = None, step: int | None = None,
                 model: ForecastModel | str | Path | None = None) -> tuple[Forecast, Verdict]:
    """The forecast of a run directory from its rows up to `step`, or `fraction` (default 0.2) of the steps it
    trained (of its budget, if earlier; never before memorisation), and the verdict on all its rows so far."""
    from grokscope.store.names import CONFIG
    from grokscope.store.rundir import read_config, read_metrics

    path = Path(path)
    if not (path / CONFIG).exists():
        raise ForecastError(f"{path} is not a run directory (no {CONFIG})")
    cfg = read_config(path)
    m = model if isinstance(model, ForecastModel) else load_model(model)
    rows = read_metrics(path)
    recipe = recipe_of(cfg)
    budget = int(cfg.train.steps)
    fc = forecast_rows(rows, recipe, cut_for(rows, budget, fraction, step), m, budget)
    return fc, verdict(rows, recipe.n_classes, m.null_band)
