"""Fitting the forecaster on a run corpus, and its evaluation on held-out regions (needs scipy:
`pip install 'grokscope[forecast]'`).

Examples are (run, cut) pairs: a run's features at an evaluation after memorisation and before it
grokked, labelled by what happened after it — y = ln((t_val99 - cut) / cut), or, for a run that never
grokked, y > ln((last step - cut) / cut) (censored). The model (forecast.model, a cure model: P(groks
at all) times a log-normal time if it does) is fitted by maximum likelihood with an L2 penalty. Everything chosen — the weight-norm law's constants, the feature set,
the penalty, the interval width — is chosen on the training runs only, by leave-one-sweep-out inside
them (nested), never on the runs it is scored on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.events import EVENT_THRESHOLD, first_step
from grokscope.forecast.features import (
    ALL_FEATURES,
    LAW_FEATURES,
    PHYSICS_FEATURES,
    TRAJECTORY_FEATURES,
    ForecastError,
    Recipe,
    family_of,
    log_spaced,
    memorised_at,
    recipe_of,
    trajectory_features,
    trend_crossing,
)
from grokscope.forecast.law import POOLED, Law, LawInputs, fit_laws, law_features, law_inputs, law_times
from grokscope.forecast.model import ForecastModel
from grokscope.forecast.predict import DEFAULT_FRACTION, cut_for, forecast_rows

log = logging.getLogger(__name__)

MAX_CUTS = 8  # (run, cut) examples per run: evaluations spread evenly in log-step from t_mem to the end
NULL_NOISE = 0.9  # runs with at least this label noise cannot generalise: they make the verdict's null band
NULL_QUANTILE = 0.99
# the candidates the nested choice picks from (feature set x L2 penalty)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all": ALL_FEATURES,
    "no law": TRAJECTORY_FEATURES + PHYSICS_FEATURES,
    "core": ("since_mem", "test_acc", "test_acc_max", "test_acc_slope", "acc_trend", "loss_trend", "test_loss_rel",
             "test_loss_slope",
             "wn_rate", "logit_rate", "decay_per_cut") + LAW_FEATURES,
}
ALPHAS = (0.1, 1.0, 10.0)
STOP_P = 0.05  # the "forecast never to grok" rule whose false-negative rate eval reports


def _scipy():
    try:
        from scipy import optimize, special
    except ImportError:
        raise ForecastError("fitting or evaluating the forecaster needs scipy: pip install 'grokscope[forecast]'") from None
    return optimize, special


@dataclass
class FitRun:
    """One finished run as fitting reads it."""

    path: Path
    group: str  # the sweep it belongs to (the unit of the nested leave-one-out)
    cfg: Any
    rows: list[dict[str, Any]]
    recipe: Recipe
    budget: int
    end: int  # the last evaluated step
    t_mem: int | None
    t_val99: int | None
    region: dict[str, Any] = field(default_factory=dict)

    @property
    def null(self) -> bool:
        """A run that cannot generalise (permuted labels)."""
        return float(self.cfg.task.noise) >= NULL_NOISE


def load_runs(roots: Sequence[str | Path]) -> list[FitRun]:
    """Every finished run under the roots (run directories or sweep folders); ForecastError if none."""
    from grokscope.store.db import find_runs
    from grokscope.store.rundir import read_config, read_metrics, read_summary

    out = []
    for root in roots:
        for path, sweep in find_runs(root):
            if read_summary(path) is None:
                continue  # unfinished: its label is not known yet
            cfg = read_config(path)
            rows = sorted(read_metrics(path), key=lambda r: int(r["step"]))
            if not rows:
                continue
            fam = family_of(cfg)
            out.append(FitRun(path, str(sweep or Path(root).name), cfg, rows, recipe_of(cfg), int(cfg.train.steps),
                              int(rows[-1]["step"]), memorised_at(rows), first_step(rows, "test_acc", EVENT_THRESHOLD),
                              {"family": fam, "op": cfg.task.op, "p": cfg.task.p, "width": f"{fam} d_mlp={cfg.model.d_mlp}",
                               "noise": cfg.task.noise, "seed": cfg.train.seed}))
    if not out:
        raise ForecastError(f"no finished runs under {', '.join(map(str, roots))}")
    return out


# --- examples ---------------------------------------------------------------------------------------

@dataclass
class Cut:
    """One (run, cut) example before the law's constants are known: trajectory features and law inputs."""

    run: int
    cut: int
    feats: dict[str, float]
    law_in: LawInputs | None
    y: float  # ln((t_val99 - cut) / cut), or the censoring bound ln((end - cut) / cut)
    event: bool  # grokked (y exact) or censored (y a lower bound)
    weight: float = 1.0  # 1 / the run's number of examples: each run weighs 1


