"""grokscope.analysis.linear_theory: the spectral prediction of a linear teacher–student run against
closed forms (diagonal Σ), brute-force gradient descent, the float64 engine step for step, and the
Marchenko–Pastur limit against its moments and a large-d draw."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from grokscope.analysis import linear_theory as lt
from grokscope.config import RunConfig
from grokscope.errors import ConfigError


def _problem(n=40, d=10, m=30, lr=0.05, wd=0.0, eps=1e-3, seed=0) -> lt.Problem:
    rng = np.random.default_rng(seed)
    return lt.Problem(x_train=rng.standard_normal((n, d)), x_test=rng.standard_normal((m, d)),
                      w_star=rng.standard_normal(d) / math.sqrt(d), w0=rng.uniform(-1, 1, d) / math.sqrt(d),
                      lr=lr, weight_decay=wd, eps=eps)


def _teacher_cfg(*sets: str) -> RunConfig:
    return RunConfig(preset="t").override(
        ["task.name=teacher", "task.d_in=12", "task.n_train=24", "task.n_test=40", "task.acc_eps=0.01",
         "model.arch=dense", "model.n_layers=0", "model.bias=false", "optim.name=sgd", "optim.lr=0.1",
         "optim.weight_decay=0", "train.loss=mse", "train.dtype=float64", "train.steps=60", "train.eval_every=1",
         "train.eval_log_points=0", "train.checkpoint_every=60", "train.checkpoint_log_points=0",
         "train.stop_test_acc=1.1", *sets])


def test_gaussian_accuracy_and_quantile():
    sigma2 = np.array([1e-4, 1e-3, 0.05])
    want = 2 * stats.norm.cdf(math.sqrt(1e-3) / np.sqrt(sigma2)) - 1  # P(|σZ| < √ε)
    assert np.allclose(lt.gaussian_acc(1e-3, sigma2), want, rtol=1e-12)
    assert lt.z_quantile(0.99) == pytest.approx(2.5758293, abs=1e-6)
    assert lt.gaussian_acc(1e-3, 1e-3 / lt.z_quantile() ** 2) == pytest.approx(0.99, abs=1e-12)


def test_first_crossing():
    assert lt.first_crossing(np.array([0.1, 0.98, 0.99, 0.5, 1.0])) == 2
    assert lt.first_crossing(np.array([0.1, 0.2])) is None
    assert lt.first_crossing(np.array([0.1, 0.995]), steps=np.array([0, 50])) == 50


def test_diagonal_sigma_closed_form():
    """Σ = diag(s) exactly (orthogonal columns): every mode decays as (1 − 2ηs_k)^t, a null mode never."""
    n, d, lr = 50, 4, 0.1
    s = np.array([0.0, 0.3, 1.0, 2.0])
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((n, d)))
    x = math.sqrt(n) * q * np.sqrt(s)  # XᵀX / n = diag(s)
    w_star, w0 = np.array([0.5, -0.2, 0.1, 0.3]), np.zeros(d)
    p = lt.Problem(x_train=x, x_test=x, w_star=w_star, w0=w0, lr=lr, weight_decay=0.0, eps=1e-3)
    c = lt.trajectory(p, 30)
    t = np.arange(31)[:, None]
    e2 = ((1 - 2 * lr * s) ** (2 * t)) * (w0 - w_star) ** 2  # [T, d]
    assert np.allclose(c.pop_test_loss, e2.sum(1), rtol=1e-12, atol=1e-15)
    assert np.allclose(c.train_loss, (e2 * s).sum(1), rtol=1e-10, atol=1e-15)  # mean r² = eᵀΣe
    assert lt.trajectory(p, 3000).pop_test_loss[-1] == pytest.approx(0.25, rel=1e-9)  # the null mode keeps its 0.5²
    # with coupled weight decay γ: c_k → −γ w*_k / (2s_k + γ), at the rate 1 − η(2s_k + γ)
    wd = 0.05
    c = lt.trajectory(lt.Problem(x, x, w_star, w0, lr, wd, 1e-3), 30)
    a, cs = 1 - lr * (2 * s + wd), -wd * w_star / (2 * s + wd)
    e = cs + a ** t * (w0 - w_star - cs)
    assert np.allclose(c.pop_test_loss, (e**2).sum(1), rtol=1e-12)


def test_trajectory_equals_brute_force_gradient_descent():
    """The eigen-solution against the update itself, w ← w − η(2Σ(w − w*) + γw), with weight decay."""
    p = _problem(wd=0.03)
    c = lt.trajectory(p, 50)
    sigma = p.x_train.T @ p.x_train / len(p.x_train)
    w = p.w0.copy()
    for t in range(51):
        e = w - p.w_star
        assert c.pop_test_loss[t] == pytest.approx(e @ e, rel=1e-11)
        r_tr, r_te = p.x_train @ e, p.x_test @ e
        assert c.train_loss[t] == pytest.approx(np.mean(r_tr**2), rel=1e-10)
        assert c.test_loss[t] == pytest.approx(np.mean(r_te**2), rel=1e-10)
        assert c.test_acc[t] == np.mean(r_te**2 < p.eps)
        w = w - p.lr * (2 * sigma @ e + p.weight_decay * w)
    w = p.w0.copy()
    for _ in range(50):
        w = w - p.lr * (2 * sigma @ (w - p.w_star) + p.weight_decay * w)
    assert np.allclose(c.e_final, w - p.w_star, atol=1e-13)  # e_T after T = 50 updates


@pytest.mark.parametrize("wd", [0.0, 0.02])
def test_prediction_equals_float64_engine_step_for_step(tmp_path, wd):
    from grokscope.reproduce.common import train_or_reuse
    from grokscope.store.run import load_run

    cfg = _teacher_cfg(f"optim.weight_decay={wd}")
    path = train_or_reuse([cfg], [tmp_path / "run"])[0]
    run = load_run(path)
    pred = lt.predict(path)
    rows = run.rows()
    assert [r["step"] for r in rows] == list(range(61))
    c = pred.curves
    for key in ("train_loss", "test_loss"):
        got, want = np.array([r[key] for r in rows]), getattr(c, key)
        assert np.max(np.abs(got - want) / want) < 1e-9, key
    for key in ("train_acc", "test_acc"):
        assert np.array_equal(np.array([r[key] for r in rows]), getattr(c, key)), key
    w_final = run.params("final")["W_out"][0, :, 0].double().numpy()
    assert np.allclose(w_final, c.e_final + lt.problem(cfg).w_star, rtol=0, atol=1e-12)
    summary = run.summary
    assert (summary["t_train99"], summary["t_val99"]) == (pred.t_train99, pred.t_val99)
    # from the config alone (the seeded init) the prediction is the same
    assert np.array_equal(lt.predict(cfg).curves.test_acc, c.test_acc)


def test_prediction_on_a_sparse_evaluation_grid(tmp_path):
    """Evaluated every 7 steps the engine reports the first grid step past the crossing; on_grid says which."""
    from grokscope.reproduce.common import train_or_reuse
    from grokscope.store.run import load_run

    cfg = _teacher_cfg("train.eval_every=7", "train.steps=200", "train.checkpoint_every=200")
    path = train_or_reuse([cfg], [tmp_path / "run"])[0]
    run = load_run(path)
    pred = lt.predict(run)
    on_grid = pred.on_grid([r["step"] for r in run.rows()])
    assert on_grid == (run.summary["t_train99"], run.summary["t_val99"])
    assert on_grid[1] is not None and on_grid[1] % 7 == 0 and on_grid[1] >= pred.t_val99


def test_check_config_refuses_what_the_theory_does_not_cover():
    lt.check_config(_teacher_cfg())
    for bad in ("optim.momentum=0.9", "model.bias=true", "model.n_layers=1", "optim.name=adamw",
                "train.batch_size=8", "optim.warmup_steps=5", "train.out_scale=2"):
        with pytest.raises(ConfigError, match="linear theory"):
            lt.check_config(_teacher_cfg(bad))
    with pytest.raises(ConfigError, match="teacher"):
        lt.check_config(RunConfig())


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9, 1.5, 3.0])
def test_marchenko_pastur_density_mass_and_moments(lam):
    lo, hi = lt.mp_edges(lam)
    mass = integrate.quad(lambda s: float(lt.mp_density(s, lam)), lo, hi, limit=200)[0]
    assert mass == pytest.approx(min(1.0, 1.0 / lam), abs=1e-7)
    s, w = lt._mp_nodes(lam)
    assert w.sum() == pytest.approx(min(1.0, 1.0 / lam), abs=1e-12)
    # tr Σ / d = 1 and tr Σ² / d = 1 + λ (the atom at 0 adds nothing)
    assert (w * s).sum() == pytest.approx(1.0, abs=1e-12)
    assert (w * s * s).sum() == pytest.approx(1.0 + lam, abs=1e-12)


def test_mp_limit_matches_a_large_draw():
    """At d = 600, λ = 0.5: the spectrum's average of (1 − 2ηs)^{2t} (‖e_t‖² averaged over isotropic e_0)
    tracks the MP integral, and one draw's t_val99 (population) and train accuracy track the MP limit.
    (One draw's ‖e_t‖² itself strays by up to ±25% by t = 150 over rng seeds 0–3: late on only the few
    smallest modes carry it, so its projection of e_0 onto them is a χ² with few degrees of freedom.)"""
    d, lam, lr = 600, 0.5, 0.1
    rng = np.random.default_rng(0)
    p = lt.Problem(x_train=rng.standard_normal((int(d / lam), d)), x_test=rng.standard_normal((2, d)),
                   w_star=rng.standard_normal(d) / math.sqrt(d), w0=np.zeros(d), lr=lr, weight_decay=0.0, eps=1e-3)
    s = np.linalg.eigvalsh(p.x_train.T @ p.x_train / len(p.x_train))
    t = np.arange(0, 151, 10)
    spectral = np.mean((1 - 2 * lr * s[None, :]) ** (2 * t[:, None]), axis=1)  # E over e_0 of ‖e_t‖² / ‖e_0‖²
    mp = lt.mp_curves(lam, 1e-3, lr, 1.0, t)
    assert np.max(np.abs(spectral / mp.pop_test_loss - 1)) < 0.03  # 0.008 at most (t ≤ 150)
    assert np.max(np.abs(s.mean() - 1)) < 0.01
    c = lt.trajectory(p, 150)
    mp = lt.mp_curves(lam, 1e-3, lr, p.e0_sq, 150)
    assert np.max(np.abs(c.train_acc - mp.train_acc)) < 0.05  # 0.023: train residuals ~ N(0, eᵀΣe)
    t_val = lt.mp_times(lam, 1e-3, lr, p.e0_sq)[1]
    assert lt.first_crossing(c.pop_test_acc) == pytest.approx(t_val, rel=0.05)  # 123 vs 124


def test_mp_times_grokking_delay_grows_and_lambda_above_one_never_generalises():
    delays = []
    for lam in (0.25, 0.5, 0.75, 0.9):
        t_tr, t_val = lt.mp_times(lam, 1e-3, 0.1, 4 / 3)
        assert t_tr is not None and t_val is not None and t_val > t_tr
        # the first step where the MP accuracy reaches 0.99, found by brute force
        mp = lt.mp_curves(lam, 1e-3, 0.1, 4 / 3, t_val + 1)
        assert lt.first_crossing(mp.test_acc) == t_val and lt.first_crossing(mp.train_acc) == t_tr
        delays.append(t_val - t_tr)
    assert all(b > a for a, b in zip(delays, delays[1:]))
    t_tr, t_val = lt.mp_times(2.0, 1e-3, 0.1, 4 / 3)
    assert t_tr is not None and t_val is None  # fits the training set, never the test set
    with pytest.raises(ConfigError, match="diverges"):
        lt.mp_times(0.5, 1e-3, 0.5, 1.0)


def test_late_time_delay_formula_near_lambda_one():
    """With a tiny ε both crossings fall on the lower edge's exponential; the delay then approaches
    ln(1/s₋) / (−2 ln(1 − 2ηs₋)) (power-law corrections shrink as t grows)."""
    lam, lr = 0.9, 0.1
    t_tr, t_val = lt.mp_times(lam, 1e-12, lr, 1.0)
    assert (t_val - t_tr) == pytest.approx(lt.mp_late_delay(lam, lr), rel=0.15)
    assert math.isinf(lt.mp_late_delay(1.5, lr))
