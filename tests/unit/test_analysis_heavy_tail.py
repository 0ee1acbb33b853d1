"""The heavy-tail exponent α (weightwatcher) on matrices whose spectrum is known."""

import sys

import numpy as np
import pytest

from grokscope.analysis.fourier import AnalysisError


def _power_law_matrix(n: int, m: int, gamma: float) -> np.ndarray:
    """[n, m] with singular values σ_i = i^(−γ), i = 1..min(n, m) (α reads the spectrum only, so
    the singular vectors may as well be the unit vectors)."""
    w = np.zeros((n, m))
    k = min(n, m)
    w[np.arange(k), np.arange(k)] = np.arange(1, k + 1) ** (-gamma)
    return w


@pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0])
def test_power_law_singular_values_give_alpha_one_plus_one_over_two_gamma(gamma):
    # λ_i = σ_i² ∝ i^(−2γ): N(λ' ≥ λ) ∝ λ^(−1/(2γ)), density ∝ λ^(−1 − 1/(2γ)), so α = 1 + 1/(2γ).
    # Measured with weightwatcher 0.7.7 on 512×256: 3.029, 2.015, 1.507 
    from grokscope.analysis.heavy_tail import layer_alphas

    pytest.importorskip("weightwatcher", reason="the field extra (weightwatcher) is not installed")
    alpha = layer_alphas({"w": _power_law_matrix(512, 256, gamma)})["w"]
    assert alpha == pytest.approx(1 + 1 / (2 * gamma), abs=0.05)


def test_gaussian_matrix_has_no_heavy_tail():
    # Marchenko–Pastur bulk: a large α (measured 5.0–30 over seeds 0–4 at 512×256), against the
    # heavy-tailed control of the same shape (α = 2) in the same test
    from grokscope.analysis.heavy_tail import layer_alphas

    pytest.importorskip("weightwatcher", reason="the field extra (weightwatcher) is not installed")
    gauss = [layer_alphas({"w": np.random.default_rng(s).standard_normal((512, 256))})["w"] for s in range(3)]
    heavy = layer_alphas({"w": _power_law_matrix(512, 256, 0.5)})["w"]
    assert min(gauss) > 4.0
    assert heavy < 2.5


def test_small_matrices_are_skipped_and_vectors_ignored():
    from grokscope.analysis.heavy_tail import layer_alphas

    pytest.importorskip("weightwatcher", reason="the field extra (weightwatcher) is not installed")
    out = layer_alphas({"tall": np.random.default_rng(0).standard_normal((64, 7)), "bias": np.ones(5),
                        "ok": _power_law_matrix(64, 32, 0.5)})
    assert set(out) == {"tall", "ok"}  # 1-D parameters have no spectrum
    assert np.isnan(out["tall"])  # 7 eigenvalues < weightwatcher's 8
    assert out["ok"] == pytest.approx(2.0, abs=0.1)


def test_missing_weightwatcher_is_one_line(monkeypatch):
    from grokscope.analysis.heavy_tail import layer_alphas

    monkeypatch.setitem(sys.modules, "weightwatcher", None)  # import weightwatcher -> ImportError
    with pytest.raises(AnalysisError, match=r"^measure 'alpha' needs weightwatcher: pip install 'grokscope\[field\]'$"):
        layer_alphas({"w": np.eye(16)})