def _usable_cuts(r: FitRun) -> list[int]:
    """Evaluations at or after memorisation, before the run grokked and before its last step."""
    if r.t_mem is None:
        return []
    stop = r.t_val99 if r.t_val99 is not None else r.end
    return [int(x["step"]) for x in r.rows if r.t_mem <= int(x["step"]) < stop]


def _example(runs: Sequence[FitRun], i: int, cut: int) -> Cut | None:
    r = runs[i]
    try:
        feats = trajectory_features(r.rows, r.recipe, cut)
    except ForecastError:
        return None
    event = r.t_val99 is not None
    t = r.t_val99 if event else r.end
    return Cut(i, cut, feats, law_inputs(r.rows, cut), math.log((t - cut) / cut), event)


def corpus_cuts(runs: Sequence[FitRun]) -> list[Cut]:
    """The fitting examples: up to MAX_CUTS evaluations per run, spread in log-step; each run weighs 1."""
    out = []
    for i, r in enumerate(runs):
        ex = [e for s in log_spaced(_usable_cuts(r), MAX_CUTS) if (e := _example(runs, i, s)) is not None]
        for e in ex:
            e.weight = 1.0 / len(ex)
            out.append(e)
    return out


def _law_of(laws: dict[str, Law], family: str) -> Law | None:
    return laws.get(family, laws.get(POOLED))


def design(cuts: Sequence[Cut], runs: Sequence[FitRun], laws: dict[str, Law], names: Sequence[str]) -> np.ndarray:
    """The feature matrix [n, names] of examples, law features from the given constants."""
    X = np.empty((len(cuts), len(names)))
    for j, c in enumerate(cuts):
        r = runs[c.run]
        f = c.feats | law_features(c.law_in, r.recipe, _law_of(laws, r.recipe.family))
        X[j] = [f[n] for n in names]
    return X


# --- the cure model: P(ever groks) x a censored log-normal time ---------------------------------------

@dataclass
class Fit:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # of mu, on the standardized features
    intercept: float
    cure_coef: np.ndarray  # of logit P(groks at all)
    cure_intercept: float
    sigma: float

    def _z(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    def mu(self, X: np.ndarray) -> np.ndarray:
        return self._z(X) @ self.coef + self.intercept

    def eta(self, X: np.ndarray) -> np.ndarray:
        return self._z(X) @ self.cure_coef + self.cure_intercept


def _nll_terms(y: np.ndarray, event: np.ndarray, eta: np.ndarray, mu: np.ndarray, log_sigma: float):
    """Per-example negative log-likelihood of the cure model and its derivatives in eta (logit of pi =
    P(groks at all)), mu and ln sigma. A run that grokked: pi·f(y); one censored at y: 1 - pi + pi·S(y)."""
    _, special = _scipy()
    s = math.exp(log_sigma)
    z = (y - mu) / s
    log_pi, log_not = -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)  # ln pi, ln(1 - pi)
    log_phi = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
    log_surv = special.log_ndtr(-z)  # ln S = ln P(Y > y | groks)
    log_l = np.logaddexp(log_not, log_pi + log_surv)  # censored: ln(1 - pi + pi S)
    nll = np.where(event, -log_pi + log_sigma + 0.5 * z * z, -log_l)
    pi_phi = np.exp(log_pi + log_phi - log_l)  # pi phi(z) / L
    d_eta = np.where(event, -np.exp(log_not), np.exp(log_pi + log_not + special.log_ndtr(z) - log_l))
    d_mu = np.where(event, -z / s, -pi_phi / s)
    d_ls = np.where(event, 1.0 - z * z, -pi_phi * z)
    return nll, d_eta, d_mu, d_ls


