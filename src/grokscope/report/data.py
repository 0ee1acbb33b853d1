"""The numbers behind a run report: metrics, events, cheap per-checkpoint series, slider frames.

Everything here is plain Python / numpy and JSON-ready (floats rounded to a few significant
digits, NaN -> None) so the HTML stays small. Nothing is written to the run directory.

Sources, in order of preference:
  analysis.parquet / analysis.json (from `grokscope analyze`)  -> progress measures, events, algorithms
  computed here from the checkpoints (cheap, weights only)      -> Gini of embedding / W_L, Σθ²,
                                                                   slider frames (≤ max_frames)
  computed here on the logits when the estimate fits the budget -> restricted / excluded loss
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.store.files import jsonable

log = logging.getLogger(__name__)

N_NEURONS_SHOWN = 4


# ---------------------------------------------------------------- JSON helpers


def sig(x: Any, digits: int = 4) -> Any:
    """Round floats (and arrays / lists of them) to `digits` significant digits; NaN/inf -> None."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "iub":
            return x.tolist()
        x = x.astype(np.float64)
        out = np.full(x.shape, np.nan)
        finite = np.isfinite(x)
        if finite.any():
            v = x[finite]
            mag = np.floor(np.log10(np.where(v == 0, 1.0, np.abs(v))))
            scale = 10.0 ** (digits - 1 - mag)
            out[finite] = np.round(v * scale) / scale
        return [None if not math.isfinite(v) else v for v in out.ravel().tolist()] if x.ndim <= 1 else \
            [sig(row, digits) for row in x]
    if isinstance(x, list | tuple):
        return [sig(v, digits) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}")
    return x


# ---------------------------------------------------------------- checkpoint choice


def pick_frames(steps: Sequence[int], max_frames: int, keep: Sequence[int | None] = ()) -> list[int]:
    """At most `max_frames` checkpoint steps: evenly spaced in index (checkpoints are already
    log-spaced early and regular late), always with the first, the last and the steps in `keep`
    (snapped to the nearest checkpoint at or after them)."""
    steps = sorted(int(s) for s in steps)
    if len(steps) <= max_frames:
        return steps
    chosen = {steps[0], steps[-1]} if max_frames > 1 else {steps[-1]}
    arr = np.asarray(steps)
    for k in keep:
        if k is not None and len(chosen) < max_frames:
            i = int(np.searchsorted(arr, k))
            chosen.add(steps[min(i, len(steps) - 1)])
    room = max(max_frames - len(chosen), 0)
    for i in np.linspace(0, len(steps) - 1, room + 2).round().astype(int):
        if len(chosen) >= max_frames:
            break
        chosen.add(steps[i])
    return sorted(chosen)


# ---------------------------------------------------------------- per-checkpoint views


def _views(one: dict, cfg: Any, n: int) -> dict[str, np.ndarray]:
    from grokscope.analysis.views import embedding_matrix, neuron_input_weights, neuron_output_weights

    W_a, W_b = neuron_input_weights(one, cfg, n)
    return {"W_a": W_a, "W_b": W_b, "W_out": neuron_output_weights(one, cfg), "E": embedding_matrix(one, cfg, n)}


