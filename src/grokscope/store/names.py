"""The names of the files grokscope writes, each defined once: a run directory, a sweep directory, and
what `analyze`, `report`, `compare`, `reproduce` and `forecast fit` add. Stdlib only, so any layer
(and the CLI, before torch) may read them.

    runs/<run_id>/  config.json, metrics.jsonl -> metrics.parquet, checkpoints/, summary.json (last),
                    error.json (a failed sweep run), curves.png, report.html, report_figures/,
                    analysis.parquet, analysis.json, figures/
    runs/<sweep>/   sweep.json, .sweep.lock, grokscope.duckdb, report.html, <run_id>/ ...
"""

from __future__ import annotations

# a run directory
CONFIG = "config.json"  # the resolved config, written first
METRICS_JSONL = "metrics.jsonl"  # one row per evaluation while running
METRICS_PARQUET = "metrics.parquet"  # the same rows, written at the end
SUMMARY = "summary.json"  # events and final values; written last, so a run with it is finished
ERROR = "error.json"  # why a sweep's run failed (removed when it is retried)
CHECKPOINTS = "checkpoints"  # the weights at the checkpoint steps, and the resumable state
STATE = f"{CHECKPOINTS}/state.safetensors"  # the newest resumable state (weights, optimizer, bookkeeping)
CHECKPOINT_GLOB = "step_*.safetensors"  # the checkpoints inside CHECKPOINTS
CURVES = "curves.png"  # accuracy and loss against step
REPORT = "report.html"  # a run's report, and a sweep's
PNG_DIR = "report_figures"  # the report's static PNGs
ANALYSIS_PARQUET = "analysis.parquet"  # `grokscope analyze`: one row per checkpoint
ANALYSIS_JSON = "analysis.json"  # `grokscope analyze`: the summary
FIGURES = "figures"  # `grokscope analyze`'s figures

# a sweep directory (also a compare's)
SWEEP = "sweep.json"  # the spec, resolved: axes, run ids, backend, counts
SWEEP_LOCK = ".sweep.lock"  # one sweep process per directory
DB_NAME = "grokscope.duckdb"  # the index of the runs under a directory

# compare, reproduce, forecast
COMPARE_JSON, COMPARE_PNG, COMPARE_MD = "compare.json", "compare.png", "compare.md"
REPRODUCE = "reproduce.json"  # a reproduction's rows beside the paper's
FORECAST_MODEL = "forecast_model.json"  # `grokscope forecast fit`'s model, by default in the first store


def checkpoint_name(step: int) -> str:
    """The checkpoint of `step`, relative to the run directory."""
    return f"{CHECKPOINTS}/step_{step:07d}.safetensors"
