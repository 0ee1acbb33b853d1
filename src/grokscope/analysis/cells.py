"""The numbers of a sweep's phase diagrams: finished runs grouped by the values of some columns (a cell
x × y [× facet] of a diagram, a facet value of the CLI's summary table) and each group reduced to

  n                    finished runs in the group
  <label>              the most common value of each label column (liu_phase, doshi_phase, ...);
  <label>_count        how many runs carry it, of <label>_n runs that have a label (ties go to the
  <label>_n            label earlier in its order, e.g. `events.LIU_PHASES`); <label>_counts: all counts
  median_t_val         median of the event column t_val (`events.event_names(threshold)`, default
                       t_val99) over the runs that reached it (NaN when none did)
  n_reached            how many of the group's runs reached it (t_val not missing)
  frac_reached         n_reached / n
  run_ids              the group's runs, sorted
  representative       one run to look at: the one whose t_val is closest to the median (ties: the
                       first run id); when none reached it, the first run carrying the most common
                       label of the first label column

Torch-free; rows are dicts or a DataFrame (its records). The sweep report (`report.sweep_html`), the
phase PNGs and the CLI's summary table (`report.phase`) all draw these numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grokscope.events import DOSHI_PHASES, EVENT_THRESHOLD, LIU_PHASES, event_names

LABEL_ORDERS: dict[str, Sequence[str]] = {"liu_phase": LIU_PHASES, "doshi_phase": DOSHI_PHASES}


def missing(v: Any) -> bool:
    """None, NaN or pandas' NA / NaT: a value that is not there."""
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, NaT and pd.NA (whose comparison raises) are not equal to themselves
    except (TypeError, ValueError):
        return True


def mode(values: Iterable[Any], order: Sequence[str] = ()) -> tuple[str | None, int, int]:
    """(most common string, its count, how many strings) of `values` (non-strings are skipped);
    a tie goes to the value earlier in `order`, then to values not in it."""
    counts = Counter(v for v in values if isinstance(v, str))
    if not counts:
        return None, 0, 0
    rank = {k: i for i, k in enumerate(order)}
    best = max(counts, key=lambda k: (counts[k], -rank.get(k, len(order))))
    return best, counts[best], sum(counts.values())


def _records(rows: Any) -> list[dict[str, Any]]:
    return rows.to_dict("records") if hasattr(rows, "to_dict") else [dict(r) for r in rows]


def _sort_key(v: Any) -> tuple:
    """Numbers by value, then strings (and anything else) by their text."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def cell_stats(rows: Any, by: Sequence[str | None], threshold: float = EVENT_THRESHOLD,
               labels: Mapping[str, Sequence[str]] = LABEL_ORDERS) -> list[dict[str, Any]]:
    """One dict per group of finished runs (rows with status 'finished', or every row without a
    status) sharing the values of the columns `by` (None entries are skipped; no column: one group),
    in sorted order of those values; its keys are the `by` columns and those in the module docstring."""
    by = [c for c in by if c]
    t_val = event_names(threshold)[1]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in _records(rows):
        if r.get("status", "finished") != "finished" or any(missing(r.get(c)) for c in by):
            continue
        groups.setdefault(tuple(_plain(r[c]) for c in by), []).append(r)
    out = []
    for key in sorted(groups, key=lambda k: tuple(_sort_key(v) for v in k)):
        g = sorted(groups[key], key=lambda r: str(r.get("run_id")))
        cell: dict[str, Any] = dict(zip(by, key, strict=True))
        cell["n"] = len(g)
        for col, order in labels.items():
            vals = [r.get(col) for r in g]
            best, count, n = mode(vals, order)
            cell[col], cell[f"{col}_count"], cell[f"{col}_n"] = best, count, n
            cell[f"{col}_counts"] = dict(Counter(v for v in vals if isinstance(v, str)))
        reached = [(float(r[t_val]), str(r.get("run_id"))) for r in g if not missing(r.get(t_val))]
        med = _median([t for t, _ in reached])
        cell["median_t_val"] = med
        cell["n_reached"] = len(reached)
        cell["frac_reached"] = len(reached) / len(g)
        cell["run_ids"] = [str(r.get("run_id")) for r in g]
        if reached:
            cell["representative"] = min(reached, key=lambda tr: (abs(tr[0] - med), tr[1]))[1]
        else:
            first = next(iter(labels), None)
            modal = [r for r in g if first is None or r.get(first) == cell[first]]
            cell["representative"] = str((modal or g)[0].get("run_id"))
        out.append(cell)
    return out


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _median(values: list[float]) -> float:
    """The median (the mean of the middle two for an even count, as numpy's); NaN for none."""
    if not values:
        return math.nan
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
