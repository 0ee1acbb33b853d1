"""Events read off a metrics series: when a run memorised, when it generalised, and the delay.

Rules (thresholds are parameters):
- t_train(x): first evaluated step with train accuracy >= x (Power et al.: x = 0.99).
- t_val(x):   first evaluated step with test (validation) accuracy >= x.
- delta_t:    t_val(x) - t_train(x), the grokking delay of Manir & Rupa 2026.
Steps are those that were evaluated, so an event is located to the evaluation grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def first_step(rows: Sequence[dict[str, Any]], key: str, threshold: float) -> int | None:
    """First row's step with row[key] >= threshold, or None."""
    for row in rows:
        value = row.get(key)
        if value is not None and not math.isnan(value) and value >= threshold:
            return int(row["step"])
    return None


def summarize(rows: Sequence[dict[str, Any]], threshold: float = 0.99, **extra: Any) -> dict[str, Any]:
    """Events and final values of one run's metrics rows (sorted by step)."""
    t_train = first_step(rows, "train_acc", threshold)
    t_val = first_step(rows, "test_acc", threshold)
    last = rows[-1] if rows else {}
    pct = round(threshold * 100)
    out: dict[str, Any] = {
        f"t_train{pct}": t_train,
        f"t_val{pct}": t_val,
        "delta_t": None if t_train is None or t_val is None else t_val - t_train,
        "grokked": t_val is not None,
        "final_step": last.get("step"),
        "best_test_acc": max((r["test_acc"] for r in rows), default=None),
    }
    for key in ("train_acc", "test_acc", "train_loss", "test_loss", "train_clean_acc", "weight_norm"):
        out[f"final_{key}"] = last.get(key)
    out.update(extra)
    return out
