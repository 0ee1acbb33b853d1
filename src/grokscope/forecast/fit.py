"""Fitting the forecaster from a run store, and its evaluation held out by region (needs scikit-learn).

Examples are (run, cut) pairs: the features of a finished run at a cut, labelled by what happened
after it — grokked within the budget (t_val99 exists) and log(t_val99 / cut). A run that had already
grokked by the cut is no example (its forecast is the observed step); runs are cut at several
fractions of their budget so one model serves any cut.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.events import EVENT_THRESHOLD, first_step
from grokscope.forecast.features import (
    CLF_FEATURES,
    CONFIG_FEATURES,
    MODEL_FEATURES,
    REG_FEATURES,
    ForecastError,
    config_features,
    family_of,
    trajectory_features,
    trend_crossing,
)
from grokscope.forecast.model import ForecastModel

log = logging.getLogger(__name__)

FIT_FRACTIONS = (0.1, 0.15, 0.2, 0.3, 0.4)
EVAL_FRACTIONS = (0.1, 0.2, 0.4)
CLF_C = 0.02  # inverse L2 strength of the logistic head (standardized features): strong, for transfer
RIDGE_ALPHA = 10.0
STOP_P = 0.05  # the "forecast never to grok" rule whose false-negative rate eval reports
STOP_FRACTION = 0.2  # ... applied at this fraction of the budget (the engine's cut, predict.DEFAULT_FRACTION)


@dataclass
class FitRun:
    """One finished run as fitting reads it: its metrics rows, budget, t_val99 and region."""

    path: Path
    cfg: Any
    rows: list[dict[str, Any]]
    budget: int
    t_val99: int | None
    family: str
    region: dict[str, Any] = field(default_factory=dict)


def load_runs(roots: Sequence[str | Path]) -> list[FitRun]:
    """Every finished run under the roots (run directories or sweep folders); ForecastError if none."""
    from grokscope.store.db import find_runs
    from grokscope.store.rundir import read_config, read_metrics, read_summary

    out = []
    for root in roots:
        for path, _sweep in find_runs(root):
            if read_summary(path) is None:
                continue  # unfinished: its label is not known yet
            cfg = read_config(path)
            rows = sorted(read_metrics(path), key=lambda r: int(r["step"]))
            out.append(FitRun(path, cfg, rows, int(cfg.train.steps), first_step(rows, "test_acc", EVENT_THRESHOLD),
                               family_of(cfg), {"family": family_of(cfg), "op": cfg.task.op, "p": cfg.task.p,
                                                "width": cfg.model.d_mlp, "noise": cfg.task.noise}))
    if not out:
        raise ForecastError(f"no finished runs under {', '.join(map(str, roots))}")
    return out


@dataclass
class Examples:
    """Feature matrix and labels of (run, cut) examples."""

    X: np.ndarray
    names: list[str]
    grok: np.ndarray  # 1 if the run grokked within its budget
    log_ratio: np.ndarray  # log(t_val99 / cut), nan if it did not grok
    run: np.ndarray  # index into the runs list
    cut: np.ndarray
    trend: np.ndarray  # log10 test loss at the end of the window and its half-window slope (baseline)


def examples(runs: Sequence[FitRun], fractions: Sequence[float], with_config: bool) -> Examples:
    """(run, cut) examples of runs not yet grokked at the cut and with enough evaluation points."""
    names = list(MODEL_FEATURES) + (list(CONFIG_FEATURES) if with_config else [])
    X, g, y, idx, cuts = [], [], [], [], []
    for i, r in enumerate(runs):
        for f in fractions:
            cut = max(1, int(round(f * r.budget)))
            if r.t_val99 is not None and r.t_val99 <= cut:
                continue
            try:
                feats = trajectory_features(r.rows, r.budget, cut)
            except ForecastError:
                continue
            if with_config:
                feats |= config_features(r.cfg)
            X.append([feats[n] for n in names])
            g.append(1 if r.t_val99 is not None else 0)
            y.append(math.log(r.t_val99 / cut) if r.t_val99 is not None else math.nan)
            idx.append(i)
            cuts.append(cut)
    return Examples(np.array(X, dtype=np.float64).reshape(len(X), len(names)), names, np.array(g), np.array(y),
                    np.array(idx), np.array(cuts), np.zeros(0))


def _sklearn():
    try:
        from sklearn.linear_model import LogisticRegression, Ridge
    except ImportError:
        raise ForecastError("fitting or evaluating the forecaster needs scikit-learn: "
                            "pip install 'grokscope[forecast]'") from None
    return LogisticRegression, Ridge


def fit_model(ex: Examples, families: Sequence[str], info: dict[str, Any] | None = None) -> ForecastModel:
    """Logistic regression for P(groks) and ridge regression for log(t_val99/cut) on standardized features."""
    LogisticRegression, Ridge = _sklearn()
    if len(ex.grok) < 4 or len(set(ex.grok.tolist())) < 2:
        raise ForecastError(f"cannot fit a forecaster: {len(ex.grok)} examples, needs runs that grok and runs "
                            "that do not (a sweep across weight decay / train fraction / width)")
    mean = ex.X.mean(0)
    scale = ex.X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = (ex.X - mean) / scale
    # each head reads its own columns (config values, when present, go to both); the others get coefficient 0
    cols = {head: np.array([n in keep or n in CONFIG_FEATURES for n in ex.names])
            for head, keep in (("clf", CLF_FEATURES), ("reg", REG_FEATURES))}
    clf = LogisticRegression(C=CLF_C, max_iter=2000).fit(Z[:, cols["clf"]], ex.grok)
    pos = ex.grok == 1
    if pos.sum() < 3:
        raise ForecastError(f"cannot fit a forecaster: only {int(pos.sum())} examples of runs that grok after the cut")
    Zr = Z[pos][:, cols["reg"]]
    reg = Ridge(alpha=RIDGE_ALPHA).fit(Zr, ex.log_ratio[pos])
    resid = _cv_residuals(Zr, ex.log_ratio[pos], ex.run[pos], Ridge)
    clf_coef, reg_coef = np.zeros(len(ex.names)), np.zeros(len(ex.names))
    clf_coef[cols["clf"]], reg_coef[cols["reg"]] = clf.coef_[0], reg.coef_
    return ForecastModel(
        features=list(ex.names), families=sorted(set(families)), mean=mean.tolist(), scale=scale.tolist(),
        clf_coef=clf_coef.tolist(), clf_intercept=float(clf.intercept_[0]), reg_coef=reg_coef.tolist(),
        reg_intercept=float(reg.intercept_), resid_q10=float(np.quantile(resid, 0.1)),
        resid_q90=float(np.quantile(resid, 0.9)), info=dict(info or {}, n_examples=int(len(ex.grok)),
                                                           n_grok_examples=int(pos.sum())))


def _cv_residuals(Z: np.ndarray, y: np.ndarray, groups: np.ndarray, Ridge: Any, k: int = 5) -> np.ndarray:
    """Residuals of the regression on held-out runs (k folds by run), for an honest interval width."""
    folds = groups % k
    resid = np.empty_like(y)
    for j in range(k):
        test = folds == j
        if not test.any():
            continue
        train = ~test
        if train.sum() < 3:
            return y - Ridge(alpha=RIDGE_ALPHA).fit(Z, y).predict(Z)
        resid[test] = y[test] - Ridge(alpha=RIDGE_ALPHA).fit(Z[train], y[train]).predict(Z[test])
    return resid


def fit_store(roots: Sequence[str | Path], with_config: bool = False,
              fractions: Sequence[float] = FIT_FRACTIONS) -> ForecastModel:
    """The forecaster fitted on every finished run under the roots."""
    runs = load_runs(roots)
    ex = examples(runs, fractions, with_config)
    m = fit_model(ex, [r.family for r in runs],
                  info={"runs": len(runs), "fractions": list(fractions), "with_config": with_config,
                        "families": {f: sum(r.family == f for r in runs) for f in {r.family for r in runs}}})
    rule = stop_rule_info(runs, with_config)
    if rule is not None:
        m.info["stop_rule"] = rule
    return m


def stop_rule_info(runs: Sequence[FitRun], with_config: bool = False) -> dict[str, Any] | None:
    """The held-out false-negative rate of the sweep stop rule "P < STOP_P at STOP_FRACTION of the budget"
    (`train.stop_forecast_p`): held out by family when there are >= 2, else by width, else by seed; None
    when no region splits the runs. n_stopped counts held-out runs (not yet grokked at the cut) it stops."""
    method = "forecast+config" if with_config else "forecast"
    for by in ("family", "width", "seed"):
        if len({str(REGIONS[by](r)) for r in runs}) >= 2:
            break
    else:
        log.warning("no stop-rule false-negative rate: every run is in the same family, width and seed")
        return None
    s = evaluate(runs, REGIONS[by], [STOP_FRACTION], methods=[method]).get((STOP_FRACTION, method))
    if s is None:
        return None
    grokked = round(s.stop_fn * s.n_stop) if s.n_stop else 0
    return {"p": STOP_P, "fraction": STOP_FRACTION, "held_out_by": by, "n_runs": len(runs), "n_held_out": s.n,
            "n_stopped": s.n_stop, "n_stopped_grokked": grokked,
            "fn_rate": round(grokked / s.n_stop, 6) if s.n_stop else None}


# --- evaluation -------------------------------------------------------------------------------------

def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); nan with one class only."""
    y = np.asarray(y)
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (len(pos) * len(neg)))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 5) -> float:
    """Expected calibration error over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


@dataclass
class Scores:
    """One method's numbers on one held-out set at one fraction."""

    n: int
    n_grok: int
    auroc: float
    brier: float
    ece: float
    med_rel_err: float
    n_time: int
    n_stop: int  # runs the rule "stop when P < STOP_P" would stop
    stop_fn: float  # ... of which this fraction grokked within the budget (its false-negative rate)


