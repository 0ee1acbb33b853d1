"""The numbers a run report shows, gathered: metrics, events, per-checkpoint series, slider frames.

The report draws what analysis produced and computes no measure of its own
(tests/integration/test_report_numbers.py checks both: the numbers before and after `grokscope
analyze` are the same, and the source of report/ calls no numeric kernel). Sources, in order:

  metrics.parquet, summary.json (training)      -> curves, t_train99 / t_val99 / ΔT, stop reason
  analysis.parquet / analysis.json (`analyze`)  -> progress series, phase events, neuron summary,
                                                   clock / pizza measures
  where those lack a measure the report draws, the analysis functions `analyze` runs, in memory,
  at the slider checkpoints (nothing is written):
    analysis.pipeline.analyze_checkpoint(progress)  restricted / excluded loss, Gini, Σθ² (a full
                                                    (a, b) grid, within the time budget; the final
                                                    checkpoint's key frequencies held fixed)
    analysis.progress.weight_measures               Gini of embedding / W_L and Σθ² (any task)
    analysis.pipeline.analysis_summary              phase events, Liu / Doshi phases, key frequencies
    analysis.pipeline.analyze_checkpoint(algorithms) clock / pizza at the final checkpoint
  analysis.snapshots                              -> slider frames, Fourier heatmaps (each spectrum
                                                   divided by its largest value over all frames; each
                                                   wave fit with analysis' periodicity score,
                                                   neurons.periodicity_score, and whether it exceeds the
                                                   structured threshold, neurons.default_thresholds)

Everything is plain Python and JSON-ready, rounded here to a few significant digits (`sig`;
NaN -> None) so the HTML stays small.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.store.files import jsonable, read_parquet

log = logging.getLogger(__name__)

ALGORITHM_KEYS = ("algorithm", "gradient_symmetricity", "distance_irrelevance", "circularity", "fve_clock",
                  "fve_pizza")
PHASE_KEYS = ("t_mem_end", "t_circuit", "t_cleanup", "t_cleanup_end", "t_mem_end_rule", "liu_phase")
ANALYSIS_EVENT_KEYS = ("key_freqs", "n_structured", "n_neurons", "phase_sum_r_structured", "sq_vs_cos_t_structured")
PROGRESS_COLUMN = "restricted_loss_test"  # present once the progress measures are in the series
WEIGHT_COLUMN = "sum_sq_weights"  # present once the weight-only measures are


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


# ---------------------------------------------------------------- slider frames (analysis.snapshots, rounded)


def spectrum_scale(snaps: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The largest value of each spectrum over all `snaps` (1 where there is none): the slider's
    spectra are drawn relative to it, so scrubbing shows how they grow and shrink."""
    out = {}
    for key in ("spec_embed", "spec_WL"):
        m = max((float(np.max(s[key])) for s in snaps if len(s[key])), default=0.0)
        out[key] = m if m > 0 else 1.0
    return out


def _wave_json(w: dict[str, Any], fit_hi: float) -> dict[str, Any]:
    """A wave fit with its fit score: the periodicity score of the weights (`neurons.periodicity_score`,
    Swaroop's Eq. 1) and whether it marks a structured vector (> fit_hi, `default_thresholds`); the
    report draws the square / cosine fit only then."""
    from grokscope.analysis.neurons import periodicity_score

    score = float(periodicity_score(w["w"]))
    return {"w": sig(w["w"], 3), "nu": w["nu"], "phi": sig(w["phi"]), "amp": sig(w["amp"]), "mean": sig(w["mean"]),
            "hi": sig(w["hi"]), "lo": sig(w["lo"]), "score": sig(score, 3), "fit": bool(score > fit_hi)}


def frame_json(snap: dict[str, Any], scale: dict[str, float] | None = None, fit_hi: float = 0.0) -> dict[str, Any]:
    """One `analysis.snapshots.snapshot`, as the slider's JSON: spectra divided by `scale`
    (`spectrum_scale` over every frame; this frame's own maximum when None), waves with their fit
    score (`_wave_json`, fit drawn above `fit_hi`)."""
    pca, plane, phase = snap["pca"], snap["plane"], snap["phase"]
    scale = scale or spectrum_scale([snap])
    return {
        "waves": [[_wave_json(w, fit_hi) for w in row] for row in snap["waves"]],
        "pca": {"x": sig(pca["coords"][:, 0], 3), "y": sig(pca["coords"][:, 1], 3), "var": sig(pca["var"], 3),
                "freq": pca["freq"]},
        "plane": {"x": sig(plane["x"], 3), "y": sig(plane["y"], 3), "k": plane["k"], "var": sig(plane["var"], 3)},
        "spec_embed": sig(np.asarray(snap["spec_embed"]) / scale["spec_embed"], 3),
        "spec_WL": sig(np.asarray(snap["spec_WL"]) / scale["spec_WL"], 3),
        "phase": {"s": sig(phase["s"], 3), "o": sig(phase["o"], 3), "good": phase["good"].astype(int).tolist(),
                  "n_good": phase["n_good"]},
    }


