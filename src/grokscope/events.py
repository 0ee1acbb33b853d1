"""Events of a run and the labels read off them: the one home of every threshold and rule.

Torch-free and dependency-free (stdlib only), so every layer can read it: the engine writes
`summarize` into summary.json, the store labels its index with `liu_phase_from_events` /
`doshi_phase`, analysis and the reports use the same functions.

Events (Power et al. 2022; Manir & Rupa 2026), located on the evaluation grid:
  t_train(x)  first evaluated step with train accuracy >= x       (x = EVENT_THRESHOLD = 0.99)
  t_val(x)    first evaluated step with test (validation) accuracy >= x
  delta_t     t_val(x) - t_train(x), the grokking delay ΔT
  grokked     t_val(x) exists
A NaN or missing value never crosses a threshold.

Liu et al. 2022, four phases, from t_train(x) and t_val(x) with x = LIU_THRESHOLD = 0.9 and the
delay D = LIU_DELAY = 10³ steps measured from step 0 (as in the paper, "within 10³ steps"):
  confusion      train accuracy never reaches x;
  memorization   train reaches x, validation never does (within the run's budget);
  comprehension  validation reaches x within D steps (so train did too);
  grokking       train reaches x, validation reaches x only after step D.

Doshi et al. 2024, five phases, from final train accuracy (on the trained-on, possibly corrupted
labels), final test accuracy and the corruption fraction ξ, x = DOSHI_THRESHOLD = 0.9 (App. C),
floor 100(DOSHI_FLOOR − ξ)% with DOSHI_FLOOR = 1.05:
  coexistence        test ≥ x and train ≥ x
  partial_inversion  test ≥ x and floor ≤ train < x
  full_inversion     test ≥ x and train < floor
  memorization       test < x and train ≥ x
  forgetting         test < x and train < x       (Doshi's "forgetting/confusion")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

EVENT_THRESHOLD = 0.99  # t_train99 / t_val99
LIU_THRESHOLD = 0.9
LIU_DELAY = 1000
DOSHI_THRESHOLD = 0.9
DOSHI_FLOOR = 1.05  # the full/partial inversion boundary is DOSHI_FLOOR - ξ

LIU_PHASES = ("comprehension", "grokking", "memorization", "confusion")
DOSHI_PHASES = ("coexistence", "partial_inversion", "full_inversion", "memorization", "forgetting")

FINAL_KEYS = ("train_acc", "test_acc", "train_loss", "test_loss", "train_clean_acc", "weight_norm")


def _crosses(value: Any, threshold: float) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value >= threshold


def first_row(rows: Sequence[Mapping[str, Any]], key: str, threshold: float) -> Mapping[str, Any] | None:
    """First row with row[key] >= threshold (rows sorted by step), or None."""
    return next((row for row in rows if _crosses(row.get(key), threshold)), None)


def first_step(rows: Sequence[Mapping[str, Any]], key: str, threshold: float) -> int | None:
    """First row's step with row[key] >= threshold (rows sorted by step), or None."""
    row = first_row(rows, key, threshold)
    return None if row is None else int(row["step"])


def event_names(threshold: float = EVENT_THRESHOLD) -> tuple[str, str]:
    """The summary keys of t_train(x) and t_val(x): ("t_train99", "t_val99") for x = 0.99."""
    pct = round(threshold * 100)
    return f"t_train{pct}", f"t_val{pct}"


def summarize(rows: Sequence[dict[str, Any]], threshold: float = EVENT_THRESHOLD, **extra: Any) -> dict[str, Any]:
    """Events and final values of one run's metrics rows (sorted by step); `extra` is merged in."""
    t_train = first_step(rows, "train_acc", threshold)
    t_val = first_step(rows, "test_acc", threshold)
    last = rows[-1] if rows else {}
    k_train, k_val = event_names(threshold)
    out: dict[str, Any] = {
        k_train: t_train,
        k_val: t_val,
        "delta_t": None if t_train is None or t_val is None else t_val - t_train,
        "grokked": t_val is not None,
        "final_step": last.get("step"),
        "best_test_acc": max((r["test_acc"] for r in rows), default=None),
    }
    for key in FINAL_KEYS:
        out[f"final_{key}"] = last.get(key)
    out.update(extra)
    return out


def liu_phase_from_events(t_train: int | None, t_val: int | None, delay: int = LIU_DELAY) -> str:
    """Liu et al.'s label from t_train(x) and t_val(x) (None: never reached)."""
    if t_train is None:
        return "confusion"
    if t_val is None:
        return "memorization"
    return "comprehension" if t_val <= delay else "grokking"


def liu_phase(rows: Sequence[dict[str, Any]], threshold: float = LIU_THRESHOLD, delay: int = LIU_DELAY) -> str:
    """Liu et al.'s four-phase label of one run's metrics rows (sorted by step)."""
    return liu_phase_from_events(first_step(rows, "train_acc", threshold), first_step(rows, "test_acc", threshold),
                                 delay)


def doshi_phase(train_acc: float, test_acc: float, xi: float, threshold: float = DOSHI_THRESHOLD) -> str:
    """Doshi et al.'s five-phase label from final accuracies and corruption fraction ξ."""
    floor = DOSHI_FLOOR - xi  # 100(1.05 − ξ)% as a fraction
    if test_acc >= threshold:
        if train_acc >= threshold:
            return "coexistence"
        return "partial_inversion" if train_acc >= floor else "full_inversion"
    return "memorization" if train_acc >= threshold else "forgetting"


__all__ = [
    "DOSHI_FLOOR", "DOSHI_PHASES", "DOSHI_THRESHOLD", "EVENT_THRESHOLD", "LIU_DELAY", "LIU_PHASES",
    "LIU_THRESHOLD", "doshi_phase", "event_names", "first_step", "liu_phase", "liu_phase_from_events",
    "summarize",
]