def freq_norms_fft(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """`analysis.fourier.freq_norms` (k = 1..p//2) computed with an FFT: the energy of the
    orthonormal (cos_k, sin_k) pair is (2/p)|X_k|² ((1/p)|X_k|² at the Nyquist bin of even p).
    Same numbers (tested), no BLAS matmul — the report computes it for every frame."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    p = x.shape[0]
    X = np.fft.rfft(x, axis=0)[1:]
    energy = (np.abs(X) ** 2).reshape(len(X), -1).sum(axis=1) * (2.0 / p)
    if p % 2 == 0:
        energy[-1] /= 2
    return np.sqrt(energy[: p // 2])


def cheap_measures(one: dict, cfg: Any, n: int, views: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Weight-only measures (milliseconds): Gini of the embedding's and W_L's frequency norms, Σθ²."""
    from grokscope.analysis.progress import gini, sum_sq_weights

    out = {"sum_sq_weights": sum_sq_weights(one)}
    try:
        v = views or _views(one, cfg, n)
        out["gini_embed"] = gini(freq_norms_fft(v["E"], axis=0))
        out["gini_W_L"] = gini(freq_norms_fft(v["W_out"], axis=1))
    except Exception as e:  # noqa: BLE001 — a view that does not apply leaves the column out
        log.debug("no Gini for this model: %s", e)
    return out


def choose_neurons(W_a: np.ndarray, W_b: np.ndarray, n_show: int = N_NEURONS_SHOWN) -> list[int]:
    """The neurons drawn in the wave panel: among the 4·n_show most periodic (final checkpoint),
    the n_show of lowest frequency, so the shape is readable (as `plot_neuron_waves`)."""
    from grokscope.analysis.neurons import dominant_frequency_phase, periodicity_score

    score = (periodicity_score(W_a, axis=0) + periodicity_score(W_b, axis=0)) / 2
    top = np.argsort(-score, kind="stable")[: 4 * n_show]
    nu = dominant_frequency_phase(W_a, axis=0)[0]
    return [int(i) for i in top[np.argsort(nu[top], kind="stable")][:n_show]]


def _wave(w: np.ndarray) -> dict[str, Any]:
    """A weight vector with its dominant cosine and Swaroop's square-wave levels."""
    from grokscope.analysis.neurons import dominant_frequency_phase, square_levels

    nu, phi, amp = (float(v) for v in dominant_frequency_phase(w))
    hi, lo = square_levels(w, int(nu), phi)
    return {"w": sig(w, 3), "nu": int(nu), "phi": sig(phi), "amp": sig(amp), "mean": sig(float(w.mean())),
            "hi": sig(hi), "lo": sig(lo)}


def _pca2(E: np.ndarray) -> dict[str, Any]:
    """Top-2 principal components of the centred operand embeddings E [n, d], one point per
    residue, signs fixed so residue 0 lies at a non-negative coordinate on each axis."""
    import torch

    X = torch.from_numpy(E - E.mean(axis=0, keepdims=True))
    # eigh of the small [n, n] Gram matrix (torch) rather than numpy's SVD of [n, d]: same
    # components, and numpy's OpenBLAS crawled under thread contention here (seconds per call)
    evals, evecs = (t.numpy() for t in torch.linalg.eigh(X @ X.T))
    top = np.argsort(-evals)[:2]
    S = np.sqrt(np.clip(evals[np.argsort(-evals)], 0, None))
    P = evecs[:, top] * S[:2]
    sign = np.where(P[0] < 0, -1.0, 1.0)
    P = P * sign
    total = float((S**2).sum()) or 1.0
    freqs = [int(np.abs(np.fft.rfft(P[:, i]))[1:].argmax() + 1) if len(P) > 2 else 0 for i in range(2)]
    return {"x": sig(P[:, 0], 3), "y": sig(P[:, 1], 3), "var": sig((S[:2] ** 2 / total).tolist(), 3),
            "freq": freqs}


def _plane(E: np.ndarray, k: int) -> dict[str, Any]:
    """The operand embeddings projected on the plane of frequency k: the span of Σ_x cos(2πkx/n)·E_x
    and Σ_x sin(2πkx/n)·E_x (orthonormalised). A network that uses k puts the residues on a
    circle there, in the order of k·x mod n (the "clock")."""
    n = len(E)
    X = E - E.mean(axis=0, keepdims=True)
    w = 2 * np.pi * k * np.arange(n) / n
    a, b = (np.cos(w) * X.T).sum(axis=1), (np.sin(w) * X.T).sum(axis=1)  # [d] each
    u = a / (np.linalg.norm(a) or 1.0)
    b = b - (b @ u) * u
    v = b / (np.linalg.norm(b) or 1.0)
    px, py = (X * u).sum(axis=1), (X * v).sum(axis=1)
    total = float((X**2).sum()) or 1.0
    return {"x": sig(px, 3), "y": sig(py, 3), "k": int(k), "var": sig(float((px**2 + py**2).sum()) / total, 3)}


def _unit_max(x: np.ndarray) -> np.ndarray:
    m = float(np.max(x)) if len(x) else 0.0
    return x / m if m > 0 else x


def frame(one: dict, cfg: Any, n: int, neurons: Sequence[int], structured_hi: float,
          views: dict[str, np.ndarray] | None = None, clock_k: int = 1) -> dict[str, Any]:
    """Everything the slider redraws for one checkpoint."""
    from grokscope.analysis.neurons import dominant_frequency_phase, periodicity_score, wrap

    v = views or _views(one, cfg, n)
    W_a, W_b, W_out, E = v["W_a"], v["W_b"], v["W_out"], v["E"]
    out: dict[str, Any] = {
        "waves": [[_wave(W_a[:, i]), _wave(W_b[:, i]), _wave(W_out[i])] for i in neurons],
        "pca": _pca2(E),
        "plane": _plane(E, clock_k),
        "spec_embed": sig(_unit_max(freq_norms_fft(E, axis=0)), 3),
        "spec_WL": sig(_unit_max(freq_norms_fft(W_out, axis=1)), 3),
    }
    nu_a, phi_a, _ = dominant_frequency_phase(W_a, axis=0)
    nu_b, phi_b, _ = dominant_frequency_phase(W_b, axis=0)
    nu_o, phi_o, _ = dominant_frequency_phase(W_out, axis=1)
    score = (periodicity_score(W_a, axis=0) + periodicity_score(W_b, axis=0)) / 2
    good = (score > structured_hi) & (nu_a == nu_b) & (nu_b == nu_o)
    out["phase"] = {"s": sig(wrap(phi_a + phi_b), 3), "o": sig(phi_o, 3), "good": good.astype(int).tolist(),
                    "n_good": int(good.sum())}
    return out


# ---------------------------------------------------------------- the whole run


@dataclass
class ReportData:
    run_id: str
    config: dict[str, Any]
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    events: dict[str, Any]
    series: dict[str, list]  # step + measure columns (per checkpoint)
    series_source: str
    frame_steps: list[int] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    neurons: list[int] = field(default_factory=list)
    clock_k: int = 1  # the frequency whose plane the "clock" view shows (strongest in the final embedding)
    n: int = 0
    n_out: int = 0
    arch: str = "mlp"
    model_desc: str = ""  # the family's one-line description
    W_L_formula: str = "W_out"
    neuron_labels: tuple[str, str, str] = ("W_a", "W_b", "W_out")
    final: dict[str, Any] = field(default_factory=dict)  # heatmaps etc. at the final checkpoint
    algorithms: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _read_analysis(path: Path) -> tuple[Any, dict[str, Any]]:
    from grokscope.analysis.pipeline import ANALYSIS_JSON, ANALYSIS_PARQUET

    table, summary = None, {}
    if (path / ANALYSIS_PARQUET).exists():
        import pyarrow.parquet as pq

        table = pq.read_table(path / ANALYSIS_PARQUET).to_pandas()
    if (path / ANALYSIS_JSON).exists():
        try:
            summary = json.loads((path / ANALYSIS_JSON).read_text())
        except json.JSONDecodeError:
            summary = {}
    return table, summary


def collect(path: str | Path, max_frames: int = 60, progress_budget_s: float = 2.0) -> ReportData:
    """Read a run directory and compute everything the report shows (see the module docstring).

    progress_budget_s: when there is no analysis.parquet, restricted/excluded losses are computed
    here on every frame checkpoint if one checkpoint's cost × frames fits this budget."""
    from grokscope.analysis import phases
    from grokscope.analysis.fourier import fourier_1d, fourier_basis
    from grokscope.analysis.neurons import default_thresholds
    from grokscope.analysis.views import unstack
    from grokscope.events import doshi_phase, liu_phase
    from grokscope.store.run import load_run

    t0 = time.perf_counter()
    path = Path(path)
    run = load_run(path)
    cfg = run.config
    rows = run.rows()
    summary = run.summary or {}
    a_table, a_summary = _read_analysis(path)
    steps = run.checkpoint_steps()
    data = ReportData(run_id=summary.get("run_id", path.name), config=json.loads(cfg.to_json()), summary=jsonable(summary),
                   rows=rows, events={}, series={}, series_source="", arch=cfg.model.arch)
    model = run.model()
    data.model_desc, data.W_L_formula, data.neuron_labels = model.describe(), model.W_L_formula, model.neuron_labels
    data.timings["read"] = time.perf_counter() - t0
    task = run.task()
    data.n = task.n
    data.frame_steps = pick_frames(steps, max_frames, keep=(summary.get("saturation_step"), summary.get("t_train99"),
                                                            summary.get("t_val99")))
    # ---- per-checkpoint data at the frame steps
    t = time.perf_counter()
    hi, _ = default_thresholds(task.n)
    params = {s: unstack(run.params(s)) for s in data.frame_steps}
    final_one = params[steps[-1]] if steps else None
    cheap_rows = []
    if final_one is not None:
        views = {}
        try:
            views = {s: _views(params[s], cfg.model, task.n) for s in data.frame_steps}
            data.n_out = views[steps[-1]]["W_out"].shape[1]
            data.neurons = choose_neurons(views[steps[-1]]["W_a"], views[steps[-1]]["W_b"])
            data.clock_k = int(np.argmax(freq_norms_fft(views[steps[-1]]["E"], axis=0))) + 1
            for s in data.frame_steps:
                data.frames.append(frame(params[s], cfg.model, task.n, data.neurons, hi, views[s], data.clock_k))
        except Exception as e:  # noqa: BLE001 — report what could not be drawn, keep the rest
            log.warning("no slider frames for %s: %s", path, e)
            data.notes.append(f"checkpoint frames unavailable: {e}")
            data.frames = []
        for s in data.frame_steps:
            cheap_rows.append({"step": s, **cheap_measures(params[s], cfg.model, task.n, views.get(s))})
    data.timings["frames"] = time.perf_counter() - t

    # ---- progress series: analysis table if present, else cheap + (maybe) restricted/excluded
    t = time.perf_counter()
    if a_table is not None and len(a_table):
        data.series = {c: sig(a_table[c].to_numpy(dtype=float) if a_table[c].dtype.kind in "fiub" else
                                a_table[c].tolist()) for c in a_table.columns if c != "key_freqs"}
        data.series_source = "analysis.parquet (grokscope analyze)"
        series_rows = a_table.to_dict("records")
    else:
        series_rows = cheap_rows
        if task.full_grid and final_one is not None and cheap_rows:
            series_rows = _maybe_progress(run, cheap_rows, progress_budget_s, data)
        cols = sorted({k for r in series_rows for k in r})
        what = ("restricted/excluded loss from the logits, Gini and Σθ² from the weights"
                if "restricted_loss_test" in cols else "Gini and Σθ² from the weights")
        data.series_source = f"computed for this report at the {len(series_rows)} slider checkpoints ({what})"
        data.series = {c: sig([r.get(c, math.nan) for r in series_rows]) for c in cols}
        if "restricted_loss_test" not in data.series and not task.full_grid:
            data.notes.append("restricted/excluded loss need the full (a, b) grid; this task's domain is restricted")
        elif "restricted_loss_test" not in data.series:
            data.notes.append("restricted/excluded loss not computed (too slow for the report's budget); "
                              f"run `grokscope analyze {path}` and re-run `grokscope report {path}`")
    data.timings["series"] = time.perf_counter() - t

    # ---- events
    ev = phases.phase_events(rows, series_rows) if rows else {}
    events: dict[str, Any] = {k: summary.get(k) for k in ("t_train99", "t_val99", "delta_t", "saturation_step")}
    events.update({k: a_summary.get(k, ev.get(k)) for k in ("t_mem_end", "t_circuit", "t_cleanup")})
    events["liu_phase"] = a_summary.get("liu_phase") or (liu_phase(rows) if rows else None)
    if rows and cfg.task.noise > 0:
        events["doshi_phase"] = doshi_phase(rows[-1]["train_acc"], rows[-1]["test_acc"], cfg.task.noise)
    for k in ("stop_reason", "steps", "final_train_acc", "final_test_acc", "final_test_loss", "wall_s"):
        if k in summary:
            events[k] = summary[k]
    for k in ("key_freqs", "n_structured", "n_neurons", "phase_sum_r_structured", "sq_vs_cos_t_structured"):
        if k in a_summary:
            events[k] = a_summary[k]
    data.events = jsonable(events)

    # ---- final-checkpoint heatmaps (Fourier basis)
    t = time.perf_counter()
    if final_one is not None:
        try:
            _, names = fourier_basis(task.n)
            v = _views(final_one, cfg.model, task.n)
            order = np.argsort(np.abs(np.fft.rfft(v["W_a"], axis=0))[1:].argmax(axis=0), kind="stable")
            final: dict[str, Any] = {"names": names, "step": steps[-1], "order": order.tolist()}
            if model.has_embedding:
                final["W_E"] = sig(fourier_1d(v["E"], axis=0), 3)
            final["W_a"] = sig(fourier_1d(v["W_a"], axis=0)[:, order], 3)
            if not np.array_equal(v["W_a"], v["W_b"]):  # a and b have their own input weights
                final["W_b"] = sig(fourier_1d(v["W_b"], axis=0)[:, order], 3)
            if v["W_out"].shape[1] == task.n:
                final["W_L"] = sig(fourier_1d(v["W_out"], axis=1)[order].T, 3)
            data.final = final
        except Exception as e:  # noqa: BLE001
            data.notes.append(f"Fourier heatmaps unavailable: {e}")
    data.timings["heatmaps"] = time.perf_counter() - t

    # ---- clock vs pizza
    t = time.perf_counter()
    keys = ("algorithm", "gradient_symmetricity", "distance_irrelevance", "circularity", "fve_clock", "fve_pizza")
    if any(k in a_summary for k in keys):
        data.algorithms = {k: a_summary.get(k) for k in keys if k in a_summary}
        data.algorithms["source"] = "analysis.json"
    elif "algorithms" in model.measures and task.full_grid and steps:
        try:
            from grokscope.analysis.algorithms import algorithm_measures

            data.algorithms = jsonable(algorithm_measures(model, run.params(steps[-1]), task))
            data.algorithms["source"] = f"computed for the report at step {steps[-1]}"
        except Exception as e:  # noqa: BLE001
            data.notes.append(f"clock/pizza measures unavailable: {e}")
    data.timings["algorithms"] = time.perf_counter() - t
    data.timings["collect"] = time.perf_counter() - t0
    return data


def _maybe_progress(run: Any, cheap_rows: list[dict], budget_s: float, data: ReportData) -> list[dict]:
    """Restricted/excluded losses on the frame checkpoints when the estimate fits `budget_s`
    (the cost grows like n_keys · p³ per checkpoint; timed on the final checkpoint first)."""
    from grokscope.analysis import progress

    model, task, split = run.model(), run.task(), run.split()
    p = task.n
    # a p = 97 MLP with every frequency key takes ~1.5 s per checkpoint; p ≤ 31 takes milliseconds
    rough = len(cheap_rows) * (p / 97) ** 3 * 1.5
    if rough > 4 * budget_s:
        return cheap_rows
    keys = progress.fixed_keys(run)  # the final model's keys at every checkpoint (Nanda's method)
    t = time.perf_counter()
    out = []
    for i, r in enumerate(reversed(cheap_rows)):
        pm = progress.progress_measures(model, run.params(r["step"]), task, split, keys=keys)
        pm.pop("key_freqs", None)
        out.append({**r, **pm})
        spent = time.perf_counter() - t
        if i == 0 and spent * len(cheap_rows) > budget_s:
            return cheap_rows
    return list(reversed(out))