def heatmaps_json(maps: dict[str, Any], step: int, n: int) -> dict[str, Any]:
    """`analysis.snapshots.fourier_heatmaps`, as the report's JSON: W_b only when a and b have their
    own input weights, W_L only when its rows are the residues (n_out == n)."""
    out: dict[str, Any] = {"names": maps["names"], "step": step, "order": maps["order"].tolist()}
    if "W_E" in maps:
        out["W_E"] = sig(maps["W_E"], 3)
    out["W_a"] = sig(maps["W_a"], 3)
    if not maps["shared_inputs"]:
        out["W_b"] = sig(maps["W_b"], 3)
    if len(maps["W_L"]) == n:
        out["W_L"] = sig(maps["W_L"], 3)
    return out


# ---------------------------------------------------------------- the whole run


@dataclass
class ReportData:
    """Everything a run report shows, read from the run directory (`collect`)."""

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
    arch: str = "mlp"
    model_desc: str = ""  # the family's one-line description
    W_L_formula: str = "W_out"
    neuron_labels: tuple[str, str, str] = ("W_a", "W_b", "W_out")
    panels: tuple[str, ...] = ()  # the family's report panels (`StackedModel.report_panels`)
    config_fields: tuple[str, ...] = ()  # the model config fields the model reads (`config_fields()`)
    input_label: str = "embedding W_E"  # what the "embedding" spectrum is of: W_E, or the input weights
    fit_hi: float = 0.0  # periodicity score above which a wave fit is drawn (analysis' structured threshold)
    key_freqs: list[int] = field(default_factory=list)  # the final checkpoint's key frequencies (analysis)
    final: dict[str, Any] = field(default_factory=dict)  # heatmaps etc. at the final checkpoint
    algorithms: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _read_analysis(path: Path) -> tuple[Any, dict[str, Any]]:
    from grokscope.analysis.pipeline import ANALYSIS_JSON, ANALYSIS_PARQUET

    table, summary = None, {}
    if (path / ANALYSIS_PARQUET).exists():
        table = _numeric_nans(read_parquet(path / ANALYSIS_PARQUET).to_pydict())
    if (path / ANALYSIS_JSON).exists():
        try:
            summary = json.loads((path / ANALYSIS_JSON).read_text())
        except json.JSONDecodeError:
            summary = {}
    return table, summary


