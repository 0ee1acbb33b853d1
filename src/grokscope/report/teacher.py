"""The linear teacher–student figure (the levi2023 reproduction): measured accuracies over the
spectral prediction and the Marchenko–Pastur limit. Drawn on a bare `matplotlib.figure.Figure`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_teacher_curves(per: list[dict[str, Any]], paths: dict[float, list[Path]], path: Path) -> Path:
    """Measured train/test accuracy of seed 0 at each λ (points) over the exact prediction (lines) and
    the Marchenko–Pastur limit (dashed), one panel per λ; `per`: the levi2023 reproduction's per-λ
    results, `paths`: λ -> its runs' directories."""
    from matplotlib.figure import Figure

    from grokscope.analysis import linear_theory as lt
    from grokscope.store.run import load_run

    fig = Figure(figsize=(3.2 * len(per), 3.0))
    axes = fig.subplots(1, len(per), sharey=True)
    for ax, d in zip(np.atleast_1d(axes), per, strict=True):
        run = load_run(paths[d["lam"]][0])
        rows, p = run.rows(), d["seeds"][0]
        pred = lt.predict(run, steps=p["steps"])
        t = np.arange(1, p["steps"] + 1)
        mp = lt.mp_curves(pred.lam, pred.eps, pred.lr, pred.e0_sq, t)
        ax.plot(t, pred.curves.train_acc[1:], color="tab:blue", lw=1, label="train (exact)")
        ax.plot(t, pred.curves.test_acc[1:], color="tab:red", lw=1, label="test (exact)")
        ax.plot(t, mp.train_acc, color="tab:blue", lw=1, ls="--", label="train (MP limit)")
        ax.plot(t, mp.test_acc, color="tab:red", lw=1, ls="--", label="test (MP limit)")
        sub = [rows[i] for i in np.unique(np.geomspace(1, len(rows) - 1, 40).round().astype(int))]  # log-spaced
        ax.scatter([r["step"] for r in sub], [r["train_acc"] for r in sub], s=6, color="tab:blue")
        ax.scatter([r["step"] for r in sub], [r["test_acc"] for r in sub], s=6, color="tab:red")
        ax.set_xscale("log")
        ax.set_title(f"λ = {d['lam']:g} (n_train {d['n_train']})", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("accuracy (squared error < ε)", fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
