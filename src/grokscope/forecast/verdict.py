""""Is this real grokking?": a verdict on a run's rows beside its forecast.

Grokking is generalisation long after memorisation, from a model that had not generalised when it
memorised. So a run is called grokking when both hold:
  * at memorisation (t_mem) its test accuracy was inside the null band: no higher than what runs
    that cannot generalise at all (permuted labels, sweeps/forecast2_null*.toml) show after they
    memorise, in multiples of chance (the model's `null_band`);
  * the delay ΔT = t_val99 - t_mem is at least MIN_DELAY_RATIO times t_mem.
A slow run whose test accuracy climbs with its train accuracy fails the first or the second and is
told so, with the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grokscope.events import EVENT_THRESHOLD, first_row, first_step

MIN_DELAY_RATIO = 1.0  # ΔT at least as long as memorisation took


@dataclass(frozen=True)
class Verdict:
    """label: "grokking", "not grokking", "delayed, not from chance", "memorised, not generalised yet",
    "not memorised yet"; reason: the numbers behind it."""

    label: str
    reason: str
    t_mem: int | None = None
    t_val99: int | None = None
    acc_at_mem_x_chance: float | None = None

    def text(self) -> str:
        """"label — reason", as the run summary and the report show it."""
        return f"{self.label} — {self.reason}"

    def line(self) -> str:
        return f"verdict: {self.text()}"

    @property
    def delay_ratio(self) -> float | None:
        if self.t_mem is None or self.t_val99 is None:
            return None
        return (self.t_val99 - self.t_mem) / max(self.t_mem, 1)


def verdict(rows: Sequence[Mapping[str, Any]], n_classes: int | None, null_band: float) -> Verdict:
    """The verdict on rows (any order) of a run with `n_classes` answers, against `null_band` (multiples of
    chance). n_classes None: a regression (accuracy = squared error below a threshold), which has no chance
    level, so only the delay decides."""
    srt = sorted(rows, key=lambda r: int(r["step"]))
    mem = first_row(srt, "train_acc", EVENT_THRESHOLD)
    if mem is None:
        acc = float(srt[-1]["train_acc"]) if srt else 0.0
        return Verdict("not memorised yet", f"train accuracy {acc:.2f} < 0.99")
    t_mem = int(mem["step"])
    at_mem = f"test accuracy at memorisation (step {t_mem:,}) {float(mem['test_acc']):.3f}"
    if n_classes is None:  # a regression: no chance level to measure the band in
        x, in_band = None, True
        at_mem += " (a regression has no chance level: the null band does not apply)"
        band = "none for a regression"
    else:
        x = float(mem["test_acc"]) * n_classes  # test accuracy at memorisation in multiples of chance (1/n_classes)
        at_mem += f" = {x:.1f}× chance"
        band = f"the null band of runs with permuted labels is ≤ {null_band:.1f}× chance"
        in_band = x <= null_band
    t_val99 = first_step(srt, "test_acc", EVENT_THRESHOLD)
    if t_val99 is None:
        if in_band:
            return Verdict("memorised, not generalised yet", f"{at_mem}, inside the band ({band}); it is grokking if "
                           "test accuracy reaches 99% later", t_mem, None, x)
        return Verdict("memorised, not generalised yet", f"{at_mem}, above the band ({band}): it generalises partly "
                       "already, so a later rise would not be grokking from chance", t_mem, None, x)
    v = Verdict("", "", t_mem, t_val99, x)
    ratio = v.delay_ratio or 0.0
    delay = f"ΔT = {t_val99 - t_mem:,} steps = {ratio:.1f}× t_mem"
    if ratio < MIN_DELAY_RATIO:
        return Verdict("not grokking", f"test accuracy reached 99% at step {t_val99:,}, {delay} (< {MIN_DELAY_RATIO:g}×): "
                       "it generalised about as it memorised", t_mem, t_val99, x)
    if not in_band:
        return Verdict("delayed, not from chance", f"{delay}, but {at_mem}, above the band ({band})", t_mem, t_val99, x)
    return Verdict("grokking", f"{delay}, and {at_mem}, inside the band ({band})", t_mem, t_val99, x)