def fit_cure(X: np.ndarray, y: np.ndarray, event: np.ndarray, w: np.ndarray, alpha: float) -> Fit:
    """Maximum-likelihood cure model (logistic P(groks at all), censored log-normal time if it does), L2
    penalty alpha on both heads' standardized coefficients."""
    optimize, _ = _scipy()
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    w = w / w.sum()
    n = Z.shape[1]

    def f(theta: np.ndarray):
        a, b = theta[:n], theta[n + 1:2 * n + 1]  # cure and time coefficients
        nll, d_eta, d_mu, d_ls = _nll_terms(y, event, Z @ a + theta[n], Z @ b + theta[2 * n + 1], theta[-1])
        g_eta, g_mu = w * d_eta, w * d_mu
        grad = np.concatenate([Z.T @ g_eta + alpha * a, [g_eta.sum()], Z.T @ g_mu + alpha * b, [g_mu.sum()],
                               [(w * d_ls).sum()]])
        return float(w @ nll + 0.5 * alpha * (a @ a + b @ b)), grad

    theta0 = np.zeros(2 * n + 3)
    theta0[n] = 1.0
    theta0[2 * n + 1] = float(np.average(y[event], weights=w[event])) if event.any() else 0.0
    res = optimize.minimize(f, theta0, jac=True, method="BFGS")  # ~40 parameters: BFGS fit 10x faster than L-BFGS-B
    x = res.x
    return Fit(mean, scale, x[n + 1:2 * n + 1], float(x[2 * n + 1]), x[:n], float(x[n]), float(math.exp(x[-1])))


