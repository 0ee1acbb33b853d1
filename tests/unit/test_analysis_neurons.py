import numpy as np
import pytest
import torch

from grokscope.analysis.idealized import random_idealized
from grokscope.analysis.neurons import (
    _t_two_sided,
    analyze_neurons,
    circular_correlation,
    classify_neurons,
    dominant_frequency_phase,
    ipr,
    paired_t_test,
    periodicity_score,
    phase_sum_relation,
    square_vs_cosine,
)
from grokscope.config import ModelConfig

P = 97


def cosine(p, nu, phi, A=1.0):
    return A * np.cos(2 * np.pi * nu * np.arange(p) / p - phi)


def test_periodicity_score_cosine_and_square_at_97():
    c = cosine(P, 7, 0.3)
    assert periodicity_score(c) == pytest.approx((P - 1) / 2, rel=1e-9)
    assert periodicity_score(np.sign(c)) == pytest.approx(15.8, abs=0.1)
    noise = np.random.default_rng(0).normal(size=(200, P))
    assert periodicity_score(noise).max() < 5


def test_classify_neurons():
    kinds = classify_neurons(np.array([48, 15.8, 8, 2]))
    assert kinds.tolist() == ["structured", "structured", "intermediate", "unstructured"]


def test_ipr_conventions():
    c = cosine(31, 4, 1.0)
    assert ipr(c, "rfft") == pytest.approx(1.0)
    assert ipr(c, "full") == pytest.approx(0.5)
    noise = np.random.default_rng(0).normal(size=(500, 97))
    assert ipr(noise, "rfft").mean() < 0.1


def test_dominant_frequency_phase_recovers_planted():
    nu, phi, amp = dominant_frequency_phase(cosine(P, 11, 2.5, 0.45) + 0.2)
    assert (int(nu), phi, amp) == (11, pytest.approx(2.5), pytest.approx(0.45))
    W = np.stack([cosine(23, k, 0.1 * k) for k in (1, 2, 3)], axis=1)  # [p, 3]
    nus, phis, _ = dominant_frequency_phase(W, axis=0)
    assert nus.tolist() == [1, 2, 3]
    np.testing.assert_allclose(phis, [0.1, 0.2, 0.3])


def test_square_vs_cosine_distinguishes_shapes():
    c = cosine(P, 5, 1.0, 0.45)
    sq = square_vs_cosine(0.45 * np.sign(c))
    co = square_vs_cosine(c)
    assert sq["dist_square"] < 1e-12 < sq["dist_cosine"]
    assert co["dist_cosine"] < 1e-12 < co["dist_square"]
    assert sq["binariness"] == pytest.approx(1.0) and co["binariness"] < 0.8
    assert sq["level_hi"] == pytest.approx(0.45) and sq["level_lo"] == pytest.approx(-0.45)


def test_t_distribution_fallback():
    assert _t_two_sided(2.228, 10) == pytest.approx(0.05, abs=2e-4)
    assert _t_two_sided(0.0, 5) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    t, p, df = paired_t_test(x - 0.5, x + rng.normal(0, 0.1, 50))
    assert t < -20 and p < 1e-6 and df == 49


def test_phase_sum_planted_and_random():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 2 * np.pi, 300), rng.uniform(0, 2 * np.pi, 300)
    planted = phase_sum_relation(a, b, np.mod(a + b, 2 * np.pi), n_perm=200)
    assert planted["r"] == pytest.approx(1.0) and planted["R"] == pytest.approx(1.0)
    assert planted["p_perm"] <= 1 / 200
    rand = phase_sum_relation(a, b, rng.uniform(0, 2 * np.pi, 300), n_perm=200)
    assert abs(rand["r"]) < 0.2 and rand["R"] < 0.2 and rand["p_perm"] > 0.01
    assert circular_correlation(a, a) == pytest.approx(1.0)


def test_analyze_neurons_on_an_idealized_mlp():
    p, N = 23, 11
    cfg = ModelConfig(arch="mlp", d_mlp=N, bias=False)
    w = random_idealized(N, p, "cos_cos", seed=3)  # frequencies 1..11 (all distinct and non-zero)
    rep = analyze_neurons({k: torch.tensor(v) for k, v in w.items()}, cfg, p, n_perm=100)
    s = rep.summary
    assert s["n_structured"] == N and s["freq_agreement"] == 1.0
    assert s["phase_sum_r_structured"] == pytest.approx(1.0, abs=1e-9)
    assert s["sq_vs_cos_t_structured"] > 0  # cosines are nearer the cosine
    assert rep.table["nu_a"].tolist() == list(range(1, N + 1))
    # a sampled square wave's dominant-bin phase is slightly off φ at small p: r close to, not at, 1
    w = random_idealized(N, p, "sq_cos", seed=3)
    s = analyze_neurons({k: torch.tensor(v) for k, v in w.items()}, cfg, p, n_perm=100).summary
    assert s["phase_sum_r_structured"] > 0.95 and s["sq_vs_cos_t_structured"] < 0
