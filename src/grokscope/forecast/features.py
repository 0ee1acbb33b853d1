"""What the forecast reads of a run at a cut step after memorisation: its rows up to the cut and its
optimizer's physics. Nothing after the cut, and nothing about the budget.

The question (docs/forecast.md) is asked at any evaluation after train accuracy first reached 99%
(t_mem) and before test accuracy has: how many more steps until it does? So every feature is
dimensionless and budget-free: rates are per unit of log-time over the window [cut/2, cut], levels
are relative to memorisation, times are ratios to the cut, and the optimizer enters as physics (the
weight-decay contraction lr·wd·cut, 1 - beta2), never as a memorised grid cell.
`trajectory_features(rows, recipe, cut)` gives the same numbers whatever rows follow the cut
(tests/unit/test_forecast.py checks it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grokscope.errors import GrokscopeError
from grokscope.events import EVENT_THRESHOLD, first_row, first_step

WINDOW = 0.5  # the recent window: rows with step in [WINDOW * cut, cut]
MIN_WINDOW_POINTS = 3  # evaluations needed in it
LOSS_FLOOR = 1e-12  # a loss below this is clipped before its log (float32 losses reach 0)

TRAJECTORY_FEATURES = (
    "since_mem",  # ln(cut / t_mem): how long the run has sat memorised, in units of the time it took
    "test_acc", "test_acc_max", "test_acc_at_mem", "test_acc_slope",  # slope: per unit of ln(step), window
    "acc_trend",  # ln(remaining / cut) where logit(test acc), straight in ln(step) over the window, reaches 99%
    "loss_trend",  # ln(remaining / cut) where log10(test loss), straight in step over the window, reaches LOSS_AT_99
    "test_loss_rel", "test_loss_slope", "test_loss_curv",  # log10 test loss vs memorisation; per ln(step)
    "log_train_loss", "train_loss_slope",
    "wn_since_mem", "wn_rate",  # ln(V / V_mem) with V = ||θ||², and -d ln V / d ln(step) over the window
    "logit_since_mem", "logit_rate",  # the same for the logit scale (mean largest train logit)
)
PHYSICS_FEATURES = (
    "decay_per_cut",  # log10(lr · wd · cut): e-folds of pure weight-decay contraction per cut length
    "log_one_minus_beta2",  # log10(1 - beta2) of Adam's second moment (0 without one)
)
LAW_FEATURES = ("law_physics", "law_observed")  # ln(remaining / cut) by the weight-norm law (forecast.law)
ALL_FEATURES = TRAJECTORY_FEATURES + PHYSICS_FEATURES + LAW_FEATURES


class ForecastError(GrokscopeError):
    """A run cannot be forecast (not memorised, too few evaluations, unknown family, bad rows) or a model file is bad."""


@dataclass(frozen=True)
class Recipe:
    """What the forecast needs to know of a run besides its rows.

    family: the model family (`family_of`; per-family weight-norm law constants); lr, weight_decay:
    the optimizer's base values (decoupled decay contracts the weights by lr·wd per step); beta2: Adam's
    second-moment decay (None without one, e.g. SGD); n_classes: for chance level in the verdict (None for a
    regression, which has none).
    """

    family: str
    lr: float
    weight_decay: float
    beta2: float | None
    n_classes: int | None


def family_of(cfg: Any) -> str:
    """The model family: "mlp/<input>", "deep_mlp" or "transformer" (the arch)."""
    arch = cfg.model.arch
    return f"mlp/{cfg.model.input}" if arch == "mlp" else str(arch)


def recipe_of(cfg: Any) -> Recipe:
    """The Recipe of a run config."""
    adam = str(cfg.optim.name).startswith("adam")
    return Recipe(family_of(cfg), float(cfg.optim.lr), float(cfg.optim.weight_decay),
                  float(cfg.optim.beta2) if adam else None, n_classes_of(cfg))


def n_classes_of(cfg: Any) -> int | None:
    """The number of answers of the run's task (groups: |G|, not p); None for real-valued targets."""
    if cfg.task.name == "modular":
        from grokscope.tasks.ops import OPS, n_elements

        return n_elements(OPS[cfg.task.op], int(cfg.task.p))
    from grokscope.tasks import make_task

    task = make_task(cfg.task)
    return task.n_out if task.targets_kind == "classes" else None


