"""The weight-norm first-passage law (Khanh et al. 2026, arXiv 2605.18845), as a baseline and as features.

After memorisation, decoupled weight decay contracts V = ||θ||² by about 2κ·lr·wd per step (κ
corrects plain decay for the gradient pushing back under AdamW), and the generalising solution takes
over when V reaches V* = ρ·V_ref. V_ref is the paper's V_mem, the norm at memorisation, except that
at a large learning rate the norm need not start shrinking at memorisation, so the contraction is
measured from the largest V between t_mem and the cut (at step t_ref).
Two readings of it at a cut step:

  physics   T_val99 = t_ref + ln(V_ref / V*) / (2κ·lr·wd) = t_ref + ln(1/ρ) / (2κ·lr·wd)   (the paper's law)
  observed  T_val99 = cut + ln(V_cut / V*) / k,  k = -d ln V / d step over the window [cut/2, cut]

κ and ρ are per model family (the paper finds κ within 15% inside an architecture and ≈ 2x between
them), fitted as medians over the training runs that grok; "any" holds the pooled values, for a family
no run was fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from grokscope.events import EVENT_THRESHOLD, first_row
from grokscope.forecast.features import (
    LAW_FEATURES,
    WINDOW,
    Recipe,
    col,
    log_remaining,
    rows_until,
    slope,
)

POOLED = "any"


@dataclass(frozen=True)
class Law:
    """Per-family constants: kappa (the contraction-rate correction), rho = V*/V_mem, n runs fitted."""

    kappa: float
    rho: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _v(row: Mapping[str, Any]) -> float:
    return float(row.get("weight_norm") or 0.0) ** 2


@dataclass(frozen=True)
class LawInputs:
    """What the law reads of a run at a cut: the largest V since memorisation (v_ref, at t_ref), V at the
    cut, and k = -d ln V / d step over the window [cut/2, cut]."""

    cut: int
    t_ref: int
    v_ref: float
    v_now: float
    k: float


def reference(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The row with the largest weight norm from memorisation on (rows sorted, up to a cut), or None."""
    mem = first_row(rows, "train_acc", EVENT_THRESHOLD)
    if mem is None:
        return None
    return max((r for r in rows if int(r["step"]) >= int(mem["step"])), key=_v)


def law_inputs(rows: Sequence[Mapping[str, Any]], cut_step: int) -> LawInputs | None:
    """The law's inputs at `cut_step` (None before memorisation)."""
    early = [r for r in rows_until(rows, cut_step) if int(r["step"]) > 0]
    ref = reference(early)
    if ref is None:
        return None
    win = [r for r in early if int(r["step"]) >= WINDOW * cut_step]
    v = col(win, "weight_norm") ** 2
    k = -slope(col(win, "step"), np.log(np.where(v > 0, v, np.nan)))
    return LawInputs(int(early[-1]["step"]), int(ref["step"]), _v(ref), _v(win[-1]) if win else 0.0, k)


def law_times(x: LawInputs | None, recipe: Recipe, law: Law | None) -> tuple[float, float]:
    """(physics, observed) predicted t_val99; inf where the law does not apply (no weight decay, a norm
    that does not shrink, no fitted constants)."""
    if x is None or law is None:
        return math.inf, math.inf
    physics = observed = math.inf
    rate = 2.0 * law.kappa * recipe.lr * recipe.weight_decay
    if rate > 0 and 0 < law.rho < 1:
        physics = x.t_ref + math.log(1.0 / law.rho) / rate
    v_star = law.rho * x.v_ref
    if v_star > 0 and x.v_now > 0:
        observed = float(x.cut) if x.v_now <= v_star else (x.cut + math.log(x.v_now / v_star) / x.k if x.k > 0 else math.inf)
    return physics, observed


def law_features(x: LawInputs | None, recipe: Recipe, law: Law | None) -> dict[str, float]:
    """ln(remaining steps / cut) by each reading of the law (features.log_remaining; an overdue law gives the floor)."""
    out = {}
    cut = x.cut if x is not None else 1
    for name, t in zip(LAW_FEATURES, law_times(x, recipe, law)):
        rem = t - cut
        out[name] = log_remaining(rem, cut)
    return out


def fit_laws(runs: Iterable[tuple[Sequence[Mapping[str, Any]], Recipe, int | None]]) -> dict[str, Law]:
    """Per-family (and pooled, POOLED) law constants from (rows, recipe, t_val99) of finished runs:
    medians over the runs that grok after their reference row (`reference`, up to t_val99) with weight
    decay > 0 of rho_i = V(t_val99) / V_ref and kappa_i = ln(1/rho_i) / (2 lr wd (t_val99 - t_ref))."""
    per: dict[str, list[tuple[float, float]]] = {}
    for rows, recipe, t_val99 in runs:
        if t_val99 is None or recipe.weight_decay <= 0 or recipe.lr <= 0:
            continue
        srt = rows_until(rows, t_val99)
        ref = reference(srt)
        grok = srt[-1] if srt and int(srt[-1]["step"]) == t_val99 else None
        if ref is None or grok is None or t_val99 <= int(ref["step"]) or _v(ref) <= 0 or _v(grok) <= 0:
            continue
        rho = _v(grok) / _v(ref)
        kappa = math.log(1.0 / rho) / (2.0 * recipe.lr * recipe.weight_decay * (t_val99 - int(ref["step"])))
        per.setdefault(recipe.family, []).append((kappa, rho))
        per.setdefault(POOLED, []).append((kappa, rho))
    return {fam: Law(float(np.median([k for k, _ in v])), float(np.median([r for _, r in v])), len(v))
            for fam, v in per.items()}
