"""The analyze pipeline: measures over every checkpoint of a run directory -> `analysis.parquet`
(+ `analysis.json` with a summary). Numbers only: the figures of an analysis (`figures/*.png`) are
drawn by `grokscope.report.write_analysis_figures(run_dir, analysis)`.

`analyze_run` is `analysis_rows` (the table's rows, in memory) + `analysis_summary` + the two files;
the run report calls the same two functions for a run not analysed yet, so a number it shows is
the number `grokscope analyze` writes.

One row per checkpoint step. Column groups (`measures`):
  progress    key_freqs, n_key_freqs (the final checkpoint's, held fixed: `analyze_run(keys=...)`),
              restricted/excluded loss and accuracy on train/test/all, gini_embed, gini_W_L,
              sum_sq_weights                                                (needs a full grid)
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
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grokscope.analysis.fourier import AnalysisError, key_frequencies, unembed_freq_norms
from grokscope.analysis.measures import Checkpoint, registry
from grokscope.analysis.views import unstack
from grokscope.store.files import atomic_write, jsonable, write_text
from grokscope.store.names import ANALYSIS_JSON, ANALYSIS_PARQUET

log = logging.getLogger(__name__)

MEASURES = tuple(registry())  # column groups, in order (see the module docstring)


@dataclass
class Analysis:
    """The result of `analyze_run`: the table (pandas), a summary dict and the files written
    (`report.write_analysis_figures` appends the figures it draws)."""

    table: Any  # pandas.DataFrame
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def default_measures(run: Any) -> tuple[str, ...]:
    """Everything that applies: the measures of the run's model family (`StackedModel.measures`),
    without the grid-only ones unless the task is a full (a, b) grid with n_out == n."""
    full, family, task = run.task().full_grid, run.model().measures, run.config.task.name
    return tuple(name for name, m in registry().items()
                 if name in family and m.applies_to(task) and (full or not m.grid_only))


def resolve_measures(run: Any, measures: Sequence[str] | None) -> tuple[str, ...]:
    """The measures to compute for an opened run: `measures` checked (AnalysisError naming the first one
    that is unknown or does not apply to the run's task), or the defaults (`default_measures`)."""
    if measures is None:
        return default_measures(run)
    table, task = registry(), run.config.task.name
    for name in measures:
        if name not in table:
            raise AnalysisError(f"unknown measure {name!r}; valid: {', '.join(table)}")
        if not table[name].applies_to(task):
            here = ", ".join(n for n, m in table.items() if m.applies_to(task)) or "none"
            raise AnalysisError(f"measure {name!r} applies to task {', '.join(table[name].tasks or ())}, not to "
                                f"this run's task {task!r}; valid here: {here}")
    return tuple(measures)


def analyze_checkpoint(
    run: Any, which: int | str, measures: Sequence[str], square_fit: bool = False,
    key_threshold: float = 0.25, n_perm: int = 200, keys: Sequence[int] | None = None,
) -> dict[str, Any]:
    """One row of the table for checkpoint `which` of an opened run. `keys`: the key frequencies
    the progress/algorithm measures use (default: this checkpoint's own, W_L ≥ key_threshold × max)."""
    params = run.params(which)
    one = unstack(params)
    if keys is None:
        keys = key_frequencies(unembed_freq_norms(one, run.config.model), key_threshold) if _modular(run) else []
    ck = Checkpoint(run=run, model=run.model(), task=run.task(), split=run.split(), params=params, one=one,
                    keys=list(keys), square_fit=square_fit, n_perm=n_perm, step=run.resolve_step(which))
    row: dict[str, Any] = {"step": ck.step}
    for name, m in registry().items():
        if name in measures:
            row.update(m.fn(ck))
    return row


def held_keys(run: Any, keys: str = "final", key_threshold: float = 0.25) -> list[int] | None:
    """The key frequencies every checkpoint's progress/algorithm measures use: the final
    checkpoint's, held fixed (keys='final', Nanda et al.'s method: `progress.fixed_keys`), or None
    (keys='each': every checkpoint its own)."""
    if keys not in ("final", "each"):
        raise AnalysisError(f"keys must be 'final' or 'each', got {keys!r}")
    from grokscope.analysis.progress import fixed_keys

    if not _modular(run):
        return []  # key frequencies are Z_n's
    return fixed_keys(run, key_threshold) if keys == "final" else None


def _modular(run: Any) -> bool:
    return run.config.task.name == "modular"


def analysis_rows(
    run: Any, measures: Sequence[str], steps: Sequence[int], fit_steps: Collection[int] = (),
    key_threshold: float = 0.25, keys: Sequence[int] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """The rows of the analysis table at `steps` of an opened run, in memory (nothing is written):
    `analyze_checkpoint` of each step (the square-vs-cosine fit at `fit_steps`, key frequencies
    `keys`), with train/test accuracy and loss and weight_norm from the metrics row of the same
    step (NaN where there is none). on_step(i, total) is called after each checkpoint."""
    metrics = {r["step"]: r for r in run.rows()}
    out = []
    for i, step in enumerate(steps):
        row = analyze_checkpoint(run, step, measures, square_fit=step in fit_steps, key_threshold=key_threshold,
                                 keys=keys)
        m = metrics.get(step, {})
        for key in ("train_acc", "test_acc", "train_loss", "test_loss", "weight_norm"):
            row.setdefault(key, m.get(key, math.nan))
        out.append(row)
        if on_step is not None:
            on_step(i + 1, len(steps))
    return out


SUMMARY_FINAL = ("key_freqs", "n_structured", "n_neurons", "freq_agreement", "freq_agreement_structured",
                 "phase_sum_r_structured", "phase_sum_r_all", "phase_sum_p_perm_structured",
                 "sq_vs_cos_t_structured", "sq_vs_cos_df_structured", "sq_vs_cos_t_all",
                 "binariness_structured", "restricted_loss_test", "excluded_loss_train", "gini_W_L",
                 "algorithm", "gradient_symmetricity", "distance_irrelevance", "fve_clock", "fve_pizza")


def analysis_summary(run: Any, rows: Sequence[dict[str, Any]], measures: Sequence[str],
                     rules: Any = None) -> dict[str, Any]:
    """What analysis.json says of `analysis_rows` (less its bookkeeping: run id, measures, wall
    time): the final row's measures (`SUMMARY_FINAL`), idealized accuracies at the first,
    saturation and final checkpoints, the Liu and Doshi phases of the run's metrics, and the phase
    events (`phases.phase_events` under `rules`, `phases.NandaRules()` when None)."""
    from grokscope.analysis import phases
    from grokscope.events import doshi_phase, liu_phase

    all_steps = run.checkpoint_steps()
    sat = (run.summary or {}).get("saturation_step")
    by_step = {int(r["step"]): r for r in rows}
    final = by_step[max(by_step)] if by_step else {}
    summary: dict[str, Any] = {key: final[key] for key in SUMMARY_FINAL if key in final}
    if "idealized" in measures and all_steps:
        for label, step in (("final", all_steps[-1]), ("saturation", sat), ("first", all_steps[0])):
            if step in by_step:
                for col in ("ideal_sq_cos_test_nu", "ideal_sq_cos_test_own"):
                    summary[f"{col}_{label}"] = by_step[step][col]
    metrics = run.rows()
    summary["liu_phase"] = liu_phase(metrics) if metrics else None
    if metrics:
        last = metrics[-1]
        summary["doshi_phase"] = doshi_phase(last["train_acc"], last["test_acc"], run.config.task.noise)
    rules = rules if rules is not None else phases.NandaRules()
    summary.update(phases.phase_events(metrics, rows, rules))
    summary["phase_rules"] = phases.rules_dict(rules)
    summary["saturation_step"] = sat
    return summary


def analyze_run(
    path: str | Path,
    measures: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    square_fit_steps: str | Sequence[int] = "key",
    key_threshold: float = 0.25,
    on_step: Callable[[int, int], None] | None = None,
    keys: str = "final",
    rules: Any = None,
) -> Analysis:
    """Compute `measures` at every checkpoint (or `steps`), write analysis.parquet and
    analysis.json into the run directory, and return them (figures: `grokscope.report`'s
    `write_analysis_figures(path, result)`).

    square_fit_steps: 'key' (first, saturation and final checkpoints — the fit is the slow part),
    'all', or explicit steps. on_step(i, total) is called after each checkpoint.
    keys: 'final' (default; Nanda et al.'s method) — the final checkpoint's key frequencies held
    fixed at every checkpoint, so excluded/restricted loss follow one set of frequencies through
    the run — or 'each' (every checkpoint its own). rules: `phases.NandaRules` for the phase
    events (default thresholds when None). The rows are `analysis_rows`, the summary
    `analysis_summary` plus the run id, measures, key source and wall time.
    """
    import pandas as pd

    from grokscope.store.run import load_run

    run = load_run(path)
    t0 = time.perf_counter()
    measures = resolve_measures(run, measures)
    all_steps = run.checkpoint_steps()
    if not all_steps:
        raise AnalysisError(f"{path} has no checkpoints to analyse")
    steps = list(all_steps if steps is None else steps)
    held = held_keys(run, keys, key_threshold)
    sat = (run.summary or {}).get("saturation_step")
    if square_fit_steps == "key":
        fit_steps = {all_steps[0], all_steps[-1]} | ({sat} if sat in all_steps else set())
    elif square_fit_steps == "all":
        fit_steps = set(steps)
    else:
        fit_steps = set(square_fit_steps)
    out_rows = analysis_rows(run, measures, steps, fit_steps, key_threshold, held, on_step)
    table = pd.DataFrame(out_rows).sort_values("step").reset_index(drop=True)
    run_dir = Path(path)
    files = [run_dir / ANALYSIS_PARQUET]
    atomic_write(files[0], lambda tmp: table.to_parquet(tmp, index=False))  # a reader never sees half a table

    summary: dict[str, Any] = {"run_id": run_dir.name, "measures": list(measures), "n_checkpoints": len(steps),
                               "key_source": keys, **analysis_summary(run, out_rows, measures, rules)}
    summary["analysis_wall_s"] = round(time.perf_counter() - t0, 2)
    write_text(run_dir / ANALYSIS_JSON, json.dumps(jsonable(summary), indent=2, sort_keys=True))
    files.append(run_dir / ANALYSIS_JSON)

    log.info("analysed %d checkpoints of %s in %.1fs", len(steps), run_dir, time.perf_counter() - t0)
    return Analysis(table=table, summary=summary, files=files)
