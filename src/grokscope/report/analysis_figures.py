"""The figures of an analysis (`grokscope analyze`): `<run>/figures/*.png`.

    progress.png         progress measures against step, with the events
    fourier_neurons.png  W_a, W_b and W_L in the Fourier basis (+ fourier_embed.png: W_E)
    neuron_waves.png     a few periodic neurons with ideal square / cosine overlays
    phase_sum.png        φ_out against φ_a + φ_b

The numbers come from `grokscope.analysis` (`analyze_run`'s table and summary, the neuron fits);
this module only draws them, each on a bare `matplotlib.figure.Figure` (no pyplot, so the
caller's matplotlib backend is never touched). The run report's static PNGs
(`report.static`) reuse the Fourier, neuron-wave and phase-sum figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from grokscope.analysis.neurons import (
    analyze_neurons,
    cosine_wave,
    readable_neurons,
    square_wave,
    wave_fit,
)
from grokscope.analysis.snapshots import fourier_heatmaps
from grokscope.analysis.views import neuron_input_weights, neuron_output_weights, unstack
from grokscope.store.names import FIGURES


def write_analysis_figures(run_path: str | Path, analysis: Any) -> list[Path]:
    """Draw the figures of `analysis` (the `Analysis` that `analysis.pipeline.analyze_run(run_path)`
    returned) into `<run_path>/figures/`; returns their paths and appends them to `analysis.files`."""
    from grokscope.store.run import load_run

    run = load_run(run_path)
    cfg, task = run.config, run.task()
    fig_dir = Path(run_path) / FIGURES
    fig_dir.mkdir(exist_ok=True)
    one = unstack(run.params("final"))
    files = [plot_progress(analysis.table, analysis.summary, fig_dir / "progress.png", run.rows())]
    if not task.full_grid:  # dense inputs (parity, digits, teacher): no (a, b) grid to take a Fourier view of
        analysis.files.extend(files)
        return files
    n = task.n
    files += plot_fourier_heatmaps(one, cfg.model, n, fig_dir)
    if "neurons" in analysis.summary.get("measures", ()):
        rep = analyze_neurons(one, cfg.model, n, square_fit=False, n_perm=0)
        files.append(plot_neuron_waves(one, cfg.model, n, rep.table, fig_dir / "neuron_waves.png"))
        files.append(plot_phase_sum(rep.table, fig_dir / "phase_sum.png"))
    analysis.files.extend(files)
    return files


def plot_progress(table: Any, summary: dict[str, Any], path: Path, rows: Sequence[dict] = ()) -> Path:
    """Progress measures against step (log x): losses, sparsity/norm, neurons, idealized accuracy.
    Train/test curves come from the metrics `rows` (evaluation steps), the rest from `table`."""
    x = np.maximum(table["step"].to_numpy(), 1)  # step 0 drawn at 1 on the log axis
    xr = np.maximum(np.array([r["step"] for r in rows]), 1)
    fig = Figure(figsize=(12, 8), layout="constrained")
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    for key in ("train_loss", "test_loss"):
        if rows:
            ax.plot(xr, [r[key] for r in rows], label=key)
    for col, style in (("restricted_loss_test", "--"), ("excluded_loss_train", ":")):
        if col in table and table[col].notna().any():
            ax.plot(x, table[col], style, label=col)
    ax.set(xscale="log", yscale="log", title="losses", xlabel="step")
    ax = axes[0, 1]
    for col in ("gini_embed", "gini_W_L"):
        if col in table:
            ax.plot(x, table[col], label=col)
    ax.set(xscale="log", title="Fourier sparsity (Gini)", xlabel="step", ylim=(0, 1))
    if "sum_sq_weights" in table:
        twin = ax.twinx()
        twin.plot(x, table["sum_sq_weights"], color="gray", ls="--", label="Σθ²")
        twin.set_ylabel("Σθ²")
    ax = axes[1, 0]
    for col in ("freq_agreement", "phase_sum_r_all", "ipr_mean"):
        if col in table:
            ax.plot(x, table[col], label=col)
    if "n_structured" in table and "n_neurons" in table:
        ax.plot(x, table["n_structured"] / table["n_neurons"], label="structured fraction")
    ax.set(xscale="log", title="neurons", xlabel="step", ylim=(-0.05, 1.05))
    ax = axes[1, 1]
    for key in ("train_acc", "test_acc"):
        if rows:
            ax.plot(xr, [r[key] for r in rows], label=key)
    for col in ("ideal_sq_cos_test_nu", "ideal_sq_cos_test_own", "ideal_cos_cos_test_nu"):
        if col in table and table[col].notna().any():
            ax.plot(x, table[col], label=col, ls="--")
    ax.set(xscale="log", title="accuracy: real vs extracted idealized", xlabel="step", ylim=(-0.02, 1.02))
    for ax in axes.ravel():
        for key, color in (("t_train99", "tab:blue"), ("t_val99", "tab:orange"),
                           ("t_circuit", "tab:green"), ("t_cleanup", "tab:red")):
            if summary.get(key) is not None:
                ax.axvline(max(summary[key], 1), color=color, lw=0.8, ls="--", alpha=0.6)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{summary.get('run_id', '')}  progress measures")
    fig.savefig(path, dpi=100)
    return path


def _heatmap(ax: Any, M: np.ndarray, ynames: list[str] | None, xnames: list[str] | None, title: str) -> None:
    lim = float(np.abs(M).max()) or 1.0
    im = ax.imshow(M, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    for names, set_ticks, set_labels, n in ((ynames, ax.set_yticks, ax.set_yticklabels, M.shape[0]),
                                           (xnames, ax.set_xticks, ax.set_xticklabels, M.shape[1])):
        if names is not None:
            stride = max(1, n // 24)
            ticks = list(range(0, n, stride))
            set_ticks(ticks)
            set_labels([names[t] for t in ticks], fontsize=6)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)


def plot_fourier_heatmaps(params: dict, cfg: Any, n: int, fig_dir: Path) -> list[Path]:
    """Input weights and W_L in the Fourier basis (`analysis.snapshots.fourier_heatmaps`; RdBu
    centred on 0, component names on axes)."""
    maps = fourier_heatmaps(params, cfg, n)
    names = maps["names"]
    fig = Figure(figsize=(16, 6), layout="constrained")
    axes = fig.subplots(1, 3)
    _heatmap(axes[0], maps["W_a"], names, None, "W_a in Fourier basis (neurons by freq)")
    _heatmap(axes[1], maps["W_b"], names, None, "W_b in Fourier basis")
    _heatmap(axes[2], maps["W_L"], names if len(maps["W_L"]) == n else None, None,
             "W_L (W_out / W_out·W_U) in Fourier basis")
    for ax in axes:
        ax.set_xlabel("neuron (sorted by dominant frequency)")
        ax.set_ylabel("Fourier component")
    path = fig_dir / "fourier_neurons.png"
    fig.savefig(path, dpi=100)
    paths = [path]
    if "W_E" in maps:
        fig = Figure(figsize=(8, 7), layout="constrained")
        ax = fig.subplots()
        _heatmap(ax, maps["W_E"], names, None, "W_E in Fourier basis")
        ax.set(xlabel="embedding dimension", ylabel="Fourier component")
        path = fig_dir / "fourier_embed.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
    return paths


def plot_neuron_waves(params: dict, cfg: Any, n: int, table: dict, path: Path, n_show: int = 4) -> Path:
    """W_a, W_b and W_out of `n_show` periodic neurons (`neurons.readable_neurons`) with their
    ideal square and cosine overlays (`neurons.wave_fit`)."""
    W_a, W_b = neuron_input_weights(params, cfg, n)
    W_out = neuron_output_weights(params, cfg)
    top = readable_neurons(table, n_show)
    fig = Figure(figsize=(14, 2.4 * len(top)))
    axes = fig.subplots(len(top), 3, squeeze=False)
    fig.subplots_adjust(hspace=0.45, wspace=0.2, left=0.05, right=0.98, top=0.95, bottom=0.05)
    j = np.arange(n)
    xs = np.linspace(0, n - 1, 20 * n)
    for r, i in enumerate(top):
        for c, (w, label) in enumerate(((W_a[:, i], "W_a"), (W_b[:, i], "W_b"), (W_out[i], "W_out"))):
            ax = axes[r, c]
            f = wave_fit(w)
            ax.plot(j, w, "o", ms=2.5, color="k", label="weights")
            ax.plot(xs, square_wave(len(w), f["nu"], f["phi"], f["hi"], f["lo"], xs), color="tab:red", lw=1,
                    label="ideal square")
            ax.plot(xs, cosine_wave(len(w), f["nu"], f["phi"], f["amp"], f["mean"], xs), color="tab:blue", lw=1,
                    label="cosine")
            ax.set_title(f"neuron {i} {label}: ν={f['nu']} φ={f['phi']:.2f}", fontsize=8)
            if r == 0 and c == 0:
                ax.legend(fontsize=6)
    fig.savefig(path, dpi=90)
    return path


def plot_phase_sum(table: dict, path: Path) -> Path:
    """φ_out against φ_a + φ_b (mod 2π; the neuron table's phi_sum); structured neurons highlighted."""
    s = np.asarray(table["phi_sum"])
    o = np.asarray(table["phi_out"])
    structured = np.asarray(table["kind"]) == "structured"
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(s[~structured], o[~structured], s=8, color="lightgray", label="other")
    ax.scatter(s[structured], o[structured], s=10, color="tab:blue", label="structured")
    ax.plot([0, 2 * np.pi], [0, 2 * np.pi], color="tab:red", lw=1, ls="--")
    ax.set(xlabel="φ_a + φ_b (mod 2π)", ylabel="φ_out", xlim=(0, 2 * np.pi), ylim=(0, 2 * np.pi),
           title="phase-sum relation")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    return path
