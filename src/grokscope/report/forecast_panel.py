"""The run report's forecast-history panel: the forecast of t_val99 the run would have shown at each
evaluation from memorisation until it grokked (`forecast.forecast_history`), beside what happened.

Made at report time from the run's config and metrics (nothing new is stored). Where there is no
history (never memorised, grokked as it memorised, or a family the forecast model has no head for),
the panel is one line saying why (`HistoryPanel.why`) instead of a figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grokscope.report.figures import BLUE, GRAY, ORANGE, STEP_TICKS, _axis, _run_layout

FIG_ID = "fig-forecast-history"
NONE_ID = "forecast-history-none"  # the element holding the "why not" line
PNG_NAME = "forecast_history.png"
CAPTION = ("The forecast t_val99 (median, with its 80% interval) the run would have shown at each evaluation from "
           "memorisation until test accuracy reached 99%, with the actual t_val99 and the step it memorised (t_mem).")
BAND = "rgba(31,119,180,0.18)"


@dataclass(frozen=True)
class HistoryPanel:
    """The forecasts to draw (`history`), the run's t_mem / t_val99 / horizon, or why there are none (`why`)."""

    history: list[Any] = field(default_factory=list)  # forecast.Forecast, in step order
    t_mem: int | None = None
    t_val99: int | None = None
    horizon: int | None = None
    why: str | None = None  # None: there is a figure


def panel_of(rows: Sequence[Mapping[str, Any]], recipe: Any, budget: int | None, model: Any = None) -> HistoryPanel:
    """The panel of a run's rows (`forecast.Recipe`, its step budget); never raises a ForecastError."""
    from grokscope.events import EVENT_THRESHOLD, first_step
    from grokscope.forecast import ForecastError, forecast_history, forecast_rows, load_model
    from grokscope.forecast.features import memorised_at

    t_mem = memorised_at(rows)
    t_val99 = first_step(sorted(rows, key=lambda r: int(r["step"])), "test_acc", EVENT_THRESHOLD)
    if t_mem is None:
        return HistoryPanel(why="No forecast history: train accuracy never reached 99%, and the forecast starts "
                                "at memorisation.", t_val99=t_val99)
    try:
        model = model or load_model()
        hist = forecast_history(rows, recipe, model=model, budget=budget)
    except ForecastError as e:
        return HistoryPanel(t_mem=t_mem, t_val99=t_val99, why=f"No forecast history: {_reason(e)}.")
    if hist:
        return HistoryPanel(hist, t_mem, t_val99, hist[-1].horizon)
    if t_val99 is not None and t_val99 <= t_mem:
        why = (f"No forecast history: test accuracy reached 99% (step {t_val99:,}) by the evaluation where the run "
               f"memorised (step {t_mem:,}), so there was nothing left to forecast.")
        return HistoryPanel(t_mem=t_mem, t_val99=t_val99, why=why)
    # why the forecast failed at every evaluation: ask once, at the last one before it grokked
    steps = [int(r["step"]) for r in rows if int(r["step"]) >= t_mem and (t_val99 is None or int(r["step"]) < t_val99)]
    try:
        forecast_rows(rows, recipe, max(steps, default=t_mem), model, budget)
        reason = "the forecast could not be made at any evaluation"
    except ForecastError as e:
        reason = _reason(e)
    return HistoryPanel(t_mem=t_mem, t_val99=t_val99, why=f"No forecast history: {reason}.")


def _reason(e: Exception) -> str:
    """A ForecastError's message as the middle of a sentence."""
    msg = str(e).removeprefix("cannot forecast: ").removeprefix("cannot forecast yet: ").rstrip(".")
    return msg.replace("; ", ", ")  # one sentence on the page


