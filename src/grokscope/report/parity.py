"""The sparse-parity figure (the merrill2023 reproduction): test accuracy and the hidden-progress
measures against step. Drawn on a bare `matplotlib.figure.Figure`."""

from __future__ import annotations

import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)


def plot_hidden_progress(main: list[list[dict[str, float]]], control: list[list[dict[str, float]]],
                         path: Path) -> Path | None:
    """Test accuracy, ‖w − w_0‖ and the top-8/rest relevant-norm ratio against step for the main
    seeds (solid) and the weight-decay-0 control (dashed), one colour per seed; None if drawing fails."""
    try:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 3.6), layout="constrained")
        axes = fig.subplots(1, 3)
        panels = (("test_acc", "test accuracy"), ("dist_init", "‖w − w₀‖"),
                  ("top_rest_ratio", "top-8 / rest relevant-bit norm"))
        for ax, (key, title) in zip(axes, panels, strict=True):
            for runs, style, label in ((main, "-", "wd 0.01"), (control, "--", "wd 0")):
                for i, ser in enumerate(runs):
                    pts = [(r["step"], r[key]) for r in ser if r["step"] > 0 and not math.isnan(r[key])]
                    ax.plot(*zip(*pts, strict=True), style, color=f"C{i}", label=f"{label}, seed {i}")
            ax.set(xscale="log", xlim=(10, None), xlabel="step", title=title)
        axes[2].set_yscale("log")
        axes[0].legend(fontsize=7)
        fig.savefig(path, dpi=110)
        return path
    except Exception as e:  # noqa: BLE001 — a figure never costs the reproduction
        log.warning("could not draw %s: %s", path, e)
        return None
