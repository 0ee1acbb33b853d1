"""Features of a run's early training, read from its metrics rows up to a cut step only.

Every trajectory feature is dimensionless and measured relative to the cut (slopes are per "cut
length", times are fractions of the cut), so a model fitted on 2,500-step runs can be applied to a
50,000-step run. Nothing after the cut is read: `trajectory_features(rows, ...)` gives the same
numbers whatever rows follow the cut (tests/unit/test_forecast.py checks it).

Config features (weight decay, train fraction, width, noise, lr) are kept apart, in
`config_features`: the shipped model does not use them (a forecaster that memorises the phase
diagram of the grids it was fitted on says nothing about a new grid); `forecast eval` reports a model
with them beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from grokscope.errors import GrokscopeError

MIN_POINTS = 6  # evaluation rows needed up to the cut (with at least 3 in its second half)
LOSS_FLOOR = 1e-12  # log10 of a loss below this is clipped (float32 losses reach 0)

TRAJECTORY_FEATURES = (
    "train_acc", "test_acc", "test_acc_max", "test_acc_gain", "log_train_loss", "log_test_loss", "gap",
    "test_acc_slope", "test_loss_slope", "train_loss_slope", "test_loss_curv", "test_loss_peak_drop",
    "memorized", "train99_frac", "osc", "wn_slope", "wn_drop", "wn_growth", "log_remaining", "test_loss_at_budget",
)
# what the shipped model reads, chosen on the held-out-by-region evaluation (docs/forecast.md): features
# that transfer across families and primes. The trend of the test loss (where its line puts it at the
# end of the budget), the best test accuracy so far and its slope, and the budget left carry it; the
# weight-norm slope, the time of memorisation, oscillation and curvature are family-specific (adding
# them lowered AUROC held out by family from 0.92 to 0.69-0.72 at f = 0.2). Each head reads its subset:
CLF_FEATURES = ("test_loss_at_budget", "test_acc_max", "test_acc_slope", "log_remaining", "test_acc")
REG_FEATURES = ("test_loss_at_budget", "test_acc_max", "test_acc_slope", "log_remaining", "test_acc_gain")
MODEL_FEATURES = tuple(dict.fromkeys(CLF_FEATURES + REG_FEATURES))  # both heads' columns (0 where unused)
CONFIG_FEATURES = ("weight_decay", "frac_train", "log2_width", "noise", "log10_lr")


class ForecastError(GrokscopeError):
    """A run cannot be forecast (too few evaluation points, unknown family) or a model file is bad."""


def family_of(cfg: Any) -> str:
    """The model family a forecaster is fitted per: "mlp/<input>" or "transformer" (or the arch)."""
    arch = cfg.model.arch
    return f"mlp/{cfg.model.input}" if arch == "mlp" else str(arch)


def rows_until(rows: Sequence[Mapping[str, Any]], cut_step: int) -> list[Mapping[str, Any]]:
    """The rows with step <= cut_step, sorted by step."""
    return sorted((r for r in rows if int(r["step"]) <= cut_step), key=lambda r: int(r["step"]))


def _col(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r[key]) if r.get(key) is not None else np.nan for r in rows], dtype=np.float64)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return 0.0
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def trajectory_features(rows: Sequence[Mapping[str, Any]], budget: int, cut_step: int) -> dict[str, float]:
    """The trajectory features of one run at `cut_step` (rows after it are ignored).

    ForecastError when fewer than MIN_POINTS rows lie in (0, cut_step] or the cut is not inside the budget.
    """
    if budget <= 0 or not 0 < cut_step <= budget:
        raise ForecastError(f"cannot forecast: cut step {cut_step} is not inside the budget 1..{budget}")
    early = [r for r in rows_until(rows, cut_step) if int(r["step"]) > 0]
    half = [r for r in early if int(r["step"]) >= cut_step / 2]
    if len(early) < MIN_POINTS or len(half) < 3:
        raise ForecastError(
            f"cannot forecast: {len(early)} evaluation points up to step {cut_step} ({len(half)} in its second "
            f"half); needs {MIN_POINTS} (3 in the second half) — evaluate more often (train.eval_every)")
    th = _col(half, "step") / cut_step  # time in cut lengths
    log_tr = np.log10(np.maximum(_col(early, "train_loss"), LOSS_FLOOR))
    log_te = np.log10(np.maximum(_col(early, "test_loss"), LOSS_FLOOR))
    log_tr_h = np.log10(np.maximum(_col(half, "train_loss"), LOSS_FLOOR))
    log_te_h = np.log10(np.maximum(_col(half, "test_loss"), LOSS_FLOOR))
    test_acc = _col(early, "test_acc")
    train_acc = _col(early, "train_acc")
    # curvature of the log test loss over the second half (a loss that bends down precedes the drop)
    ok = np.isfinite(log_te_h)
    curv = float(np.polyfit(th[ok], log_te_h[ok], 2)[0]) if ok.sum() >= 3 and np.ptp(th[ok]) > 0 else 0.0
    # Notsawo et al.: oscillations of the train loss; the spread of its detrended step-to-step changes
    d = np.diff(log_tr_h)
    osc = float(np.std(d - d.mean())) if d.size >= 2 else 0.0
    # levels relative to the first evaluation (about the chance loss log p at init): comparable across p and models
    first = rows_until(rows, cut_step)[0]
    ref_tr = math.log10(max(float(first.get("train_loss") or 1.0), LOSS_FLOOR))
    ref_te = math.log10(max(float(first.get("test_loss") or 1.0), LOSS_FLOOR))
    wn0 = float(first.get("weight_norm") or 0.0)
    t99 = next((float(s) for s, a in zip(_col(early, "step"), train_acc) if a >= 0.99), None)
    wn = _col(early, "weight_norm")
    has_wn = np.isfinite(wn).sum() >= 2 and np.nanmax(wn) > 0
    wn_h = np.log(np.maximum(_col(half, "weight_norm"), LOSS_FLOOR)) if has_wn else np.zeros(len(half))
    te_slope = _slope(th, log_te_h)  # log10 test loss per cut length, second half
    out = {
        "train_acc": float(train_acc[-1]),
        "test_acc": float(test_acc[-1]),
        "test_acc_max": float(np.nanmax(test_acc)),
        "test_acc_gain": float(test_acc[-1] - half[0]["test_acc"]) if half[0].get("test_acc") is not None else 0.0,
        "log_train_loss": float(log_tr[-1] - ref_tr),
        "log_test_loss": float(log_te[-1] - ref_te),
        "gap": float(log_te[-1] - log_tr[-1]),
        "test_acc_slope": _slope(th, _col(half, "test_acc")),
        "test_loss_slope": te_slope,
        "train_loss_slope": _slope(th, log_tr_h),
        "test_loss_curv": curv,
        "test_loss_peak_drop": float(np.nanmax(log_te) - log_te[-1]),
        "memorized": 1.0 if t99 is not None else 0.0,
        "train99_frac": t99 / cut_step if t99 is not None else 1.5,
        "osc": osc,
        "wn_slope": _slope(th, wn_h) if has_wn else 0.0,
        "wn_drop": float(np.log(np.nanmax(wn) / wn[-1])) if has_wn and wn[-1] > 0 else 0.0,
        "wn_growth": float(np.log(wn[-1] / wn0)) if has_wn and wn0 > 0 and wn[-1] > 0 else 0.0,
        "log_remaining": math.log(budget / cut_step),
        # the test-loss trend baseline as a feature: the log test loss (relative to the first evaluation)
        # where the second half's straight line would put it at the end of the budget; clipped, because a
        # line through a window extrapolated over several windows is only a direction and a rough size
        "test_loss_at_budget": float(np.clip(log_te[-1] - ref_te + te_slope * (budget - cut_step) / cut_step,
                                             -6.0, 3.0)),
    }
    return {k: (v if math.isfinite(v) else 0.0) for k, v in out.items()}


def config_features(cfg: Any) -> dict[str, float]:
    """The config values allowed as features (kept apart from the trajectory ones)."""
    return {
        "weight_decay": float(cfg.optim.weight_decay),
        "frac_train": float(cfg.task.frac_train),
        "log2_width": math.log2(max(int(cfg.model.d_mlp), 1)),
        "noise": float(cfg.task.noise),
        "log10_lr": math.log10(float(cfg.optim.lr)),
    }


def trend_crossing(rows: Sequence[Mapping[str, Any]], cut_step: int, target_log_loss: float) -> float:
    """Baseline: the step where the log test loss, extrapolated linearly from the second half of the window,
    reaches `target_log_loss` (inf when it is not falling)."""
    half = [r for r in rows_until(rows, cut_step) if int(r["step"]) >= cut_step / 2]
    s = _col(half, "step")
    y = np.log10(np.maximum(_col(half, "test_loss"), LOSS_FLOOR))
    slope = _slope(s, y)
    if not half or slope >= 0:
        return math.inf
    if y[-1] <= target_log_loss:
        return float(s[-1])
    return float(s[-1] + (target_log_loss - y[-1]) / slope)


def as_vector(feats: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """Features in the model's order; ForecastError naming a missing one."""
    missing = [n for n in names if n not in feats]
    if missing:
        raise ForecastError(f"forecast model needs features this run does not have: {', '.join(missing)}")
    return np.array([feats[n] for n in names], dtype=np.float64)
