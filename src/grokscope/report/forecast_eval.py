"""Figures and data of a held-out evaluation of the forecaster (`grokscope.forecast.fit.evaluate(..., raw=raw)`).

    write_eval_plots(raw, folder, name) -> [<name>_calibration.png, <name>_forecast_vs_actual.png,
                                            <name>_heldout.json]

`raw` maps (protocol, method) to the held-out (FitRun, Pred) pairs. The calibration diagram reads every
protocol of the "forecast" method; forecast vs actual reads the "20% of trained" protocol; the JSON
holds every pair of every method, so any other figure can be drawn from it without refitting.
Figures are bare `matplotlib.figure.Figure`s saved through the Agg canvas (no pyplot, so the caller's
backend is left alone), as the rest of report/.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

METHOD = "forecast"
SCATTER_PROTOCOL = "20% of trained"  # a key of grokscope.forecast.fit.PROTOCOLS: the cut `grokscope forecast` uses
N_BINS = 10
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
          "tab:olive", "tab:cyan")

Raw = Mapping[tuple[str, str], Sequence[tuple[Any, Any]]]  # (protocol, method) -> [(FitRun, Pred)]


def write_eval_plots(raw: Raw, folder: str | Path, name: str) -> list[Path]:
    """Write the calibration diagram, the forecast-vs-actual scatter and the held-out predictions (JSON)
    into `folder` (created); the paths written, in that order. A figure with nothing to draw says so."""
    from grokscope.store.files import write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [plot_calibration(raw, folder / f"{name}_calibration.png"),
             plot_forecast_vs_actual(raw, folder / f"{name}_forecast_vs_actual.png")]
    out = folder / f"{name}_heldout.json"
    write_text(out, json.dumps(heldout_records(raw), indent=1, allow_nan=False))  # atomic: a kill leaves no half file
    return [*paths, out]


def _num(v: Any) -> Any:
    """A JSON number: floats rounded to 6 digits, nan / inf -> None, numpy scalars unwrapped."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None
    return v


def heldout_records(raw: Raw) -> list[dict[str, Any]]:
    """One dict per held-out (run, prediction) pair of every protocol and method."""
    out = []
    for (protocol, method), pairs in raw.items():
        for r, q in pairs:
            out.append({"protocol": protocol, "method": method, "run": str(Path(r.path).name),
                        "family": r.region.get("family"),
                        **{k: _num(getattr(q, k)) for k in ("cut", "horizon", "label", "t_true", "p", "t_pred", "low",
                                                            "high")}})
    return out


def calibration_bins(p: Sequence[float], y: Sequence[int], bins: int = N_BINS) -> tuple[np.ndarray, ...]:
    """(mean p, observed frequency of y == 1, count) of the non-empty equal-width bins of p over [0, 1]."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)  # p = 1 falls in the last bin
    keep = [b for b in range(bins) if (idx == b).any()]
    return (np.array([p[idx == b].mean() for b in keep]), np.array([y[idx == b].mean() for b in keep]),
            np.array([(idx == b).sum() for b in keep]))


def plot_calibration(raw: Raw, path: Path) -> Path:
    """Reliability diagram of the forecast's P(groks by the horizon): per protocol, the observed share of
    runs that grokked by the horizon in each of N_BINS bins of p (points sized by their count)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.8, 5.4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfectly calibrated")
    drawn = 0
    for i, (protocol, pairs) in enumerate((proto, v) for (proto, m), v in raw.items() if m == METHOD):
        lab = [q for _, q in pairs if q.label is not None and math.isfinite(q.p)]  # None: outcome unknown
        if not lab:
            continue
        x, y, n = calibration_bins([q.p for q in lab], [q.label for q in lab])
        color = COLORS[i % len(COLORS)]
        ax.plot(x, y, color=color, lw=1.2, label=f"{protocol} ({len(lab)} runs)")
        ax.scatter(x, y, s=12 + 120 * n / n.max(), color=color, alpha=0.8, edgecolors="k", linewidths=0.4)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no held-out forecast with a known outcome", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal", xlabel="forecast P(groks by the horizon)",
           ylabel="observed fraction that grokked by the horizon",
           title=f"calibration of the forecast (held out, {N_BINS} bins; point size = runs)")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    return path


def plot_forecast_vs_actual(raw: Raw, path: Path, protocol: str = SCATTER_PROTOCOL) -> Path:
    """Forecast t_val99 (median, 80% interval as error bars) against the actual t_val99 of the held-out runs
    that grokked, log-log, coloured by model family."""
    from matplotlib.figure import Figure

    pairs = [(r, q) for r, q in raw.get((protocol, METHOD), ()) if q.t_true is not None and math.isfinite(q.t_pred)]
    fig = Figure(figsize=(6.2, 5.4), layout="constrained")
    ax = fig.subplots()
    families = sorted({str(r.region.get("family")) for r, _ in pairs})
    for i, fam in enumerate(families):
        mine = [q for r, q in pairs if str(r.region.get("family")) == fam]
        t = np.array([q.t_true for q in mine], dtype=float)
        med = np.array([q.t_pred for q in mine], dtype=float)
        lo = np.array([q.low for q in mine], dtype=float)
        hi = np.array([q.high for q in mine], dtype=float)
        err = np.vstack([np.clip(med - lo, 0, None), np.clip(hi - med, 0, None)])
        err[~np.isfinite(err)] = 0.0  # no interval: a bare point
        ax.errorbar(t, med, yerr=err, fmt="o", ms=4, color=COLORS[i % len(COLORS)], ecolor=COLORS[i % len(COLORS)],
                    elinewidth=0.8, alpha=0.8, capsize=0, label=f"{fam} ({len(mine)})")
    if pairs:
        vals = [v for _, q in pairs for v in (q.t_true, q.t_pred)]
        lo_, hi_ = max(min(vals) / 1.5, 1.0), max(vals) * 1.5
        ax.plot([lo_, hi_], [lo_, hi_], color="gray", ls="--", lw=1, label="forecast = actual")
        inside = np.mean([q.low <= q.t_true <= q.high for _, q in pairs])
        title = f"forecast vs actual t_val99 at {protocol} ({len(pairs)} runs; {inside:.0%} inside their 80% interval)"
        ax.set(xscale="log", yscale="log", xlim=(lo_, hi_))
        ax.legend(fontsize=8, loc="upper left")
    else:
        title = f"forecast vs actual t_val99 at {protocol}"
        ax.text(0.5, 0.5, "no held-out run grokked after its cut", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="actual t_val99 (step)", ylabel="forecast t_val99 (median; bars: 80% interval)", title=title)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3, which="both")
    fig.savefig(path, dpi=110)
    return path
