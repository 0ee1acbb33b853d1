"""`grokscope reproduce levi2023 --quick` (slow, 14–21 s on one thread): a linear student groks a linear
Gaussian teacher at λ = d_in / n_train < 1 with a delay that grows as λ → 1, the λ = 2 control in the
same run never generalises, and the spectral prediction made before training gives every measured
t_train99 / t_val99 to the step.

Thresholds come from the quick reproduction on replicates seed = 0–4 (each a disjoint set of 3 data
and init seeds, 15 per λ in all; one torch thread); each comment gives min–max over those runs.
"""

import math

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_levi2023_quick_claims_and_predicted_times(tmp_path):
    res = reproduce("levi2023", out=tmp_path, quick=True)
    assert all(res.checks.values()), res.checks
    by_lam = {d["lam"]: d for d in res.data["lambdas"]}
    assert set(by_lam) == {0.25, 0.5, 0.75, 2.0}
    runs = [r for d in by_lam.values() for r in d["seeds"]]
    for r in runs:
        # float64 engine vs the eigen-solution: equal events, equal accuracies at every step
        assert (r["t_train99"], r["t_val99"]) == (r["pred_t_train99"], r["pred_t_val99"])
        assert r["max_abs_diff_train_acc"] == 0 and r["max_abs_diff_test_acc"] == 0
        assert r["max_rel_diff_test_loss"] < 1e-9  # at most 1.5e-12
    delay = {lam: by_lam[lam]["mean_delta_t"] for lam in (0.25, 0.5, 0.75)}
    # the delay grows as λ → 1, by a wide factor: 8.0–9.3, 40.3–51.0, 271–322 steps
    assert delay[0.5] > 2 * delay[0.25] and delay[0.75] > 3 * delay[0.5]  # ratios ≥ 4.3 and ≥ 5.3
    for lam in (0.25, 0.5, 0.75):
        # the Marchenko–Pastur limit against the mean measured t_val99 of 3 seeds: |error| 0–0.099
        assert abs(by_lam[lam]["mp_rel_err_t_val99"]) < 0.2
    for r in by_lam[2.0]["seeds"]:  # the control: fits the training set, never the test set
        assert r["final_train_acc"] == 1.0 and r["t_val99"] is None
        assert r["final_test_acc"] < 0.1  # 0.0315–0.036
        # and the plateau is the one the null space of Σ predicts
        assert math.isclose(r["final_test_acc"], r["pred_final_test_acc"], abs_tol=1e-12)
    assert (tmp_path / "reproduce.json").exists() and (tmp_path / "levi2023_curves.png").exists()