def _score(y: np.ndarray, p: np.ndarray, score: np.ndarray, t_true: np.ndarray, t_pred: np.ndarray) -> Scores:
    ok = (y == 1) & np.isfinite(t_pred)
    rel = np.abs(t_pred[ok] - t_true[ok]) / t_true[ok]
    stop = p < STOP_P
    return Scores(len(y), int(y.sum()), auroc(y, score), float(np.mean((p - y) ** 2)), ece(y, p),
                  float(np.median(rel)) if rel.size else math.nan, int(ok.sum()), int(stop.sum()),
                  float(y[stop].mean()) if stop.any() else math.nan)


METHODS = ("forecast", "forecast+config", "config rule", "test-loss trend")


def evaluate(runs: Sequence[FitRun], region: Callable[[FitRun], Any],
             fractions: Sequence[float] = EVAL_FRACTIONS,
             raw: dict[tuple[float, str], tuple[np.ndarray, ...]] | None = None,
             methods: Sequence[str] = METHODS, only: Sequence[str] | None = None) -> dict[tuple[float, str], Scores]:
    """Leave-one-region-out: for every value of `region(run)` (or only those in `only`), fit on the other
    runs and predict its runs at each fraction; scores pooled over the held-out predictions, per (fraction,
    method in `methods`). `raw`, if given, receives the pooled (groks, p, score, t_true, t_pred) arrays
    per (fraction, method)."""
    keys = np.array([str(region(r)) for r in runs])
    values = sorted(set(keys.tolist()))
    if len(values) < 2:
        raise ForecastError(f"cannot hold out by region: every run is in the same region ({values[0]})")
    pooled: dict[tuple[float, str], list] = {}
    for v in values if only is None else [str(o) for o in only]:
        train = [r for r, k in zip(runs, keys) if k != v]
        test = [r for r, k in zip(runs, keys) if k == v]
        models = {}
        for name, cfgf in (("forecast", False), ("forecast+config", True)):
            if name not in methods:
                continue
            ex = examples(train, FIT_FRACTIONS, cfgf)
            try:
                models[name] = fit_model(ex, [r.family for r in train])
            except ForecastError as e:
                log.warning("region %s: %s", v, e)
        base = _config_rule(train) if "config rule" in methods else None
        target = _loss_at_t99(train)
        for f in fractions:
            for name in ("forecast", "forecast+config"):
                ex = examples(test, [f], name == "forecast+config")
                if name not in models or not len(ex.grok):
                    continue
                m = models[name]
                p = m.p_groks(ex.X)
                t_pred = ex.cut * np.exp(m.log_ratio(ex.X))
                t_true = ex.cut * np.exp(np.nan_to_num(ex.log_ratio))
                pooled.setdefault((f, name), []).append((ex.grok, p, p, t_true, t_pred))
            if "test-loss trend" not in methods and "config rule" not in methods:
                continue
            ex = examples(test, [f], True)
            if not len(ex.grok):
                continue
            t_true = ex.cut * np.exp(np.nan_to_num(ex.log_ratio))
            if base is not None:
                p, t_pred = base(ex)
                pooled.setdefault((f, "config rule"), []).append((ex.grok, p, p, t_true, t_pred))
            if "test-loss trend" not in methods:
                continue
            cross = np.array([trend_crossing(test[i].rows, c, target) for i, c in zip(ex.run, ex.cut)])
            budget = np.array([test[i].budget for i in ex.run])
            p = (cross <= budget).astype(float)
            pooled.setdefault((f, "test-loss trend"), []).append(
                (ex.grok, p, -np.log(np.maximum(cross, 1.0) / budget), t_true, cross))
    out = {}
    for key, parts in pooled.items():
        y, p, s, tt, tp = (np.concatenate([part[j] for part in parts]) for j in range(5))
        out[key] = _score(y, p, s, tt, tp)
        if raw is not None:
            raw[key] = (y, p, s, tt, tp)
    return out