def collect(path: str | Path, max_frames: int = 60, progress_budget_s: float = 2.0) -> ReportData:
    """Read a run directory and gather everything the report shows (see the module docstring).

    progress_budget_s: when the series lacks restricted/excluded loss (no analysis.parquet, or one
    without the progress measures), they are computed at the series' checkpoints if one
    checkpoint's cost × their number fits this budget."""
    from grokscope.analysis import pipeline, snapshots
    from grokscope.analysis.views import unstack
    from grokscope.store.run import load_run

    t0 = time.perf_counter()
    path = Path(path)
    run = load_run(path)
    cfg = run.config
    rows = run.rows()
    summary = run.summary or {}
    a_table, a_summary = _read_analysis(path)
    steps = run.checkpoint_steps()
    data = ReportData(run_id=summary.get("run_id", path.name), config=json.loads(cfg.to_json()),
                      summary=jsonable(summary), rows=rows, events={}, series={}, series_source="", arch=cfg.model.arch)
    model = run.model()
    data.model_desc, data.W_L_formula, data.neuron_labels = model.describe(), model.W_L_formula, model.neuron_labels
    data.panels, data.config_fields = tuple(model.report_panels), tuple(model.config_fields())
    task = run.task()
    pairs = task.inputs == "pairs"  # the weight views below (embeddings, Fourier, neurons) read Z_n operands
    if pairs:
        tables = dict.fromkeys(model.input_tables)  # the operands' input tables, once each
        data.input_label = ("embedding W_E" if model.has_embedding else "input weights " + " | ".join(tables))
    data.timings["read"] = time.perf_counter() - t0
    data.n = task.n_in
    if not pairs:
        steps = []  # no checkpoint views apply; curves, events and the forecast still do
        data.notes.append(f"task {cfg.task.name!r} has dense inputs: the Fourier, embedding and neuron panels "
                          "apply to modular tasks only")
    data.frame_steps = pick_frames(steps, max_frames, keep=(summary.get("saturation_step"), summary.get("t_train99"),
                                                            summary.get("t_val99")))
    # ---- slider frames: analysis.snapshots at the frame steps
    t = time.perf_counter()
    ones = {s: unstack(run.params(s)) for s in data.frame_steps}  # one model's params, read once per step
    final_one = ones[steps[-1]] if steps else None
    if final_one is not None:
        from grokscope.analysis.neurons import default_thresholds

        data.fit_hi = default_thresholds(task.n)[0]
        try:
            data.neurons, data.clock_k = snapshots.slider_choices(final_one, cfg.model, task.n)
            snaps = [snapshots.snapshot(ones[s], cfg.model, task.n, data.neurons, data.clock_k) for s in data.frame_steps]
            scale = spectrum_scale(snaps)
            data.frames = [frame_json(snap, scale, data.fit_hi) for snap in snaps]
        except Exception as e:  # noqa: BLE001 — report what could not be drawn, keep the rest
            log.warning("no slider frames for %s: %s", path, e)
            data.notes.append(f"checkpoint frames unavailable: {e}")
            data.frames = []
    data.timings["frames"] = time.perf_counter() - t

    # ---- progress series: the analysis table, completed by the analysis functions where it lacks a measure
    t = time.perf_counter()
    analysed = a_table is not None and len(a_table.get("step", ())) > 0
    table = a_table if analysed else {"step": list(data.frame_steps)}  # {column: values}, one row per step
    n_rows = len(table["step"])
    computed: list[str] = []
    if n_rows and PROGRESS_COLUMN not in table and task.full_grid:
        table = _add_columns(table, _progress_rows(run, table["step"], progress_budget_s), computed,
                             "restricted/excluded loss from the logits, Gini and Σθ² from the weights")
    if n_rows and WEIGHT_COLUMN not in table:
        from grokscope.analysis.progress import weight_measures

        try:
            weight_rows = [{"step": s, **weight_measures(ones[s] if s in ones else unstack(run.params(s)), cfg.model,
                                                         task.n)} for s in table["step"]]
            table = _add_columns(table, weight_rows, computed, "Gini and Σθ² from the weights")
        except Exception as e:  # noqa: BLE001 — a view that does not apply leaves the columns out
            data.notes.append(f"Gini and Σθ² unavailable: {e}")
    data.series = {c: sig(np.asarray(v, dtype=float) if _is_numeric(v) else list(v))
                   for c, v in table.items() if c != "key_freqs"} if n_rows else {}
    run_here = (f"grokscope's analysis functions, run for this report at {'its' if analysed else 'the'} "
                f"{n_rows} {'' if analysed else 'slider '}checkpoints ({'; '.join(computed)})")
    data.series_source = "; ".join([*(["analysis.parquet (grokscope analyze)"] if analysed else []),
                                    *([run_here] if computed else [])]) or "no checkpoints"
    if PROGRESS_COLUMN not in data.series and not task.full_grid:
        data.notes.append("restricted/excluded loss need the full (a, b) grid; this task's domain is restricted")
    elif PROGRESS_COLUMN not in data.series:
        data.notes.append("restricted/excluded loss not computed (too slow for the report's budget); "
                          f"run `grokscope analyze {path}` and re-run `grokscope report {path}`")
    data.timings["series"] = time.perf_counter() - t

    # ---- events: training's summary.json, analysis.json's (or analysis_summary of the series above)
    series_rows = [dict(zip(table, values, strict=True)) for values in zip(*table.values(), strict=True)]
    ev = a_summary
    if not all(k in a_summary for k in PHASE_KEYS):  # not analysed (or by an older grokscope)
        ev = {**pipeline.analysis_summary(run, series_rows, ()), **a_summary}
    events: dict[str, Any] = {k: summary.get(k) for k in ("t_train99", "t_val99", "delta_t", "saturation_step")}
    shown = PHASE_KEYS + (("doshi_phase",) if cfg.task.noise > 0 else ())
    events.update({k: ev.get(k) for k in shown})
    events.update({k: summary[k] for k in ("stop_reason", "steps", "final_train_acc", "final_test_acc",
                                           "final_test_loss", "wall_s") if k in summary})
    events.update({k: ev[k] for k in ANALYSIS_EVENT_KEYS if k in ev})
    data.events = jsonable(events)
    # the key frequencies the Fourier panels' text names: analysis' (else its rule, `held_keys`, here)
    keys = events.get("key_freqs")
    if keys is None and steps:
        keys = pipeline.held_keys(run)
    data.key_freqs = [int(k) for k in (keys.split(",") if isinstance(keys, str) else keys or ()) if str(k).strip()]

    # ---- final-checkpoint heatmaps (Fourier basis)
    t = time.perf_counter()
    if final_one is not None:
        try:
            data.final = heatmaps_json(snapshots.fourier_heatmaps(final_one, cfg.model, task.n), steps[-1], task.n)
        except Exception as e:  # noqa: BLE001
            data.notes.append(f"Fourier heatmaps unavailable: {e}")
    data.timings["heatmaps"] = time.perf_counter() - t

    # ---- clock vs pizza: the last analysed row, else the `algorithms` measure at the final checkpoint
    t = time.perf_counter()
    if analysed and any(k in a_table for k in ALGORITHM_KEYS):
        last = series_rows[-1]
        data.algorithms = {k: last[k] for k in ALGORITHM_KEYS if k in last}
        data.algorithms["source"] = f"analysis.parquet at step {int(last['step'])}"
    elif "algorithms" in model.measures and task.full_grid and steps:
        try:
            last = pipeline.analyze_checkpoint(run, steps[-1], ("algorithms",), keys=pipeline.held_keys(run))
            data.algorithms = {k: last[k] for k in ALGORITHM_KEYS if k in last}
            data.algorithms["source"] = f"computed for the report at step {steps[-1]}"
        except Exception as e:  # noqa: BLE001
            data.notes.append(f"clock/pizza measures unavailable: {e}")
    data.algorithms = jsonable(data.algorithms)
    data.timings["algorithms"] = time.perf_counter() - t
    data.timings["collect"] = time.perf_counter() - t0
    return data


