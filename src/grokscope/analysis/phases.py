"""Nanda et al.'s three phases of grokking, by the paper's own definitions (§5.2; docs/papers/nanda2023.md).

The paper gives no numeric rule, only what the progress measures do in each phase (key frequencies
are the *final* model's, held fixed over the run: `progress.fixed_keys`):

  memorisation (0–1.4k)   "excluded and train loss both decline; test and restricted loss stay high"
  circuit formation       "excluded loss rises, Σθ² falls, restricted loss starts to fall; train and
  (1.4k–9.4k)             test loss stay flat"
  cleanup (9.4k–~14k)     "test loss suddenly drops, Σθ² drops sharply; Gini of W_E and W_L jumps"
                          (excluded loss plateaus, restricted loss keeps dropping)

Those words turned into code. A quantity x *falls* at an analysed step s when, from s to the first
analysed step ≥ s + `window` (s⁺), it drops by more than a fraction (losses compared in log space:
ln x(s⁺) − ln x(s) < ln(1 − f)); it *rises* likewise; it is *flat* when it moves by less than the
`flat` fraction either way. Thresholds are the fields of `NandaRules`:

  t_mem_end      memorisation ends when excluded loss (train) and train loss stop falling together:
                 the first s where they no longer both fall by `fall` (their joint decline ends —
                 in the paper the excluded loss turns up while train loss flattens); with
                 `mem_both` the first s where neither falls any more.
  t_circuit      circuit formation: the first s ≥ t_mem_end where excluded loss rises by `rise`,
                 Σθ² falls by `weight_fall`, restricted loss (test) does not rise (it "starts to
                 fall") and test loss is flat (`flat`). Train loss is not asserted flat: at
                 ~1e-7 in float64 its log moves by more than the other curves for no visible reason
                 (its plateau is still checked at t_mem_end).
  t_cleanup      cleanup starts at the first s ≥ t_circuit (or t_mem_end) where test loss drops
                 sharply (by `sharp`), Σθ² drops by `sharp_weight` and Gini(W_L) jumps by
                 `gini_jump`, all over the same window.
  t_cleanup_end  cleanup ends at the first s > t_cleanup where test loss no longer drops by `sharp`
                 and Gini(W_L) no longer rises by `gini_jump` (the paper's "~14k").

Without excluded loss in the series (no full (a, b) grid, or not computed), memorisation ends when
train loss alone stops falling — not the paper's rule, and `phase_events` says which one was
applied (t_mem_end_rule: "excluded_and_train_loss" or "train_loss_only"); the events that need a
missing quantity are None. Steps lie on the analysis (checkpoint) grid, so an event is known to
within one checkpoint interval + `window`.

Consistent with the accuracy events: in the paper the test accuracy jumps during cleanup, so
memorisation's end, circuit formation's start and cleanup's start all come no later than t_val99
(the first evaluated step with test accuracy ≥ 99%). When the metrics rows are given, each rule
is searched only over steps s ≤ t_val99; a rule that does not fire by then leaves its event None
(a train loss that keeps falling until the model generalises never marks a memorisation that
would cover the grokking). Hence t_mem_end ≤ t_circuit ≤ t_cleanup ≤ t_val99 whenever they exist.

The rules are the paper's, for its one-layer transformer; which model families the report applies
them to is the family's declaration (`StackedModel.report_panels`, panel "phases").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from grokscope.events import EVENT_THRESHOLD, first_step

EVENTS = ("t_mem_end", "t_circuit", "t_cleanup", "t_cleanup_end")
MEM_END_RULES = ("excluded_and_train_loss", "train_loss_only")  # `phase_events`' t_mem_end_rule


@dataclass(frozen=True)
class NandaRules:
    """Thresholds of the phase rules (module docstring); fractions of the value at s, per window."""

    window: int = 500  # steps between the two points a change is measured over
    fall: float = 0.2  # memorisation: a loss still "declines" while it drops > 20% per window
    mem_both: bool = False  # memorisation ends when the first (False) / the last (True) of the two stops
    rise: float = 0.05  # circuit formation: excluded loss rises > 5% per window
    weight_fall: float = 0.005  # ... while Σθ² falls > 0.5% per window
    flat: float = 0.5  # ... and test loss moves < 50% per window (in a log plot: flat)
    sharp: float = 0.5  # cleanup: test loss drops > 50% per window ("suddenly drops")
    sharp_weight: float = 0.02  # ... Σθ² drops > 2% per window ("drops sharply")
    gini_jump: float = 0.01  # ... Gini(W_L) rises > 0.01 per window ("jumps")


def _value(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _change(a: dict[str, Any], b: dict[str, Any], key: str, log: bool) -> float | None:
    """Relative change of `key` from row a to row b (exp of the log ratio − 1 for losses)."""
    x, y = _value(a, key), _value(b, key)
    if x is None or y is None:
        return None
    if log:
        if x <= 0 or y <= 0:
            return None
        return math.expm1(math.log(y) - math.log(x))
    return (y - x) / abs(x) if x else None


def _falls(a: dict, b: dict, key: str, by: float, log: bool = True) -> bool | None:
    c = _change(a, b, key, log)
    return None if c is None else c < -by


def _rises(a: dict, b: dict, key: str, by: float, log: bool = True) -> bool | None:
    c = _change(a, b, key, log)
    return None if c is None else c > by


def _with_losses(rows: Sequence[dict[str, Any]], series: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The series sorted by step, train/test loss filled in from the latest metrics row ≤ step
    where the series lacks them (checkpoints need not lie on the evaluation grid)."""
    evals = sorted((r for r in rows if "step" in r), key=lambda r: r["step"])
    out, i = [], -1
    for r in sorted(series, key=lambda r: r["step"]):
        while i + 1 < len(evals) and evals[i + 1]["step"] <= r["step"]:
            i += 1
        r = dict(r)
        for key in ("train_loss", "test_loss"):
            if _value(r, key) is None and i >= 0 and _value(evals[i], key) is not None:
                r[key] = evals[i][key]
        out.append(r)
    return out


