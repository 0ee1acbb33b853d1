"""Static PNGs of a run report's main figures, for papers and slides.

Written into `<run>/report_figures/`. The analysis figures (`report.analysis_figures`) are reused
where they exist (Fourier heatmaps, neuron waves, phase-sum); the measures panel and the embedding
circle are drawn here. Every figure is a bare `matplotlib.figure.Figure` (no pyplot, no backend
switch).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.report.data import ReportData
from grokscope.store.names import PNG_DIR

log = logging.getLogger(__name__)



def write_pngs(run_dir: Path, data: ReportData) -> list[Path]:
    """Draw every figure that applies; a figure that fails is logged and skipped."""
    from grokscope.analysis.views import unstack
    from grokscope.report import analysis_figures as S
    from grokscope.store.run import load_run

    out_dir = run_dir / PNG_DIR
    out_dir.mkdir(exist_ok=True)
    run = load_run(run_dir)
    cfg, task = run.config, run.task()
    n = task.n_in
    written: list[Path] = []

    def attempt(name: str, fn: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # e.g. an empty legend on a panel
                res = fn()
            written.extend(res if isinstance(res, list) else [res])
        except Exception as e:  # noqa: BLE001 — one figure must not cost the others
            log.warning("report: could not draw %s: %s", name, e)

    if data.series.get("step"):
        attempt("measures.png", lambda: plot_measures(data, out_dir / "measures.png"))
    if not run.checkpoint_steps() or task.inputs != "pairs":  # the weight figures read Z_n operands
        return written
    one = unstack(run.params("final"))
    attempt("Fourier heatmaps", lambda: S.plot_fourier_heatmaps(one, cfg.model, n, out_dir))
    try:
        from grokscope.analysis.neurons import analyze_neurons

        rep = analyze_neurons(one, cfg.model, n, square_fit=False, n_perm=0)
        attempt("neuron_waves.png", lambda: S.plot_neuron_waves(one, cfg.model, n, rep.table, out_dir / "neuron_waves.png"))
        attempt("phase_sum.png", lambda: S.plot_phase_sum(rep.table, out_dir / "phase_sum.png"))
    except Exception as e:  # noqa: BLE001
        log.warning("report: no neuron figures: %s", e)
    if data.frames and "clock" in data.panels:  # the family has an embedding to draw (its declared panels)
        attempt("embedding_circle.png", lambda: plot_circle(data, out_dir / "embedding_circle.png"))
    return written


def plot_measures(data: ReportData, path: Path) -> Path:
    """Loss with restricted/excluded loss (when computed), Fourier Gini and weight norm against
    step (log x) with the events; accuracy and loss alone are curves.png, written at the end of
    training. (`report.analysis_figures.plot_progress` draws the full analysis table, but its
    constrained layout takes seconds; this one uses a fixed layout.)"""
    from matplotlib.figure import Figure

    s = data.series
    sx = np.maximum(np.asarray(s["step"], dtype=float), 1)
    rx = np.maximum(np.asarray([r["step"] for r in data.rows], dtype=float), 1)
    col = lambda k: np.asarray([np.nan if v is None else v for v in s[k]], dtype=float)  # noqa: E731
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.14, top=0.83, wspace=0.3)
    ax = axes[0]
    for key, color in (("train_loss", "tab:blue"), ("test_loss", "tab:orange")):
        ax.plot(rx, [r.get(key, np.nan) for r in data.rows], color=color, label=key)
    for key, style in (("restricted_loss_test", "--"), ("excluded_loss_train", ":")):
        if key in s:
            ax.plot(sx, col(key), style, label=key)
    ax.set(yscale="log", title="loss")
    ax = axes[1]
    for key, color in (("gini_embed", "tab:blue"), ("gini_W_L", "tab:red")):
        if key in s:
            ax.plot(sx, col(key), color=color, label=key)
    ax.margins(y=0.15)  # autoscaled: a Gini of 0.02-0.08 must not be a flat line at the bottom of 0-1
    ax.set(title="Fourier sparsity (Gini)")
    ax = axes[2]
    if any(r.get("weight_norm") is not None for r in data.rows):
        ax.plot(rx, [r.get("weight_norm", np.nan) for r in data.rows], color="tab:purple", label="weight_norm")
    ax.set(title="weight norm")
    from grokscope.report.figures import phase_bands

    for ax in axes:
        ax.set(xscale="log", xlabel="step")
        for name, color, x0, x1 in phase_bands(data):
            ax.axvspan(x0, x1, color=color, alpha=0.1, lw=0, label=name if ax is axes[0] else None)
        for key, color in (("t_train99", "tab:blue"), ("t_val99", "tab:orange")):
            if data.events.get(key) is not None:
                ax.axvline(max(data.events[key], 1), color=color, ls="--", lw=0.8)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{data.run_id}: progress measures")
    fig.savefig(path, dpi=100)
    return path


def plot_circle(data: ReportData, path: Path) -> Path:
    """Embedding PCA of the final checkpoint (residues coloured around the circle) and the
    per-frequency norms of the embedding and W_L."""
    from matplotlib.figure import Figure

    fr = data.frames[-1]
    pca = fr["pca"]
    use_pca = sum(pca["var"]) >= 0.25
    pts = pca if use_pca else fr["plane"]
    x, y = np.asarray(pts["x"], dtype=float), np.asarray(pts["y"], dtype=float)
    n = len(x)
    fig = Figure(figsize=(11, 4.6))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
    fig.subplots_adjust(left=0.08, right=0.97, bottom=0.12, top=0.9, wspace=0.25)
    k = (pca["freq"][0] or 1) if use_pca else fr["plane"]["k"]
    order = np.argsort((np.arange(n) * k) % n)  # walk the circle: residues in order of k·x mod n
    ax.plot(np.r_[x[order], x[order[:1]]], np.r_[y[order], y[order[:1]]], color="lightgray", lw=0.8, zorder=1)
    sc = ax.scatter(x, y, c=np.arange(n), cmap="twilight", s=22, zorder=2, edgecolors="k", linewidths=0.3)
    if n <= 31:
        for i in range(n):
            ax.annotate(str(i), (x[i], y[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if use_pca:
        ax.set(xlabel=f"PC1 ({pca['var'][0]:.0%} var, freq {pca['freq'][0]})",
               ylabel=f"PC2 ({pca['var'][1]:.0%} var, freq {pca['freq'][1]})",
               title=f"embedding PCA · step {data.frame_steps[-1]}")
    else:
        ax.set(xlabel=f"cos {k} direction", ylabel=f"sin {k} direction",
               title=f"embedding, frequency-{k} plane · step {data.frame_steps[-1]}")
    ax.set_aspect("equal", adjustable="datalim")
    fig.colorbar(sc, ax=ax, shrink=0.7, label="residue")
    ks = np.arange(1, len(fr["spec_embed"]) + 1)
    bx.bar(ks - 0.2, np.asarray(fr["spec_embed"], dtype=float), width=0.4, label="embedding", color="tab:blue")
    if len(fr["spec_WL"]) == len(ks):
        bx.bar(ks + 0.2, np.asarray(fr["spec_WL"], dtype=float), width=0.4, label="W_L", color="tab:red")
    bx.set(xlabel="frequency k", ylabel="norm of (cos k, sin k) / max", title="Fourier spectrum (key frequencies)")
    bx.legend(fontsize=8)
    bx.grid(alpha=0.3)
    fig.savefig(path, dpi=100)
    return path
