"""Nanda-style phase boundaries of a run, over its metrics rows and analysis series.

The phase labels (Liu et al. 2022, Doshi et al. 2024), t_train99 / t_val99 and their thresholds
live in `grokscope.events`; this module adds the events that need the analysis series.

Events beyond t_train99 / t_val99 (`phase_events`), over metrics rows and the analysis series:
  t_mem_end        end of memorisation: first evaluated step with train accuracy ≥ mem_acc (0.999).
  t_circuit        circuit-formation onset: let m be the analysed step ≥ t_train99 (and ≤ t_val99
                   when the run generalised) where excluded_loss_train is smallest; the onset is
                   the first analysed step ≥ m with excluded_loss_train ≥ rise × its value at m
                   AND restricted_loss_test ≤ fall × its value at m (rise 2, fall 0.5).
  t_cleanup        cleanup: first analysed step after t_circuit (or t_train99) where gini_W_L
                   has covered `gini_frac` (0.5) of its rise from that step's value to its
                   maximum, provided the rise is ≥ `gini_min_jump` (0.05).
Steps are located on the evaluation / checkpoint grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grokscope.events import EVENT_THRESHOLD, first_step


def _value(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def phase_events(
    rows: Sequence[dict[str, Any]],
    analysis: Sequence[dict[str, Any]] = (),
    mem_acc: float = 0.999,
    rise: float = 2.0,
    fall: float = 0.5,
    gini_frac: float = 0.5,
    gini_min_jump: float = 0.05,
) -> dict[str, int | None]:
    """t_train99, t_val99, t_mem_end, t_circuit, t_cleanup (rules in the module docstring).

    `analysis` rows need step, excluded_loss_train, restricted_loss_test, gini_W_L (those
    missing leave the corresponding event None)."""
    out: dict[str, int | None] = {
        "t_train99": first_step(rows, "train_acc", EVENT_THRESHOLD),
        "t_val99": first_step(rows, "test_acc", EVENT_THRESHOLD),
        "t_mem_end": first_step(rows, "train_acc", mem_acc),
        "t_circuit": None,
        "t_cleanup": None,
    }
    start = out["t_train99"]
    series = sorted(analysis, key=lambda r: r["step"])
    after = [r for r in series if start is not None and r["step"] >= start]
    if not after:
        return out
    window = [r for r in after if out["t_val99"] is None or r["step"] <= out["t_val99"]] or after
    with_ex = [r for r in window if _value(r, "excluded_loss_train") is not None]
    base = min(with_ex, key=lambda r: _value(r, "excluded_loss_train")) if with_ex else after[0]
    after = [r for r in after if r["step"] >= base["step"]]
    ex0, re0 = _value(base, "excluded_loss_train"), _value(base, "restricted_loss_test")
    if ex0 is not None and re0 is not None:
        for r in after:
            ex, re = _value(r, "excluded_loss_train"), _value(r, "restricted_loss_test")
            if ex is not None and re is not None and ex >= rise * ex0 and re <= fall * re0:
                out["t_circuit"] = int(r["step"])
                break
    from_step = out["t_circuit"] if out["t_circuit"] is not None else base["step"]
    tail = [r for r in after if r["step"] >= from_step and _value(r, "gini_W_L") is not None]
    if tail:
        g0 = _value(tail[0], "gini_W_L")
        g_max = max(_value(r, "gini_W_L") for r in tail)
        if g_max - g0 >= gini_min_jump:
            target = g0 + gini_frac * (g_max - g0)
            out["t_cleanup"] = next(int(r["step"]) for r in tail if _value(r, "gini_W_L") >= target)
    return out
