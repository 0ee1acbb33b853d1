"""The ungrokking / semi-grokking hysteresis figure (Varma et al. 2023): final test accuracy against
the training-set size, from scratch and for grokked models continued on a smaller nested subset.

Drawn on a bare `matplotlib.figure.Figure` (no pyplot), like every figure in this layer.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSV_FIELDS = ("direction", "frac_train", "n_train", "seed", "final_test_acc", "final_train_acc",
              "held_out_test_acc", "half_budget_test_acc")


def write_hysteresis_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """One line per run: direction (scratch | ungrok | control), size, seed and its accuracies."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.4f}" if isinstance(r.get(k), float) else r.get(k, "")) for k in CSV_FIELDS})
    return path


def plot_hysteresis(rows: Sequence[dict[str, Any]], path: Path, *, title: str = "", source_frac: float | None = None,
                    level: float = 0.7) -> Path:
    """Mean final test accuracy (line) and each seed (dots) against the training fraction, per direction."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    styles = {"scratch": ("tab:blue", "o", "from scratch"),
              "ungrok": ("tab:red", "s", "grokked model continued on the subset (ungrokking)"),
              "control": ("tab:green", "D", "control: continued on its own training set")}
    for direction, (color, marker, label) in styles.items():
        mine = [r for r in rows if r["direction"] == direction]
        if not mine:
            continue
        fracs = sorted({r["frac_train"] for r in mine})
        means = [sum(r["final_test_acc"] for r in mine if r["frac_train"] == f) /
                 len([r for r in mine if r["frac_train"] == f]) for f in fracs]
        ax.scatter([r["frac_train"] for r in mine], [r["final_test_acc"] for r in mine], color=color,
                   marker=marker, s=14, alpha=0.5)
        ax.plot(fracs, means, color=color, marker=marker, label=label, lw=1.5 if direction != "control" else 0)
    ax.axhline(level, color="grey", ls=":", lw=1)
    ax.text(ax.get_xlim()[0], level + 0.01, f" test acc {level:g}", color="grey", fontsize=8)
    if source_frac is not None:
        ax.axvline(source_frac, color="tab:red", ls="--", lw=0.8, alpha=0.6)
    ax.set(xlabel="training fraction (nested subsets, same data seed)", ylabel="final test accuracy",
           ylim=(-0.03, 1.03))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110)
    return path


__all__ = ["CSV_FIELDS", "plot_hysteresis", "write_hysteresis_csv"]