def history_panel(run_dir: str | Path) -> HistoryPanel:
    """The panel of a run directory (its config and metrics rows, read here)."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import recipe_of
    from grokscope.store.rundir import read_config, read_metrics

    try:
        cfg = read_config(Path(run_dir))
        rows = read_metrics(Path(run_dir))
        return panel_of(rows, recipe_of(cfg), int(cfg.train.steps))
    except GrokscopeError as e:
        return HistoryPanel(why=f"No forecast history: {_reason(e)}.")
    except (ValueError, ArithmeticError, KeyError, TypeError) as e:  # odd rows: the report goes on without it
        return HistoryPanel(why=f"No forecast history: the forecast failed on this run's rows ({type(e).__name__}).")


def _y_range(p: HistoryPanel) -> list[float]:
    """A log10 range holding the medians, t_val99 and the horizon; the interval may leave it at the top (its
    upper end reaches step ~cut·e^30 when the forecast is "never"), so a far-off band never flattens the rest."""
    meds = [f.t_val99 for f in p.history]
    keep = [*meds, *(v for v in (p.t_val99, p.horizon) if v)]
    lo = min([*keep, *(f.low for f in p.history)])
    hi = min(max(f.high for f in p.history), 3 * max(keep))
    hi = max(hi, 1.5 * max(keep))
    return [round(math.log10(max(lo / 1.5, 1)), 4), round(math.log10(hi), 4)]


def figure(p: HistoryPanel) -> dict[str, Any]:
    """The plotly spec: forecast step (log x) against forecast t_val99 (log y), interval as a band."""
    x = [f.cut_step for f in p.history]
    ends = [min(x), max(x)]
    yr = _y_range(p)
    skip = {"hoverinfo": "skip"}
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": x, "y": [f.high for f in p.history], "line": {"width": 0},
         "showlegend": False, "name": "80% interval (upper)", **skip},
        {"type": "scatter", "mode": "lines", "x": x, "y": [f.low for f in p.history], "line": {"width": 0},
         "fill": "tonexty", "fillcolor": BAND, "name": "80% interval", **skip},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": [f.t_val99 for f in p.history],
         "name": "median forecast", "line": {"color": BLUE, "width": 1.6}, "marker": {"size": 4, "color": BLUE},
         "customdata": [[f.low, f.high, round(f.p_groks, 3)] for f in p.history],
         "hovertemplate": "forecast at step %{x:,}: t_val99 ≈ %{y:,} (80%: %{customdata[0]:,}–%{customdata[1]:,}), "
                          f"P(by step {p.horizon or 0:,}) = %{{customdata[2]}}<extra></extra>"},
    ]
    if p.t_val99 is not None:
        data.append({"type": "scatter", "mode": "lines", "x": ends, "y": [p.t_val99] * 2,
                     "name": "actual t_val99", "line": {"color": ORANGE, "width": 1.4, "dash": "dash"}, **skip})
    if p.horizon is not None:
        data.append({"type": "scatter", "mode": "lines", "x": ends, "y": [p.horizon] * 2, "name": "horizon",
                     "line": {"color": GRAY, "width": 1, "dash": "dot"}, **skip})
    if p.t_mem is not None:  # a trace, not a shape: it is named in the legend, never labelled over the curves
        data.append({"type": "scatter", "mode": "lines", "x": [p.t_mem] * 2, "y": [10 ** yr[0], 10 ** yr[1]],
                     "name": "t_mem (memorised)", "line": {"color": GRAY, "width": 1.2, "dash": "dash"}, **skip})
    lay = _run_layout("forecast of t_val99 through training",
                      xaxis=_axis("forecast made at step (log scale)", log=True, **STEP_TICKS),
                      yaxis=_axis("forecast t_val99 (log scale)", log=True, range=yr, **STEP_TICKS),
                      hovermode="closest")
    lay["margin"]["l"] = 84  # room for step tick labels such as 100,000 beside the axis title
    lay["legend"] = {**lay["legend"], "traceorder": "normal"}  # plotly reverses it for a fill="tonexty" band
    return {"data": data, "layout": lay}


def plot_png(p: HistoryPanel, path: Path, title: str = "") -> Path:
    """The same figure as a static PNG (a bare matplotlib Figure: the caller's backend is left alone)."""
    from matplotlib.figure import Figure

    x = [f.cut_step for f in p.history]
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.subplots()
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.9)
    ax.fill_between(x, [f.low for f in p.history], [f.high for f in p.history], color="tab:blue", alpha=0.18, lw=0,
                    label="80% interval")
    ax.plot(x, [f.t_val99 for f in p.history], "o-", ms=2.5, color="tab:blue", lw=1.4, label="median forecast")
    if p.t_val99 is not None:
        ax.axhline(p.t_val99, color="tab:orange", ls="--", lw=1.2, label=f"actual t_val99 (step {p.t_val99:,})")
    if p.horizon is not None:
        ax.axhline(p.horizon, color="gray", ls=":", lw=1, label=f"horizon (step {p.horizon:,})")
    if p.t_mem is not None:
        ax.axvline(p.t_mem, color="gray", ls="--", lw=1, label=f"t_mem (step {p.t_mem:,})")
    lo, hi = _y_range(p)
    ax.set(xscale="log", yscale="log", ylim=(10 ** lo, 10 ** hi), xlabel="forecast made at step",
           ylabel="forecast t_val99", title=title or "forecast of t_val99 through training")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    steps = FuncFormatter(lambda v, _: f"{v:,.0f}")  # 2,000, not 2×10³: steps as the rest of the page writes them
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(steps)
        axis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=100)
    return path
