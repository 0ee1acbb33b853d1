"""curves.png: train/test accuracy and loss against step (log x), with the events marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(rows: Sequence[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    """Two panels: accuracy and loss; vertical lines at t_train99, t_val99 and saturation."""
    steps = [max(r["step"], 1) for r in rows]  # step 0 drawn at 1 on the log axis
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for key, color in (("train", "tab:blue"), ("test", "tab:orange")):
        ax_acc.plot(steps, [r[f"{key}_acc"] for r in rows], color=color, label=key)
        ax_loss.plot(steps, [r[f"{key}_loss"] for r in rows], color=color, label=key)
    events = [("t_train99", "tab:blue", "train 99%"), ("t_val99", "tab:orange", "test 99%")]
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
    plt.close(fig)
