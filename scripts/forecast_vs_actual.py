"""Forecast vs actual t_val99, held out by a region at f = 0.2, beside the test-loss-trend baseline.

    python scripts/forecast_vs_actual.py REGION OUT.png STORE [STORE ...]
    python scripts/forecast_vs_actual.py family docs/forecast_vs_actual.png /work/exp/forecast/{pair,tf,twohot,primes}

Each point is a run that grokked after the cut, forecast by a model fitted without its region.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from grokscope.forecast.fit import REGIONS, evaluate, load_runs  # noqa: E402


def main(region: str, out: str, *stores: str) -> None:
    runs = load_runs(stores)
    raw: dict = {}
    evaluate(runs, REGIONS[region], fractions=(0.2,), raw=raw, methods=("forecast", "test-loss trend"))
    fig, ax = plt.subplots(figsize=(5, 5))
    lo, hi = 30, 10_000
    for method, color in (("forecast", "C0"), ("test-loss trend", "C1")):
        y, _p, _s, t_true, t_pred = raw[(0.2, method)]
        ok = (y == 1) & np.isfinite(t_pred)
        rel = np.median(np.abs(t_pred[ok] - t_true[ok]) / t_true[ok])
        ax.scatter(t_true[ok], np.clip(t_pred[ok], lo, hi), s=12, alpha=0.7, color=color,
                   label=f"{method} (n = {ok.sum()}, median rel. error {rel:.0%})")
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="actual t_val99 (steps)",
           ylabel="forecast t_val99 from the first 20% of the budget",
           title=f"held out by {region} ({len(runs)} runs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print("wrote", out)


if __name__ == "__main__":
    main(*sys.argv[1:])
