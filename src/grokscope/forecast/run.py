"""The forecast of a run directory (finished or not): its config and metrics rows up to the cut."""

from __future__ import annotations

from pathlib import Path

from grokscope.events import EVENT_THRESHOLD, first_step
from grokscope.forecast.features import ForecastError
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import Forecast, cut_for, forecast_rows


def forecast_run(path: str | Path, fraction: float | None = None, step: int | None = None,
                 model: ForecastModel | str | Path | None = None) -> Forecast:
    """The forecast of a run directory (finished or not) from its rows up to a fraction of its budget or a step."""
    from grokscope.store.names import CONFIG
    from grokscope.store.rundir import read_config, read_metrics

    path = Path(path)
    if not (path / CONFIG).exists():
        raise ForecastError(f"{path} is not a run directory (no {CONFIG})")
    cfg = read_config(path)
    m = model if isinstance(model, ForecastModel) else load_model(model)
    rows = read_metrics(path)
    cut = cut_for(int(cfg.train.steps), fraction, step)
    if step is None and rows and int(rows[-1]["step"]) < cut and first_step(rows, "test_acc", EVENT_THRESHOLD) is None:
        cut = int(rows[-1]["step"])  # an unfinished run before f·budget: forecast from what there is
    return forecast_rows(rows, cfg, cut, m)
