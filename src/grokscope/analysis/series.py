"""Measures over every checkpoint of a run directory -> `analysis.parquet` (+ `analysis.json`
with a summary and `figures/*.png`).

One row per checkpoint step. Column groups (`measures`):
  progress    key_freqs, n_key_freqs, restricted/excluded loss and accuracy on train/test/all,
              gini_embed, gini_W_L, sum_sq_weights                          (needs a full grid)
  neurons     n_structured, n_unstructured, freq_agreement(_structured), ipr_mean,
              phase_sum_{r,R,p_perm,n}_{structured,all}; on `square_fit_steps` also
              sq_vs_cos_{t,p,df}_{structured,all}, binariness_structured
  idealized   ideal_sq_cos_test_{nu,own}: test accuracy of the Sq→Cos model extracted with φ_out
              read at ν or at W_out's own bin; ideal_cos_cos_test_nu
  numerics    sc_fraction_float32, zero_loss_fraction_float32, nlm_alignment (training split)
  algorithms  gradient_symmetricity, distance_irrelevance, circularity, fve_clock, fve_pizza,
              algorithm                                     (default: transformers only)
plus train/test accuracy and loss from the metrics row of the same step when there is one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.analysis.fourier import (
    AnalysisError,
    fourier_1d,
    fourier_basis,
    key_frequencies,
    neuron_input_weights,
    neuron_output_weights,
    unembed_freq_norms,
    unstack,
)
from grokscope.store.files import jsonable

log = logging.getLogger(__name__)

ANALYSIS_PARQUET = "analysis.parquet"
ANALYSIS_JSON = "analysis.json"
FIGURES = "figures"
MEASURES = ("progress", "neurons", "idealized", "numerics", "algorithms")


@dataclass
class Analysis:
    """The result of `analyze_run`: the table (pandas), a summary dict and the files written."""

    table: Any  # pandas.DataFrame
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def default_measures(run: Any) -> tuple[str, ...]:
    """Everything that applies: algorithms only for transformers; progress/idealized only when
    the task is a full (a, b) grid with n_out == n."""
    cfg = run.config
    task = run.task()
    out = ["neurons", "numerics"]
    if task.full_grid:
        out = ["progress", *out, "idealized"]
        if cfg.model.arch == "transformer":
            out.append("algorithms")
    return tuple(m for m in MEASURES if m in out)


def analyze_checkpoint(
    run: Any, which: int | str, measures: Sequence[str], square_fit: bool = False,
    key_threshold: float = 0.25, n_perm: int = 200,
) -> dict[str, Any]:
    """One row of the table for checkpoint `which` of an opened run."""
    from grokscope.analysis import algorithms, idealized, neurons, numerics, progress

    model, task, split, cfg = run.model(), run.task(), run.split(), run.config
    params = run.params(which)
    one = unstack(params)
    row: dict[str, Any] = {"step": run.resolve_step(which)}
    keys = key_frequencies(unembed_freq_norms(one, cfg.model), key_threshold)
    if "progress" in measures:
        pm = progress.progress_measures(model, params, task, split, keys=keys)
        pm["key_freqs"] = ",".join(str(k) for k in pm["key_freqs"])
        pm["n_key_freqs"] = len(keys)
        row.update(pm)
    if "neurons" in measures:
        rep = neurons.analyze_neurons(one, cfg.model, task.n, square_fit=square_fit, n_perm=n_perm)
        row.update({k: v for k, v in rep.summary.items() if not isinstance(v, str)})
    if "idealized" in measures:
        test = split.test_idx
        a, b, c = task.a[test], task.b[test], task.c[test]
        for variant, at in (("sq_cos", "nu"), ("sq_cos", "own"), ("cos_cos", "nu")):
            w = idealized.extract_idealized(one, cfg.model, task.n, variant, at)
            row[f"ideal_{variant}_test_{at}"] = idealized.idealized_accuracy(w, a, b, c)
    if "numerics" in measures:
        row.update(numerics.numerics_measures(model, params, task.a[split.train_idx], task.b[split.train_idx],
                                              split.train_labels, "float32", cfg.train.loss))
    if "algorithms" in measures:
        row.update(algorithms.algorithm_measures(model, params, task, keys=keys))
    return row


def analyze_run(
    path: str | Path,
    measures: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    figures: bool = True,
    square_fit_steps: str | Sequence[int] = "key",
    key_threshold: float = 0.25,
    on_step: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Compute `measures` at every checkpoint (or `steps`), write analysis.parquet, analysis.json
    and figures into the run directory, and return them.

    square_fit_steps: 'key' (first, saturation and final checkpoints — the fit is the slow part),
    'all', or explicit steps. on_step(i, total) is called after each checkpoint.
    """
    import pandas as pd

    from grokscope.analysis import neurons, phases
    from grokscope.store.run import load_run

    run = load_run(path)
    t0 = time.perf_counter()
    measures = tuple(measures) if measures is not None else default_measures(run)
    bad = sorted(set(measures) - set(MEASURES))
    if bad:
        raise AnalysisError(f"unknown measure {bad[0]!r}; valid: {', '.join(MEASURES)}")
    all_steps = run.checkpoint_steps()
    if not all_steps:
        raise AnalysisError(f"{path} has no checkpoints to analyse")
    steps = list(all_steps if steps is None else steps)
    summary_in = run.summary or {}
    sat = summary_in.get("saturation_step")
    if square_fit_steps == "key":
        fit_steps = {all_steps[0], all_steps[-1]} | ({sat} if sat in all_steps else set())
    elif square_fit_steps == "all":
        fit_steps = set(steps)
    else:
        fit_steps = set(square_fit_steps)
    metrics = {r["step"]: r for r in run.rows()}
    out_rows = []
    for i, step in enumerate(steps):
        row = analyze_checkpoint(run, step, measures, square_fit=step in fit_steps, key_threshold=key_threshold)
        m = metrics.get(step, {})
        for key in ("train_acc", "test_acc", "train_loss", "test_loss", "weight_norm"):
            row.setdefault(key, m.get(key, math.nan))
        out_rows.append(row)
        if on_step is not None:
            on_step(i + 1, len(steps))
    table = pd.DataFrame(out_rows).sort_values("step").reset_index(drop=True)
    run_dir = Path(path)
    files = [run_dir / ANALYSIS_PARQUET]
    tmp = run_dir / (ANALYSIS_PARQUET + ".tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, files[0])  # atomic: a reader never sees half a table

    # --- summary: the key checkpoints in detail
    cfg, task = run.config, run.task()
    summary: dict[str, Any] = {"run_id": run_dir.name, "measures": list(measures), "n_checkpoints": len(steps)}
    by_step = {int(r["step"]): r for r in out_rows}
    final = by_step[max(by_step)]
    for key in ("key_freqs", "n_structured", "n_neurons", "freq_agreement", "freq_agreement_structured",
                "phase_sum_r_structured", "phase_sum_r_all", "phase_sum_p_perm_structured",
                "sq_vs_cos_t_structured", "sq_vs_cos_df_structured", "sq_vs_cos_t_all",
                "binariness_structured", "restricted_loss_test", "excluded_loss_train", "gini_W_L",
                "algorithm", "gradient_symmetricity", "distance_irrelevance", "fve_clock", "fve_pizza"):
        if key in final:
            summary[key] = final[key]
    if "idealized" in measures:
        for label, step in (("final", all_steps[-1]), ("saturation", sat), ("first", all_steps[0])):
            if step in by_step:
                for col in ("ideal_sq_cos_test_nu", "ideal_sq_cos_test_own"):
                    summary[f"{col}_{label}"] = by_step[step][col]
    rows = run.rows()
    summary["liu_phase"] = phases.liu_phase(rows) if rows else None
    if rows:
        last = rows[-1]
        summary["doshi_phase"] = phases.doshi_phase(last["train_acc"], last["test_acc"], cfg.task.noise)
    summary.update(phases.phase_events(rows, out_rows))
    summary["saturation_step"] = sat
    summary["analysis_wall_s"] = round(time.perf_counter() - t0, 2)
    tmp = run_dir / (ANALYSIS_JSON + ".tmp")
    tmp.write_text(json.dumps(jsonable(summary), indent=2, sort_keys=True))
    os.replace(tmp, run_dir / ANALYSIS_JSON)
    files.append(run_dir / ANALYSIS_JSON)

    if figures:
        fig_dir = run_dir / FIGURES
        fig_dir.mkdir(exist_ok=True)
        one = unstack(run.params("final"))
        files.append(plot_progress(table, summary, fig_dir / "progress.png", rows))
        files += plot_fourier_heatmaps(one, cfg.model, task.n, fig_dir)
        if "neurons" in measures:
            rep = neurons.analyze_neurons(one, cfg.model, task.n, square_fit=False, n_perm=0)
            files.append(plot_neuron_waves(one, cfg.model, task.n, rep.table, fig_dir / "neuron_waves.png"))
            files.append(plot_phase_sum(rep.table, fig_dir / "phase_sum.png"))
    log.info("analysed %d checkpoints of %s in %.1fs", len(steps), run_dir, time.perf_counter() - t0)
    return Analysis(table=table, summary=summary, files=files)


# ---------------------------------------------------------------- figures (matplotlib Agg)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_progress(table: Any, summary: dict[str, Any], path: Path, rows: Sequence[dict] = ()) -> Path:
    """Progress measures against step (log x): losses, sparsity/norm, neurons, idealized accuracy.
    Train/test curves come from the metrics `rows` (evaluation steps), the rest from `table`."""
    plt = _plt()
    x = np.maximum(table["step"].to_numpy(), 1)  # step 0 drawn at 1 on the log axis
    xr = np.maximum(np.array([r["step"] for r in rows]), 1)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
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
    plt.close(fig)
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
    """Input weights and W_L in the Fourier basis (RdBu centred on 0, component names on axes)."""
    plt = _plt()
    _, names = fourier_basis(n)
    W_a, W_b = neuron_input_weights(params, cfg, n)  # [n, d_mlp]
    W_L = neuron_output_weights(params, cfg)  # [d_mlp, n_out]
    order = np.argsort(np.abs(np.fft.rfft(W_a, axis=0))[1:].argmax(axis=0), kind="stable")  # neurons by freq
    fig, axes = plt.subplots(1, 3, figsize=(16, 6), constrained_layout=True)
    _heatmap(axes[0], fourier_1d(W_a, axis=0)[:, order], names, None, "W_a in Fourier basis (neurons by freq)")
    _heatmap(axes[1], fourier_1d(W_b, axis=0)[:, order], names, None, "W_b in Fourier basis")
    _heatmap(axes[2], fourier_1d(W_L, axis=1)[order].T, names if W_L.shape[1] == n else None, None,
             "W_L (W_out / W_out·W_U) in Fourier basis")
    for ax in axes:
        ax.set_xlabel("neuron (sorted by dominant frequency)")
        ax.set_ylabel("Fourier component")
    path = fig_dir / "fourier_neurons.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths = [path]
    from grokscope.analysis.fourier import embedding_matrix, has_embedding

    E = embedding_matrix(params, cfg, n)
    if has_embedding(cfg):
        fig, ax = plt.subplots(figsize=(8, 7), constrained_layout=True)
        _heatmap(ax, fourier_1d(E, axis=0), names, None, "W_E in Fourier basis")
        ax.set(xlabel="embedding dimension", ylabel="Fourier component")
        path = fig_dir / "fourier_embed.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_neuron_waves(params: dict, cfg: Any, n: int, table: dict, path: Path, n_show: int = 4) -> Path:
    """W_a, W_b and W_out of `n_show` periodic neurons with ideal square and cosine overlays
    (the lowest-frequency among the 4·n_show most periodic, so the shape is readable)."""
    from grokscope.analysis.neurons import dominant_frequency_phase, square_levels, square_wave

    plt = _plt()
    W_a, W_b = neuron_input_weights(params, cfg, n)
    W_out = neuron_output_weights(params, cfg)
    top = np.argsort(-np.asarray(table["periodicity"]))[: 4 * n_show]
    top = top[np.argsort(np.asarray(table["nu_a"])[top], kind="stable")][:n_show]
    fig, axes = plt.subplots(len(top), 3, figsize=(14, 2.4 * len(top)), squeeze=False)
    fig.subplots_adjust(hspace=0.45, wspace=0.2, left=0.05, right=0.98, top=0.95, bottom=0.05)
    j = np.arange(n)
    xs = np.linspace(0, n - 1, 20 * n)
    for r, i in enumerate(top):
        for c, (w, label) in enumerate(((W_a[:, i], "W_a"), (W_b[:, i], "W_b"), (W_out[i], "W_out"))):
            ax = axes[r, c]
            nu, phi, amp = (float(v) for v in dominant_frequency_phase(w))
            hi, lo = square_levels(w, int(nu), phi)
            ax.plot(j, w, "o", ms=2.5, color="k", label="weights")
            ax.plot(xs, square_wave(len(w), int(nu), phi, hi, lo, xs), color="tab:red", lw=1, label="ideal square")
            ax.plot(xs, w.mean() + amp * np.cos(2 * np.pi * nu * xs / len(w) - phi), color="tab:blue", lw=1,
                    label="cosine")
            ax.set_title(f"neuron {i} {label}: ν={int(nu)} φ={phi:.2f}", fontsize=8)
            if r == 0 and c == 0:
                ax.legend(fontsize=6)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_phase_sum(table: dict, path: Path) -> Path:
    """φ_out against φ_a + φ_b (mod 2π); structured neurons highlighted."""
    plt = _plt()
    s = np.mod(np.asarray(table["phi_a"]) + np.asarray(table["phi_b"]), 2 * np.pi)
    o = np.asarray(table["phi_out"])
    structured = np.asarray(table["kind"]) == "structured"
    fig, ax = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
    ax.scatter(s[~structured], o[~structured], s=8, color="lightgray", label="other")
    ax.scatter(s[structured], o[structured], s=10, color="tab:blue", label="structured")
    ax.plot([0, 2 * np.pi], [0, 2 * np.pi], color="tab:red", lw=1, ls="--")
    ax.set(xlabel="φ_a + φ_b (mod 2π)", ylabel="φ_out", xlim=(0, 2 * np.pi), ylim=(0, 2 * np.pi),
           title="phase-sum relation")
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
