"""`grokscope reproduce levi2023 --quick` over replicates 0–2 (slow, ≈ 2 min beside other jobs, 30 s of CPU):
a linear student groks a linear Gaussian teacher at λ = d_in / n_train < 1 with a delay that grows as
λ → 1, the λ = 2 control in the same run never generalises, and the spectral prediction made before
training gives every measured t_train99 / t_val99 to the step.

One model per λ per replicate (replicate s = data and init seed s); the three replicates' runs train as
one stack per λ. Thresholds: measured on replicates 0–2 (one torch thread, float64); each comment gives
min–max over the three and the margin left.
"""

import math

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow

CLAIMS = (
    "every λ < 1 run groks: 99% test accuracy after 99% train accuracy",
    "λ > 1 control, same run: train accuracy reaches 99% but test accuracy stays below 0.5",
    "the grokking delay Δt grows as λ → 1 (strictly, over the λ < 1 settings)",
    "t_val99 / t_train99 grows as λ → 1",
    "the exact spectral prediction, made before training, gives every measured t_train99 and t_val99 to the step",
    "the Marchenko–Pastur limit gives t_val99 within 20% at every λ < 1",
    "no jump in the loss at grokking: the measured test loss of every λ < 1 run never rises",
)


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return reproduce("levi2023", out=tmp_path_factory.mktemp("levi2023"), quick=True, seeds=3)


def test_levi2023_quick_every_claim_holds_on_every_seed(res):
    assert res.seeds == [0, 1, 2]
    for claim in CLAIMS:
        assert res.checks[claim], claim
    assert all(c.holds == 3 for c in res.claims), [(c.text, c.holds) for c in res.claims]


def test_levi2023_quick_predicted_times_and_the_control(res):
    for rep in res.replicates:
        by_lam = {d["lam"]: d for d in rep.data["lambdas"]}
        assert set(by_lam) == {0.25, 0.5, 0.75, 2.0}
        for d in by_lam.values():
            (r,) = d["seeds"]
            # float64 engine vs the eigen-solution: equal events, equal accuracies at every step
            assert (r["t_train99"], r["t_val99"]) == (r["pred_t_train99"], r["pred_t_val99"])
            assert r["max_abs_diff_train_acc"] == 0 and r["max_abs_diff_test_acc"] == 0
            assert r["max_rel_diff_test_loss"] < 1e-9  # at most 1.5e-13
        delay = {lam: by_lam[lam]["mean_delta_t"] for lam in (0.25, 0.5, 0.75)}
        # the delay grows as λ → 1, by a wide factor: 9, 36–44, 245–309 steps
        assert delay[0.5] > 2 * delay[0.25] and delay[0.75] > 3 * delay[0.5]  # ratios 4.0–4.9 and 5.8–7.2
        for lam in (0.25, 0.5, 0.75):
            # the Marchenko–Pastur limit against one seed's measured t_val99: |error| 0–0.076; margin 0.12
            assert abs(by_lam[lam]["mp_rel_err_t_val99"]) < 0.2
        (c,) = by_lam[2.0]["seeds"]  # the control: fits the training set, never the test set
        assert c["final_train_acc"] == 1.0 and c["t_val99"] is None
        assert c["final_test_acc"] < 0.1  # 0.0315–0.036
        # and the plateau is the one the null space of Σ predicts
        assert math.isclose(c["final_test_acc"], c["pred_final_test_acc"], abs_tol=1e-12)
    # the figure is drawn once, by the first replicate
    assert [r.data.get("figure") for r in res.replicates] == ["levi2023_curves.png", None, None]