def _config_rule(runs: Sequence[FitRun]):
    """Baseline: the same two heads on the config values and the remaining budget only."""
    names = list(CONFIG_FEATURES) + ["log_remaining"]
    ex = examples(runs, FIT_FRACTIONS, True)
    if not len(ex.grok):
        return None
    cols = [ex.names.index(n) for n in names]
    sub = Examples(ex.X[:, cols], names, ex.grok, ex.log_ratio, ex.run, ex.cut, ex.trend)
    try:
        m = fit_model(sub, [r.family for r in runs])
    except ForecastError:
        return None

    def predict(test: Examples) -> tuple[np.ndarray, np.ndarray]:
        X = test.X[:, [test.names.index(n) for n in names]]
        return m.p_groks(X), test.cut * np.exp(m.log_ratio(X))

    return predict


def _loss_at_t99(runs: Sequence[FitRun]) -> float:
    """Median log10 test loss at the row where test accuracy first reached 99% (the trend baseline's target)."""
    vals = [math.log10(max(float(row["test_loss"]), 1e-12)) for r in runs if r.t_val99 is not None
            for row in r.rows if int(row["step"]) == r.t_val99]
    return float(np.median(vals)) if vals else -2.0


REGIONS: dict[str, Callable[[FitRun], Any]] = {
    "family": lambda r: r.family,
    "width": lambda r: f"{r.family} d_mlp={r.cfg.model.d_mlp}",
    "op": lambda r: r.cfg.task.op,
    "p": lambda r: r.cfg.task.p,
    "noise": lambda r: r.cfg.task.noise,
    "seed": lambda r: r.cfg.train.seed,
}
