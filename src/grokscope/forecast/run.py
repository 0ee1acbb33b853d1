"""The forecast and verdict of a run directory (finished or not): its config and metrics rows up to the cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grokscope.forecast.features import ForecastError, recipe_of
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import Forecast, cut_for, forecast_rows
from grokscope.forecast.verdict import Verdict, verdict


def _read(path: str | Path, model: ForecastModel | str | Path | None) -> tuple[Any, list[dict], ForecastModel]:
    """(config, metrics rows, forecast model) of a run directory; ForecastError if it is not one."""
    from grokscope.store.names import CONFIG
    from grokscope.store.rundir import read_config, read_metrics

    path = Path(path)
    if not (path / CONFIG).exists():
        raise ForecastError(f"{path} is not a run directory (no {CONFIG})")
    m = model if isinstance(model, ForecastModel) else load_model(model)
    return read_config(path), read_metrics(path), m


def forecast_run(path: str | Path, fraction: float | None = None, step: int | None = None,
                 model: ForecastModel | str | Path | None = None) -> tuple[Forecast, Verdict]:
    """The forecast of a run directory from its rows up to `step`, or `fraction` (default 0.2) of the steps it
    trained (of its budget, if earlier; never before memorisation), and the verdict on all its rows so far."""
    cfg, rows, m = _read(path, model)
    recipe = recipe_of(cfg)
    budget = int(cfg.train.steps)
    fc = forecast_rows(rows, recipe, cut_for(rows, budget, fraction, step), m, budget)
    return fc, verdict(rows, recipe.n_classes, m.null_band)


def verdict_run(path: str | Path, model: ForecastModel | str | Path | None = None) -> Verdict:
    """The verdict on a run directory's rows so far; it needs no forecast (only the model's null band)."""
    cfg, rows, m = _read(path, model)
    return verdict(rows, recipe_of(cfg).n_classes, m.null_band)