def fit_sigma(y: np.ndarray, event: np.ndarray, eta: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    """sigma alone by maximum likelihood for given (held-out) eta and mu: an interval as wide as the errors
    on runs the fit did not see."""
    optimize, _ = _scipy()
    w = w / w.sum()
    res = optimize.minimize_scalar(lambda ls: float(w @ _nll_terms(y, event, eta, mu, ls)[0]), bounds=(-4, 3),
                                   method="bounded")
    return float(math.exp(res.x))


def _held_out_nll(y, event, eta, mu, sigma, w) -> float:
    return float((w / w.sum()) @ _nll_terms(y, event, eta, mu, math.log(sigma))[0])


def _folds(runs: Sequence[FitRun], idx: Sequence[int]) -> list[np.ndarray]:
    """Leave-one-sweep-out over runs[idx] (5 folds by run when there are fewer than 3 sweeps)."""
    groups = np.array([runs[i].group for i in idx])
    values = sorted(set(groups.tolist()))
    if len(values) >= 3:
        return [groups == v for v in values]
    pos = np.arange(len(idx))
    return [pos % 5 == j for j in range(5)]


def _folds_name(runs: Sequence[FitRun]) -> str:
    n = len({r.group for r in runs})
    return f"leave-one-sweep-out over {n} sweeps" if n >= 3 else f"5 folds by run ({n} sweep{'s' * (n != 1)})"


@dataclass
class Choice:
    features: tuple[str, ...]
    set_name: str
    alpha: float
    cv_nll: float
    sigma: float  # from the inner held-out mu


def choose(runs: Sequence[FitRun], cuts: Sequence[Cut], sets: Sequence[str] = tuple(FEATURE_SETS)) -> Choice:
    """The feature set and penalty with the lowest held-out likelihood loss, leave-one-sweep-out over the runs
    (law constants refitted inside each fold), and the interval width those held-out predictions imply."""
    run_ids = sorted({c.run for c in cuts})
    pos_of = {r: j for j, r in enumerate(run_ids)}
    folds = _folds(runs, run_ids)
    ex_fold = np.array([np.argmax([f[pos_of[c.run]] for f in folds]) for c in cuts])
    y = np.array([c.y for c in cuts])
    ev = np.array([c.event for c in cuts])
    w = np.array([c.weight for c in cuts])
    # law features per fold (constants from that fold's training runs), all columns once
    X_fold = []
    for f in folds:
        train_runs = [runs[r] for r in run_ids if not f[pos_of[r]]]
        laws = fit_laws((r.rows, r.recipe, r.t_val99) for r in train_runs)
        X_fold.append(design(cuts, runs, laws, ALL_FEATURES))
    best: Choice | None = None
    for set_name in sets:
        names = FEATURE_SETS[set_name]
        cols = [ALL_FEATURES.index(n) for n in names]
        for alpha in ALPHAS:
            mu, eta = np.full(len(cuts), np.nan), np.full(len(cuts), np.nan)
            for k in range(len(folds)):
                test = ex_fold == k
                if not test.any() or test.all():
                    continue
                X = X_fold[k][:, cols]
                fit = fit_cure(X[~test], y[~test], ev[~test], w[~test], alpha)
                mu[test], eta[test] = fit.mu(X[test]), fit.eta(X[test])
            ok = np.isfinite(mu)
            sigma = fit_sigma(y[ok], ev[ok], eta[ok], mu[ok], w[ok])
            score = _held_out_nll(y[ok], ev[ok], eta[ok], mu[ok], sigma, w[ok])
            log.info("choice %-7s alpha %-6g held-out nll %.4f sigma %.3f", set_name, alpha, score, sigma)
            if best is None or score < best.cv_nll:
                best = Choice(tuple(names), set_name, alpha, score, sigma)
    assert best is not None
    return best


def null_band(runs: Sequence[FitRun]) -> tuple[float, int]:
    """(the NULL_QUANTILE of test accuracy in multiples of chance over the rows after memorisation of runs that
    cannot generalise, their number); (inf, 0) without such runs."""
    vals = [float(x["test_acc"]) * r.recipe.n_classes for r in runs if r.null and r.t_mem is not None
            for x in r.rows if int(x["step"]) >= r.t_mem]
    n = sum(1 for r in runs if r.null and r.t_mem is not None)
    return (float(np.quantile(vals, NULL_QUANTILE)), n) if vals else (math.inf, 0)


def fit_model(runs: Sequence[FitRun], info: dict[str, Any] | None = None,
              band_runs: Sequence[FitRun] | None = None, sets: Sequence[str] = tuple(FEATURE_SETS)) -> ForecastModel:
    """The forecaster fitted on the runs: law constants, nested choice of features and penalty, the fit, and the
    verdict's null band (from the permuted-label runs among `band_runs`, default `runs`; evaluation scores no
    verdict, so it may take them from a held-out region)."""
    cuts = corpus_cuts(runs)
    if len(cuts) < 20 or sum(c.event for c in cuts) < 5 or all(c.event for c in cuts):
        raise ForecastError(f"cannot fit a forecaster: {len(cuts)} examples after memorisation, "
                            f"{sum(c.event for c in cuts)} of runs that grok; it needs runs that memorise, and that "
                            "grok and do not (a sweep across weight decay / train fraction)")
    choice = choose(runs, cuts, sets)
    laws = fit_laws((r.rows, r.recipe, r.t_val99) for r in runs)
    X = design(cuts, runs, laws, choice.features)
    y, ev, w = (np.array([getattr(c, k) for c in cuts]) for k in ("y", "event", "weight"))
    fit = fit_cure(X, y, ev, w, choice.alpha)
    band, n_null = null_band(runs if band_runs is None else band_runs)
    if not math.isfinite(band):
        raise ForecastError("cannot fit a forecaster: no runs with permuted labels (task.noise >= 0.9) for the "
                            "verdict's null band; add sweeps/forecast2_null.toml")
    fams = sorted({r.recipe.family for r in runs})
    return ForecastModel(
        features=list(choice.features), mean=fit.mean.tolist(), scale=fit.scale.tolist(), coef=fit.coef.tolist(),
        intercept=fit.intercept, cure_coef=fit.cure_coef.tolist(), cure_intercept=fit.cure_intercept,
        sigma=choice.sigma, laws={k: v.as_dict() for k, v in laws.items()},
        null_band=band,
        info=dict(info or {}, runs=len(runs), n_examples=len(cuts), n_grok_runs=sum(r.t_val99 is not None for r in runs),
                  families={f: sum(r.recipe.family == f for r in runs) for f in fams},
                  sweeps=sorted({r.group for r in runs}), inner_cv=_folds_name(runs), feature_set=choice.set_name,
                  alpha=choice.alpha,
                  inner_cv_nll=round(choice.cv_nll, 5), null_runs=n_null))


def fit_store(roots: Sequence[str | Path], measure_stop_rule: bool = True) -> ForecastModel:
    """The forecaster fitted on every finished run under the roots, with the held-out false-negative rate of
    the sweep stop rule in its info (`stop_rule_info`) unless `measure_stop_rule` is False."""
    runs = load_runs(roots)
    m = fit_model(runs, info={"roots": [Path(r).name for r in roots]})  # names, not this machine's paths
    rule = stop_rule_info(runs) if measure_stop_rule else None
    if rule is not None:
        m.info["stop_rule"] = rule
    return m


def stop_rule_info(runs: Sequence[FitRun]) -> dict[str, Any] | None:
    """The held-out false-negative rate of the stop rule "P(by the horizon) < STOP_P at 20% of the budget"
    (`train.stop_forecast_p`): held out by family when there are >= 2, else by sweep; None when neither
    splits the runs. n_stopped counts held-out runs (memorised, not grokked at the cut) it would stop."""
    for by in ("family", "sweep"):
        if len({str(REGIONS[by](r)) for r in runs}) >= 2:
            break
    else:
        log.warning("no stop-rule false-negative rate: every run is in the same family and sweep")
        return None
    s = evaluate(runs, REGIONS[by], protocols=["20% of budget"]).get(("20% of budget", "forecast"))
    if s is None:
        return None
    grokked = round(s.stop_fn * s.n_stop) if s.n_stop else 0
    return {"p": STOP_P, "held_out_by": by, "n_runs": len(runs), "n_held_out": s.n, "n_stopped": s.n_stop,
            "n_stopped_grokked": grokked, "fn_rate": round(grokked / s.n_stop, 6) if s.n_stop else None}


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


# when a forecast is scored: 20% of the steps the run trains (or of its budget, if earlier), and fixed
# multiples of t_mem; never before memorisation (snapped to the last evaluation at or before it)
PROTOCOLS: dict[str, Callable[[FitRun], int]] = {
    "20% of trained": lambda r: cut_for(r.rows, r.budget, DEFAULT_FRACTION),
    "20% of budget": lambda r: round(DEFAULT_FRACTION * r.budget),  # where the stop rule looks
    "2 t_mem": lambda r: 2 * (r.t_mem or 0),
    "4 t_mem": lambda r: 4 * (r.t_mem or 0),
}
METHODS = ("forecast", "weight-norm law", "test-loss trend")


@dataclass
class Pred:
    """One held-out forecast: what was said at the cut and what happened."""

    run: int
    cut: int
    horizon: int
    label: int | None  # grokked by the horizon (None: the run stopped before the horizon without grokking)
    t_true: int | None
    p: float
    score: float  # higher = sooner (for AUROC)
    t_pred: float
    low: float
    high: float


@dataclass
class Scores:
    """One method's numbers on one held-out set under one protocol."""

    n: int  # forecast (not grokked at the cut)
    n_label: int  # with a known outcome at the horizon
    n_grok: int  # of which grokked by the horizon
    auroc: float
    brier: float
    ece: float
    n_time: int  # grokked at all (scored for t_val99)
    med_rel_err: float
    coverage: float  # of the 80% interval, over n_time
    n_stop: int  # the rule "stop when P < STOP_P" would stop
    stop_fn: float  # ... of which this fraction grokked by the horizon


def score(preds: Sequence[Pred]) -> Scores:
    lab = [q for q in preds if q.label is not None]
    y = np.array([q.label for q in lab], dtype=float)
    p = np.array([q.p for q in lab])
    s = np.array([q.score for q in lab])
    timed = [q for q in preds if q.t_true is not None]
    rel = np.array([abs(q.t_pred - q.t_true) / q.t_true for q in timed])
    cov = np.array([q.low <= q.t_true <= q.high for q in timed if math.isfinite(q.low)])
    stop = p < STOP_P
    return Scores(len(preds), len(lab), int(y.sum()), auroc(y, s), float(np.mean((p - y) ** 2)) if len(y) else math.nan,
                  ece(y, p) if len(y) else math.nan, len(timed), float(np.median(rel)) if rel.size else math.nan,
                  float(cov.mean()) if cov.size else math.nan, int(stop.sum()),
                  float(y[stop].mean()) if stop.any() else math.nan)


def _outcome(r: FitRun, horizon: int) -> int | None:
    if r.t_val99 is not None and r.t_val99 <= horizon:
        return 1
    return 0 if r.end >= horizon else None


def _loss_at_t99(runs: Sequence[FitRun]) -> float:
    """Median log10 test loss at the row where test accuracy first reached 99% (the trend baseline's target)."""
    vals = [math.log10(max(float(x["test_loss"]), 1e-12)) for r in runs if r.t_val99 is not None
            for x in r.rows if int(x["step"]) == r.t_val99]
    return float(np.median(vals)) if vals else -2.0


def law_error(runs: Sequence[FitRun], laws: dict[str, Law]) -> dict[str, tuple[float, int]]:
    """The law's own error, as its paper reports it: mean absolute percentage error of the delay
    t_val99 - t_mem (physics reading, at memorisation) over runs that grok after memorisation, per family and pooled."""
    per: dict[str, list[float]] = {}
    for r in runs:
        if r.t_val99 is None or r.t_mem is None or r.t_val99 <= r.t_mem:
            continue
        x = law_inputs(r.rows, r.t_mem)
        t_law, _ = law_times(x, r.recipe, _law_of(laws, r.recipe.family))
        if x is None or not math.isfinite(t_law):
            continue
        d_true = r.t_val99 - r.t_mem
        e = abs((t_law - r.t_mem) - d_true) / d_true
        per.setdefault(r.recipe.family, []).append(e)
        per.setdefault("all", []).append(e)
    return {k: (float(np.mean(v)), len(v)) for k, v in per.items()}


def predict_held_out(train: Sequence[FitRun], test: Sequence[FitRun], protocols: Sequence[str] = tuple(PROTOCOLS),
                     band_runs: Sequence[FitRun] | None = None, sets: Sequence[str] = tuple(FEATURE_SETS)) -> dict[tuple[str, str], list[Pred]]:
    """Fit on `train` (nested choice inside it) and forecast every run of `test` at each protocol's cut,
    with the forecast and both baselines: {(protocol, method): predictions}."""
    model = fit_model(train, band_runs=band_runs, sets=sets)
    laws = {k: Law(**v) for k, v in model.laws.items()}
    target = _loss_at_t99(train)
    out: dict[tuple[str, str], list[Pred]] = {}
    for proto in protocols:
        for i, r in enumerate(test):
            if r.t_mem is None:
                continue
            want = PROTOCOLS[proto](r)
            steps = [int(x["step"]) for x in r.rows if int(x["step"]) <= want]
            if not steps:
                continue
            cut = steps[-1]
            if r.t_val99 is not None and r.t_val99 <= cut or cut < r.t_mem or cut >= r.end:
                continue  # grokked by the cut, or nothing left to forecast
            # a family the fit has no law constants for is forecast with the pooled ones, as a user would
            recipe = r.recipe if r.recipe.family in model.laws else replace(r.recipe, family=POOLED)
            try:
                fc = forecast_rows(r.rows, recipe, cut, model, r.budget)
            except ForecastError:
                continue
            horizon, label, law = fc.horizon, _outcome(r, fc.horizon), _law_of(laws, r.recipe.family)
            out.setdefault((proto, "forecast"), []).append(
                Pred(i, cut, horizon, label, r.t_val99, fc.p_groks, fc.p_groks, fc.t_val99, fc.low, fc.high))
            law_in = law_inputs(r.rows, cut)
            t_law = max(law_times(law_in, r.recipe, law)[0], cut + 1.0)
            out.setdefault((proto, "weight-norm law"), []).append(
                Pred(i, cut, horizon, label, r.t_val99, float(t_law <= horizon), -t_law, t_law, math.nan, math.nan))
            t_tr = max(trend_crossing(r.rows, cut, target), cut + 1.0)
            out.setdefault((proto, "test-loss trend"), []).append(
                Pred(i, cut, horizon, label, r.t_val99, float(t_tr <= horizon), -t_tr, t_tr, math.nan, math.nan))
    return out


REGIONS: dict[str, Callable[[FitRun], Any]] = {
    "family": lambda r: r.region["family"],
    "sweep": lambda r: r.group,
    "width": lambda r: r.region["width"],
    "op": lambda r: r.region["op"],
    "p": lambda r: r.region["p"],
    "noise": lambda r: r.region["noise"],
    "seed": lambda r: r.region["seed"],
}


def evaluate(runs: Sequence[FitRun], region: Callable[[FitRun], Any], only: Sequence[str] | None = None,
             raw: dict[tuple[str, str], list[tuple[FitRun, Pred]]] | None = None,
             protocols: Sequence[str] = tuple(PROTOCOLS), sets: Sequence[str] = tuple(FEATURE_SETS),
             ) -> dict[tuple[str, str], Scores]:
    """Leave-one-region-out: for every value of `region(run)` (or only those in `only`), fit on the other
    runs and forecast its runs; scores pooled over the held-out forecasts per (protocol, method). `raw`, if
    given, receives the pooled (run, prediction) pairs."""
    keys = np.array([str(region(r)) for r in runs])
    values = sorted(set(keys.tolist()))
    if len(values) < 2:
        raise ForecastError(f"cannot hold out by region: every run is in the same region ({values[0]})")
    pooled: dict[tuple[str, str], list[tuple[FitRun, Pred]]] = {}
    for v in values if only is None else [str(o) for o in only]:
        train = [r for r, k in zip(runs, keys) if k != v]
        test = [r for r, k in zip(runs, keys) if k == v and not r.null]
        try:
            preds = predict_held_out(train, test, protocols, band_runs=[r for r in runs if r.null], sets=sets)
        except ForecastError as e:
            log.warning("region %s: %s", v, e)
            continue
        for key, ps in preds.items():
            pooled.setdefault(key, []).extend((test[q.run], q) for q in ps)
    if raw is not None:
        raw.update(pooled)
    return {key: score([q for _, q in v]) for key, v in pooled.items()}
