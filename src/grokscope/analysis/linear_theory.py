"""The grokking time of a linear teacher–student model, predicted before training (Levi, Beck, Bar-Sinai 2023).

Setting (task `teacher`, model `dense` with n_layers = 0 and no bias, full-batch SGD): x ~ N(0, I_d),
y = x · w*, prediction x · w, loss L = mean over the n training rows of (x · w − y)². With
Σ = XᵀX / n and the error e = w − w*, one gradient-descent step with learning rate η and coupled
weight decay γ (grokscope's `sgd`: the gradient is ∇L + γ w) is

    e_{t+1} = (I − η(2Σ + γI)) e_t − ηγ w*.

In the eigenbasis Σ = V diag(s) Vᵀ each coefficient c_k = (Vᵀe)_k evolves on its own:

    c_{k,t} = c*_k + a_k^t (c_{k,0} − c*_k),   a_k = 1 − η(2 s_k + γ),   c*_k = −γ (Vᵀw*)_k / (2 s_k + γ)

(c* = 0 without weight decay; a null direction of Σ, s_k = 0, then never moves). So from the data,
w* and w_0 alone — before any training — the whole run is known:

* the residual of row i is x_i · e_t (train and test rows alike), hence the engine's train and test
  losses and accuracies (an example is right when its squared error is below ε = `task.acc_eps`),
  step for step (`trajectory`);
* for a fresh Gaussian x the residual is N(0, ‖e_t‖²), so the population test accuracy is
  erf(√(ε / (2‖e_t‖²))) exactly.

As d → ∞ at fixed λ = d / n, the spectrum of Σ tends to the Marchenko–Pastur law (edges
s± = (1 ± √λ)², an atom of mass 1 − 1/λ at 0 when λ > 1) and an isotropic e_0 spreads its norm
evenly over it, so

    ‖e_t‖² → ‖e_0‖² ∫ ρ(s) (1 − 2ηs)^{2t} ds,      L_train(t) → ‖e_0‖² ∫ ρ(s) s (1 − 2ηs)^{2t} ds,

and the residuals on the training rows are N(0, L_train(t)): train accuracy erf(√(ε / (2 L_train))),
test accuracy erf(√(ε / (2‖e_t‖²))) (`mp_curves`, `mp_times`). Late in training both decay at the
lower edge's rate with L_train ≈ s₋ ‖e_t‖², which gives the late-time grokking delay
Δt ≈ ln(1/s₋) / (−2 ln(1 − 2ηs₋)) ≈ ln(1/s₋) / (4η s₋), s₋ = (1 − √λ)² (`mp_late_delay`): it
diverges as λ → 1. For λ > 1 the null space of Σ keeps ‖e_t‖² ≥ (1 − 1/λ)‖e_0‖², so the test
accuracy stays near erf(√(ε / (2(1 − 1/λ)‖e_0‖²))) while the training set is fitted.

These formulas are derived here from first principles (the paper's own equations were not
available to us); `predict(run)` is the entry point.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import erf, erfinv

from grokscope.errors import ConfigError
from grokscope.events import EVENT_THRESHOLD

if TYPE_CHECKING:
    from grokscope.config import RunConfig
    from grokscope.store.run import Run

CHUNK_ELEMENTS = 1 << 22  # residuals computed per block of steps: [steps, rows] float64, 32 MB
MP_NODES = 4000  # midpoint nodes over the MP bulk in θ (s = 1 + λ − 2√λ cos θ): exact to 1e-12 well past t = 1e5


def z_quantile(acc: float = EVENT_THRESHOLD) -> float:
    """z with P(|N(0, 1)| < z) = acc: a Gaussian residual is right with probability acc when its
    variance is ε / z² (z = 2.5758 for 0.99)."""
    return float(math.sqrt(2.0) * erfinv(acc))


def gaussian_acc(eps: float, var: np.ndarray | float) -> np.ndarray:
    """P((σZ)² < ε) = erf(√(ε / (2σ²))) for residual variances σ² = var (1 where var = 0)."""
    var = np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(var > 0, erf(np.sqrt(eps / (2.0 * np.maximum(var, 1e-300)))), 1.0)


def first_crossing(acc: np.ndarray, threshold: float = EVENT_THRESHOLD, steps: np.ndarray | None = None) -> int | None:
    """First step (index into `acc`, or `steps[index]`) with acc >= threshold, as `events.first_step`."""
    hit = np.flatnonzero(np.asarray(acc) >= threshold)
    if not len(hit):
        return None
    return int(hit[0] if steps is None else steps[hit[0]])


# --------------------------------------------------------------------------- the exact prediction
@dataclass(frozen=True)
class Problem:
    """One linear student on one teacher: the data, the teacher, the initial weights and the optimizer."""

    x_train: np.ndarray  # [n, d]
    x_test: np.ndarray  # [m, d]
    w_star: np.ndarray  # [d]
    w0: np.ndarray  # [d]
    lr: float
    weight_decay: float
    eps: float

    @property
    def lam(self) -> float:
        """λ = d_in / n_train."""
        return self.x_train.shape[1] / self.x_train.shape[0]

    @property
    def e0_sq(self) -> float:
        """‖w_0 − w*‖²."""
        return float(np.sum((self.w0 - self.w_star) ** 2))


@dataclass
class Curves:
    """Every metric of a run at steps 0..T (index = number of updates), each [T + 1]."""

    steps: np.ndarray
    train_loss: np.ndarray  # mean squared residual on the training rows (the engine's train_loss)
    test_loss: np.ndarray  # on the test rows (the engine's test_loss)
    train_acc: np.ndarray  # share of training rows with squared residual < ε
    test_acc: np.ndarray  # share of test rows with squared residual < ε (what the engine measures)
    pop_test_loss: np.ndarray  # ‖e_t‖²: the expected squared error on a fresh x
    pop_test_acc: np.ndarray  # erf(√(ε / (2‖e_t‖²))): test accuracy on infinitely many rows
    e_final: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))  # e_T [d]


def check_config(cfg: RunConfig) -> None:
    """ConfigError unless `cfg` is a run the theory describes: task teacher, a linear dense model
    without bias, MSE, full-batch plain SGD (no momentum, schedule or gradient transform)."""
    t, m, o, tr = cfg.task, cfg.model, cfg.optim, cfg.train
    bad = [
        (t.name == "teacher", f"task.name must be teacher, got {t.name}"),
        (m.arch == "dense" and m.n_layers == 0, "the model must be linear: model.arch = dense, model.n_layers = 0"),
        (not m.bias, "model.bias must be false"),
        (tr.loss == "mse" and tr.out_scale == 1.0, "train.loss must be mse with train.out_scale = 1"),
        (tr.batch_size == 0 or tr.batch_size >= t.n_train, "train.batch_size must be 0 (full batch)"),
        (o.name == "sgd" and o.momentum == 0.0, "optim.name must be sgd with optim.momentum = 0"),
        (o.warmup_steps == 0 and o.decay == "constant", "the learning rate must be constant (no warm-up or decay)"),
        (o.grokfast_lamb == 0.0 and not o.ortho and o.weight_norm == 0.0,
         "no gradient transform or weight-norm constraint (optim.grokfast_lamb, optim.ortho, optim.weight_norm)"),
    ]
    for ok, msg in bad:
        if not ok:
            raise ConfigError(f"linear theory: {msg}")


def seeded_init(cfg: RunConfig) -> np.ndarray:
    """w_0 [d_in] exactly as the engine draws it for `train.seed` (float32 init, then the run's dtype)."""
    import torch

    from grokscope.models import build_model

    w = build_model(cfg.model, cfg.task.d_in, 1).init([cfg.train.seed])["W_out"]  # [1, d_in, 1]
    return w.detach().to(getattr(torch, cfg.train.dtype)).double().numpy()[0, :, 0]


def problem(cfg: RunConfig, w0: np.ndarray | None = None) -> Problem:
    """The `Problem` of a run config: its data (`grokscope.tasks.make_task`), and w_0 given or seeded."""
    from grokscope.tasks import make_task

    check_config(cfg)
    task = make_task(cfg.task)
    n = task.n_train
    w0 = seeded_init(cfg) if w0 is None else np.asarray(w0, dtype=np.float64).reshape(-1)
    return Problem(x_train=task.x[:n], x_test=task.x[n:], w_star=np.asarray(task.meta["w_star"], dtype=np.float64),
                   w0=w0, lr=float(cfg.optim.lr), weight_decay=float(cfg.optim.weight_decay), eps=float(cfg.task.acc_eps))


def _modes(p: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(V [d, d], a [d], c* [d], c_0 − c* [d]) of the eigen-decomposition of Σ = XᵀX / n."""
    n = p.x_train.shape[0]
    s, V = np.linalg.eigh(p.x_train.T @ p.x_train / n)
    s = np.clip(s, 0.0, None)  # null directions come out as ±1e-16
    a = 1.0 - p.lr * (2.0 * s + p.weight_decay)
    c_star = np.zeros_like(s)
    if p.weight_decay:
        c_star = -p.weight_decay * (V.T @ p.w_star) / (2.0 * s + p.weight_decay)
    c0 = V.T @ (p.w0 - p.w_star)
    return V, a, c_star, c0 - c_star


def trajectory(p: Problem, steps: int) -> Curves:
    """Train/test losses and accuracies after 0..steps updates, exactly (up to float64 rounding)."""
    V, a, c_star, dc = _modes(p)
    U_tr, U_te = p.x_train @ V, p.x_test @ V  # rows in the eigenbasis: residual = U @ c_t
    T = steps + 1
    out = {k: np.empty(T) for k in ("train_loss", "test_loss", "train_acc", "test_acc", "pop_test_loss")}
    block = max(1, CHUNK_ELEMENTS // max(U_tr.shape[0] + U_te.shape[0], 1))
    for t0 in range(0, T, block):
        t = np.arange(t0, min(T, t0 + block))
        C = c_star + np.power(a[None, :], t[:, None]) * dc  # [b, d] coefficients of e_t
        out["pop_test_loss"][t] = np.sum(C * C, axis=1)
        for name, U in (("train", U_tr), ("test", U_te)):
            r2 = (C @ U.T) ** 2  # [b, rows] squared residuals
            out[f"{name}_loss"][t] = r2.mean(axis=1)
            out[f"{name}_acc"][t] = (r2 < p.eps).mean(axis=1)
    e_final = V @ (c_star + a**steps * dc)
    return Curves(steps=np.arange(T), pop_test_acc=gaussian_acc(p.eps, out["pop_test_loss"]), e_final=e_final, **out)


# --------------------------------------------------------------------------- Marchenko–Pastur asymptotics
def mp_edges(lam: float) -> tuple[float, float]:
    """(s₋, s₊) = ((1 − √λ)², (1 + √λ)²): the bulk of the spectrum of Σ = XᵀX / n, λ = d / n."""
    r = math.sqrt(lam)
    return (1 - r) ** 2, (1 + r) ** 2


def mp_density(s: np.ndarray | float, lam: float) -> np.ndarray:
    """The continuous part of the Marchenko–Pastur density of Σ's eigenvalues at s (0 outside the
    bulk); it integrates to min(1, 1/λ), the rest being the atom at 0 for λ > 1."""
    lo, hi = mp_edges(lam)
    s = np.asarray(s, dtype=np.float64)
    inside = (s > lo) & (s < hi)
    num = np.sqrt(np.clip((hi - s) * (s - lo), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inside, num / (2 * np.pi * lam * np.where(s > 0, s, 1.0)), 0.0)


@functools.lru_cache(maxsize=64)
def _mp_nodes(lam: float, n: int = MP_NODES) -> tuple[np.ndarray, np.ndarray]:
    """(s [n], weights [n]) with Σ w g(s) ≈ ∫ ρ_bulk(s) g(s) ds. With s = 1 + λ − 2√λ cos θ the square-root
    edges go away (ρ ds = (2√λ sin θ)² / (2πλ s) dθ, θ ∈ [0, π]) and the integrand is smooth, even and
    2π-periodic in θ, so the midpoint rule converges exponentially."""
    theta = (np.arange(n) + 0.5) * np.pi / n
    h = 2 * math.sqrt(lam)
    s = 1 + lam - h * np.cos(theta)
    return s, (np.pi / n) * (h * np.sin(theta)) ** 2 / (2 * np.pi * lam * s)


@dataclass
class MPCurves:
    """The d → ∞ prediction at the given steps."""

    steps: np.ndarray
    pop_test_loss: np.ndarray  # ‖e_t‖²
    train_loss: np.ndarray  # eᵀΣe
    train_acc: np.ndarray
    test_acc: np.ndarray


def mp_curves(lam: float, eps: float, lr: float, e0_sq: float, steps: np.ndarray | int) -> MPCurves:
    """Losses and accuracies of the Marchenko–Pastur limit (no weight decay) at `steps` (an int T
    means 0..T): ‖e_t‖² = ‖e_0‖² (∫ρ (1 − 2ηs)^{2t} ds + max(0, 1 − 1/λ)), L_train = ‖e_0‖² ∫ρ s (1 − 2ηs)^{2t} ds."""
    t = np.arange(steps + 1) if isinstance(steps, (int, np.integer)) else np.asarray(steps)
    s, w = _mp_nodes(lam)
    atom = max(0.0, 1.0 - 1.0 / lam)
    log_a2 = 2.0 * np.log(np.abs(1.0 - 2.0 * lr * s))  # [n]; (1 − 2ηs)^{2t} = exp(t · log_a2)
    test, train = np.empty(len(t)), np.empty(len(t))
    for i0 in range(0, len(t), 256):
        g = np.exp(np.outer(t[i0:i0 + 256], log_a2))  # [b, n]
        test[i0:i0 + 256] = e0_sq * (g @ w + atom)
        train[i0:i0 + 256] = e0_sq * (g @ (w * s))
    return MPCurves(steps=t, pop_test_loss=test, train_loss=train,
                    train_acc=gaussian_acc(eps, train), test_acc=gaussian_acc(eps, test))


def _first_below(f, target: float, horizon: int) -> int | None:
    """First integer t in [0, horizon] with the non-increasing f(t) <= target (bisection)."""
    if f(horizon) > target:
        return None
    lo, hi = -1, horizon  # f(lo) > target (virtually), f(hi) <= target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def mp_times(lam: float, eps: float, lr: float, e0_sq: float, horizon: int = 10**7,
             threshold: float = EVENT_THRESHOLD) -> tuple[int | None, int | None]:
    """(t_train99, t_val99) of the Marchenko–Pastur limit: the first steps with L_train ≤ ε / z² and
    ‖e_t‖² ≤ ε / z² (accuracy ≥ `threshold` for Gaussian residuals), None past `horizon`."""
    if 2 * lr * mp_edges(lam)[1] >= 2:
        raise ConfigError(f"linear theory: lr = {lr} diverges (needs lr < 1 / (1 + √λ)² = {1 / mp_edges(lam)[1]:.4g})")
    target = eps / z_quantile(threshold) ** 2
    one = lambda key: lambda t: float(getattr(mp_curves(lam, eps, lr, e0_sq, np.array([t])), key)[0])  # noqa: E731
    return _first_below(one("train_loss"), target, horizon), _first_below(one("pop_test_loss"), target, horizon)


def mp_late_delay(lam: float, lr: float) -> float:
    """Late-time grokking delay t_val99 − t_train99 of the MP limit when both crossings happen on the
    lower edge's exponential: L_train ≈ s₋ ‖e_t‖² and ‖e_t‖² ∝ (1 − 2ηs₋)^{2t}, so
    Δt ≈ ln(1/s₋) / (−2 ln(1 − 2ηs₋)) — infinite at λ = 1 and for λ > 1."""
    lo = mp_edges(lam)[0]
    if lam >= 1 or lo <= 0:
        return math.inf
    return math.log(1.0 / lo) / (-2.0 * math.log(abs(1.0 - 2.0 * lr * lo)))


# --------------------------------------------------------------------------- one call per run
@dataclass
class Prediction:
    """What the theory says of one run before it trains (`predict`)."""

    lam: float
    eps: float
    lr: float
    e0_sq: float
    t_train99: int | None  # on the run's own training rows, every step
    t_val99: int | None  # on the run's own test rows, every step (what the engine measures)
    t_val99_population: int | None  # on infinitely many test rows
    t_train99_mp: int | None  # the Marchenko–Pastur limit at this (λ, ε, η, ‖e_0‖²)
    t_val99_mp: int | None
    curves: Curves = field(repr=False)

    @property
    def delta_t(self) -> int | None:
        return None if self.t_train99 is None or self.t_val99 is None else self.t_val99 - self.t_train99

    def on_grid(self, eval_steps: list[int] | np.ndarray) -> tuple[int | None, int | None]:
        """(t_train99, t_val99) as the engine reports them when it evaluates only at `eval_steps`."""
        grid = np.array(sorted(s for s in eval_steps if s < len(self.curves.steps)), dtype=int)
        c = self.curves
        return (first_crossing(c.train_acc[grid], steps=grid), first_crossing(c.test_acc[grid], steps=grid))

    def to_dict(self) -> dict[str, Any]:
        keys = ("lam", "eps", "lr", "e0_sq", "t_train99", "t_val99", "t_val99_population", "t_train99_mp", "t_val99_mp")
        return {k: getattr(self, k) for k in keys} | {"delta_t": self.delta_t}


def predict(run: Run | str | Path | RunConfig, steps: int | None = None, w0: np.ndarray | None = None,
            threshold: float = EVENT_THRESHOLD) -> Prediction:
    """The predicted curves and grokking times of a linear teacher–student run: a run directory (w_0
    from its step-0 checkpoint when there is one), a `Run`, or a `RunConfig` (w_0 seeded as the
    engine seeds it). `steps` defaults to the config's `train.steps`. ConfigError if the run is
    not one the theory describes (`check_config`)."""
    from grokscope.config import RunConfig
    from grokscope.store.run import Run, load_run

    if isinstance(run, (str, Path)):
        run = load_run(run)
    if isinstance(run, Run):
        cfg = run.config
        if w0 is None and 0 in run.checkpoint_steps():
            w0 = run.params(0)["W_out"][0, :, 0].double().numpy()
    elif isinstance(run, RunConfig):
        cfg = run
    else:
        raise ConfigError(f"predict takes a run directory, a Run or a RunConfig, not {type(run).__name__}")
    p = problem(cfg, w0)
    T = int(cfg.train.steps if steps is None else steps)
    c = trajectory(p, T)
    t_tr_mp, t_val_mp = mp_times(p.lam, p.eps, p.lr, p.e0_sq, horizon=max(T, 1) * 100, threshold=threshold) \
        if p.weight_decay == 0 else (None, None)
    return Prediction(lam=p.lam, eps=p.eps, lr=p.lr, e0_sq=p.e0_sq,
                      t_train99=first_crossing(c.train_acc, threshold), t_val99=first_crossing(c.test_acc, threshold),
                      t_val99_population=first_crossing(c.pop_test_acc, threshold),
                      t_train99_mp=t_tr_mp, t_val99_mp=t_val_mp, curves=c)


__all__ = ["Curves", "MPCurves", "Prediction", "Problem", "check_config", "first_crossing", "gaussian_acc",
           "mp_curves", "mp_density", "mp_edges", "mp_late_delay", "mp_times", "predict", "problem", "seeded_init",
           "trajectory", "z_quantile"]
