"""curves.png: train/test accuracy and loss against step (log x), with the events marked.

Drawn on a bare `matplotlib.figure.Figure` (Agg canvas via `savefig`): no pyplot, so drawing
never switches or touches the caller's backend (a notebook's inline backend stays as it is).
The run directory stays the store's; this layer draws into it once a run has finished
(`grokscope.run` / `resume`, and sweeps that ask for curves).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grokscope.events import event_names
from grokscope.store.names import CURVES

log = logging.getLogger(__name__)



def plot_curves(rows: Sequence[dict[str, Any]], summary: dict[str, Any], path: Path) -> Path:
    """Two panels: accuracy and loss; vertical lines at t_train99 and t_val99."""
    from matplotlib.figure import Figure

    steps = [max(r["step"], 1) for r in rows]  # step 0 drawn at 1 on the log axis
    fig = Figure(figsize=(11, 4))
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.9, wspace=0.18)  # fixed: a constrained layout costs ~0.2 s
    ax_acc, ax_loss = fig.subplots(1, 2)
    for key, color in (("train", "tab:blue"), ("test", "tab:orange")):
        ax_acc.plot(steps, [r[f"{key}_acc"] for r in rows], color=color, label=key)
        ax_loss.plot(steps, [r[f"{key}_loss"] for r in rows], color=color, label=key)
    t_train, t_val = event_names()
    events = [(t_train, "tab:blue", "train 99%"), (t_val, "tab:orange", "test 99%")]
    for key, color, label in events:
        if summary.get(key) is not None:
            for ax in (ax_acc, ax_loss):
                ax.axvline(max(summary[key], 1), color=color, ls="--", lw=1, alpha=0.7)
            ax_acc.text(max(summary[key], 1), 0.02, f" {label}\n {summary[key]}", color=color, fontsize=8)
    ax_acc.set(xscale="log", xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02))
    ax_loss.set(xscale="log", yscale="log", xlabel="step", ylabel="loss")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    title = summary.get("run_id", "")
    if summary.get("delta_t") is not None:
        title += f"   ΔT = {summary['delta_t']} steps"
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path


def write_curves(run_dir: str | Path) -> Path | None:
    """Draw `<run_dir>/curves.png` from its metrics and summary; a figure never costs the run, so
    any failure is logged and None returned."""
    from grokscope.store.rundir import SUMMARY, read_rows

    run_dir = Path(run_dir)
    try:
        summary = json.loads((run_dir / SUMMARY).read_text()) if (run_dir / SUMMARY).exists() else {}
        rows = read_rows(run_dir)
        if not rows:
            return None
        return plot_curves(rows, summary, run_dir / CURVES)
    except Exception as e:  # noqa: BLE001
        log.warning("could not draw %s: %s", run_dir / CURVES, e)
        return None