def rows_until(rows: Sequence[Mapping[str, Any]], cut_step: int) -> list[Mapping[str, Any]]:
    """The rows with step <= cut_step, sorted by step."""
    return sorted((r for r in rows if int(r["step"]) <= cut_step), key=lambda r: int(r["step"]))


def col(rows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """One metric over rows as float64, nan where missing."""
    return np.array([float(r[key]) if r.get(key) is not None else np.nan for r in rows], dtype=np.float64)


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x over the finite points (0 with fewer than 2)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return 0.0
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def _log10(v: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(v, LOSS_FLOOR))


def _ln_ratio(now: float, then: float) -> float:
    return math.log(now / then) if now > 0 and then > 0 and math.isfinite(now) and math.isfinite(then) else 0.0


REMAINING_CLIP = (-3.0, 7.0)  # ln(remaining / cut) of a trend or law: 5% of the cut to ~1,100 cuts ("not on it")


def log_remaining(rem: float, cut: int) -> float:
    """ln(rem / cut), clipped to REMAINING_CLIP; the top for a remaining time that is not finite."""
    return REMAINING_CLIP[1] if not math.isfinite(rem) else float(np.clip(math.log(max(rem, 1e-9) / cut), *REMAINING_CLIP))
LOSS_AT_99 = -1.0  # log10 test loss taken as "99% accuracy" by loss_trend (the test-loss-trend baseline, as a feature)


def loss_trend(steps: np.ndarray, log10_loss: np.ndarray, cut: int) -> float:
    """ln((t - cut) / cut) for the step t where log10(test loss), fitted as a line in step over the window,
    reaches LOSS_AT_99; clipped to REMAINING_CLIP (the top when it does not fall)."""
    k = slope(steps, log10_loss)
    if log10_loss[-1] <= LOSS_AT_99:
        return REMAINING_CLIP[0]
    if k >= 0:
        return REMAINING_CLIP[1]
    return log_remaining((LOSS_AT_99 - log10_loss[-1]) / k, cut)


def acc_trend(lt: np.ndarray, acc: np.ndarray) -> float:
    """ln((t - cut) / cut) for the step t where logit(test accuracy), fitted as a line in ln(step) over the
    window (lt = ln(step)), reaches logit(0.99); clipped to REMAINING_CLIP (the top when it does not rise)."""
    a = np.clip(acc, 1e-4, 1 - 1e-4)
    k = slope(lt, np.log(a / (1 - a)))
    target = math.log(EVENT_THRESHOLD / (1 - EVENT_THRESHOLD))
    now = math.log(a[-1] / (1 - a[-1]))
    if now >= target:
        return REMAINING_CLIP[0]
    if k <= 0:
        return REMAINING_CLIP[1]
    dt = min((target - now) / k, 50.0)  # in ln(step)
    return float(np.clip(math.log(max(math.expm1(dt), 1e-9)), *REMAINING_CLIP))


def trajectory_features(rows: Sequence[Mapping[str, Any]], recipe: Recipe, cut_step: int) -> dict[str, float]:
    """The trajectory and physics features of a run at `cut_step` (rows after it are ignored).

    ForecastError when train accuracy has not reached 99% by the cut or the window [cut/2, cut] holds
    fewer than MIN_WINDOW_POINTS evaluations.
    """
    early = [r for r in rows_until(rows, cut_step) if int(r["step"]) > 0]
    mem = first_row(early, "train_acc", EVENT_THRESHOLD)
    if mem is None:
        acc, at = (float(early[-1]["train_acc"]), int(early[-1]["step"])) if early else (0.0, 0)
        raise ForecastError(f"cannot forecast yet: train accuracy has not reached 99% (it is {acc:.2f} at step "
                            f"{at:,}); the forecast starts at memorisation")
    t_mem = int(mem["step"])
    win = [r for r in early if int(r["step"]) >= WINDOW * cut_step]
    if len(win) < MIN_WINDOW_POINTS:
        raise ForecastError(f"cannot forecast: {len(win)} evaluations in steps {math.ceil(WINDOW * cut_step):,}–"
                            f"{cut_step:,}; needs {MIN_WINDOW_POINTS} — evaluate more often (train.eval_every)")
    last = win[-1]
    lt = np.log(col(win, "step"))  # ln(step): rates are per unit of log-time, which no budget or clock sets
    te_loss = _log10(col(win, "test_loss"))
    ok = np.isfinite(te_loss)
    curv = float(np.polyfit(lt[ok], te_loss[ok], 2)[0]) if ok.sum() >= 3 and np.ptp(lt[ok]) > 0 else 0.0
    v = col(win, "weight_norm") ** 2
    logit = col(win, "logit_scale")
    test_acc = col(early, "test_acc")
    out = {
        "since_mem": math.log(cut_step / t_mem),
        "test_acc": float(last["test_acc"]),
        "test_acc_max": float(np.nanmax(test_acc)),
        "test_acc_at_mem": float(mem["test_acc"]),
        "test_acc_slope": slope(lt, col(win, "test_acc")),
        "acc_trend": acc_trend(lt, col(win, "test_acc")),
        "loss_trend": loss_trend(col(win, "step"), te_loss, cut_step),
        "test_loss_rel": float(_log10(np.array([float(last["test_loss"])]))[0]
                               - _log10(np.array([float(mem["test_loss"])]))[0]),
        "test_loss_slope": slope(lt, te_loss),
        "test_loss_curv": curv,
        "log_train_loss": float(_log10(np.array([float(last["train_loss"])]))[0]),
        "train_loss_slope": slope(lt, _log10(col(win, "train_loss"))),
        "wn_since_mem": _ln_ratio(float(last.get("weight_norm") or 0) ** 2, float(mem.get("weight_norm") or 0) ** 2),
        "wn_rate": -slope(lt, np.log(np.where(v > 0, v, np.nan))),
        "logit_since_mem": _ln_ratio(float(last.get("logit_scale") or 0), float(mem.get("logit_scale") or 0)),
        "logit_rate": slope(lt, np.log(np.where(logit > 0, logit, np.nan))),
        "decay_per_cut": math.log10(max(recipe.lr * recipe.weight_decay * cut_step, 1e-6)),
        "log_one_minus_beta2": math.log10(1.0 - recipe.beta2) if recipe.beta2 is not None and recipe.beta2 < 1 else 0.0,
    }
    return {k: (v if math.isfinite(v) else 0.0) for k, v in out.items()}


def log_spaced(steps: Sequence[int], n: int) -> list[int]:
    """At most n of the sorted `steps`, the ones nearest to n points spread evenly in log-step (all if fewer)."""
    if len(steps) <= n:
        return list(steps)
    arr = np.asarray(steps)
    return sorted({int(arr[np.argmin(np.abs(arr - w))]) for w in np.geomspace(steps[0], steps[-1], n)})


def memorised_at(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """t_mem: the first evaluated step with train accuracy >= 99% (rows in any order), or None."""
    return first_step(sorted(rows, key=lambda r: int(r["step"])), "train_acc", EVENT_THRESHOLD)


def trend_crossing(rows: Sequence[Mapping[str, Any]], cut_step: int, target_log_loss: float) -> float:
    """Baseline: the step where the log10 test loss, extrapolated linearly in step from the window
    [cut/2, cut], reaches `target_log_loss` (inf when it is not falling)."""
    win = [r for r in rows_until(rows, cut_step) if int(r["step"]) >= WINDOW * cut_step]
    s = col(win, "step")
    y = _log10(col(win, "test_loss"))
    k = slope(s, y)
    if not win or k >= 0:
        return math.inf
    if y[-1] <= target_log_loss:
        return float(s[-1])
    return float(s[-1] + (target_log_loss - y[-1]) / k)


def as_vector(feats: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    """Features in the model's order; ForecastError naming a missing one."""
    missing = [n for n in names if n not in feats]
    if missing:
        raise ForecastError(f"forecast model needs features this run does not have: {', '.join(missing)}")
    return np.array([feats[n] for n in names], dtype=np.float64)