def _add_columns(table: dict[str, list], rows: list[dict[str, Any]], computed: list[str],
                 what: str) -> dict[str, list]:
    """`table` ({column: values}) with the columns of `rows` (one per table row, same steps) that it lacks."""
    if not rows:
        return table
    table = dict(table)
    for c in rows[0]:
        if c not in table:
            table[c] = [r.get(c, math.nan) for r in rows]
    computed.append(what)
    return table


def _is_numeric(values: Sequence[Any]) -> bool:
    """A column of numbers (bools and ints included): drawn as a float series."""
    return all(isinstance(v, (numbers.Real, np.bool_)) for v in values)


def _numeric_nans(table: dict[str, list]) -> dict[str, list]:
    """Parquet nulls in number columns as NaN (how the measures write a value that does not apply),
    so those columns stay numeric; other columns as they are. (Plain lists, not a DataFrame: the
    report of every run reads this, and importing pandas cost ~0.4 s of it.)"""
    out = {}
    for c, values in table.items():
        present = [v for v in values if v is not None]
        out[c] = [math.nan if v is None else v for v in values] if present and _is_numeric(present) else values
    return out


def _progress_rows(run: Any, steps: list[int], budget_s: float) -> list[dict[str, Any]]:
    """`analyze_checkpoint(progress)` at `steps` with the final checkpoint's key frequencies (what
    `grokscope analyze` computes), or [] when the estimate does not fit `budget_s` (the cost grows
    like n_keys · p³ per checkpoint; timed on the final checkpoint first)."""
    from grokscope.analysis import pipeline

    p = run.task().n
    # a p = 97 MLP with every frequency key takes ~1.5 s per checkpoint; p ≤ 31 takes milliseconds
    if len(steps) * (p / 97) ** 3 * 1.5 > 4 * budget_s:
        return []
    keys = pipeline.held_keys(run)  # the final model's keys at every checkpoint (Nanda's method)
    t = time.perf_counter()
    out = []
    for i, step in enumerate(reversed(steps)):
        out.append(pipeline.analyze_checkpoint(run, step, ("progress",), keys=keys))
        if i == 0 and (time.perf_counter() - t) * len(steps) > budget_s:
            return []
    return list(reversed(out))