def _pairs(series: list[dict[str, Any]], window: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(row at s, row at the first analysed step ≥ s + window) for every s that has one."""
    out, j = [], 0
    for r in series:
        while j < len(series) and series[j]["step"] < r["step"] + window:
            j += 1
        if j == len(series):
            break
        out.append((r, series[j]))
    return out


def nanda_phases(series: Sequence[dict[str, Any]], rules: NandaRules = NandaRules(),
                 rows: Sequence[dict[str, Any]] = ()) -> dict[str, int | None]:
    """t_mem_end, t_circuit, t_cleanup, t_cleanup_end of an analysis series (rules: module docstring).

    `series` rows need step and, for all four events, excluded_loss_train, restricted_loss_test,
    sum_sq_weights, gini_W_L, train_loss, test_loss (losses missing from a row are taken from
    `rows`, the run's metrics). With `rows`, the first three are searched only up to t_val99."""
    out: dict[str, int | None] = dict.fromkeys(EVENTS)
    pairs = _pairs(_with_losses(rows, series), rules.window)
    if not pairs:
        return out
    t_val = first_step(sorted(rows, key=lambda r: r["step"]), "test_acc", EVENT_THRESHOLD) if rows else None
    last_start = math.inf if t_val is None else t_val  # no phase starts after test accuracy reached 99%
    has_ex = any(_value(a, "excluded_loss_train") is not None for a, _ in pairs)
    mem_keys = ("excluded_loss_train", "train_loss") if has_ex else ("train_loss",)
    for a, b in pairs:
        if a["step"] > last_start:
            break
        falling = [_falls(a, b, k, rules.fall) for k in mem_keys]
        if None in falling:
            continue
        if not (any(falling) if rules.mem_both else all(falling)):
            out["t_mem_end"] = int(a["step"])
            break
    if out["t_mem_end"] is None:
        return out
    after = [(a, b) for a, b in pairs if a["step"] >= out["t_mem_end"]]
    for a, b in after:
        if a["step"] > last_start:
            break
        flat = _change(a, b, "test_loss", log=True)
        if (_rises(a, b, "excluded_loss_train", rules.rise)
                and _falls(a, b, "sum_sq_weights", rules.weight_fall, log=False)
                and _rises(a, b, "restricted_loss_test", 0.0) is False
                and flat is not None and abs(flat) < rules.flat):
            out["t_circuit"] = int(a["step"])
            break
    start = out["t_circuit"] if out["t_circuit"] is not None else out["t_mem_end"]

    def sharp(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return bool(_falls(a, b, "test_loss", rules.sharp))

    def jump(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return bool(_rises(a, b, "gini_W_L", rules.gini_jump, log=False))

    for a, b in (p for p in after if start <= p[0]["step"] <= last_start):
        if sharp(a, b) and jump(a, b) and _falls(a, b, "sum_sq_weights", rules.sharp_weight, log=False):
            out["t_cleanup"] = int(a["step"])
            break
    if out["t_cleanup"] is not None:
        out["t_cleanup_end"] = next((int(a["step"]) for a, b in after
                                     if a["step"] > out["t_cleanup"] and not sharp(a, b) and not jump(a, b)), None)
    return out


def phase_events(
    rows: Sequence[dict[str, Any]],
    analysis: Sequence[dict[str, Any]] = (),
    rules: NandaRules = NandaRules(),
) -> dict[str, int | str | None]:
    """t_train99 and t_val99 from the metrics rows, plus `nanda_phases` of the analysis series and
    t_mem_end_rule (`mem_end_rule`: which memorisation rule was applied)."""
    out: dict[str, int | str | None] = {
        "t_train99": first_step(rows, "train_acc", EVENT_THRESHOLD),
        "t_val99": first_step(rows, "test_acc", EVENT_THRESHOLD),
    }
    out.update(nanda_phases(analysis, rules, rows))
    out["t_mem_end_rule"] = mem_end_rule(analysis)
    return out


def mem_end_rule(analysis: Sequence[dict[str, Any]]) -> str | None:
    """Which memorisation rule `nanda_phases` applies to this series: "excluded_and_train_loss"
    (the paper's, when the series has excluded loss), "train_loss_only" (without it), or None
    (no series)."""
    if not analysis:
        return None
    return MEM_END_RULES[0] if any(_value(r, "excluded_loss_train") is not None for r in analysis) else MEM_END_RULES[1]


def rules_dict(rules: NandaRules = NandaRules()) -> dict[str, float]:
    """The thresholds, for recording next to the events they produced."""
    return asdict(rules)
