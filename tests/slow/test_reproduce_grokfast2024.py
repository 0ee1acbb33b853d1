"""`grokscope reproduce grokfast2024 --quick --seeds 3` (slow): the Grokfast claims at p = 31 over three
replicates trained as one ensemble stack — the published recipes against the published baseline and against
their paired controls (the same Adam with the method's weight decay and no filter), the lr normalisation
(1 + λ) under Adam and under SGD, and Grokfast-EMA from our tuned base.

Every claim the quick form marks ✓ over the three seeds is asserted (VERIFIED); the numbers'
thresholds are set from the measured spread over seeds 0, 1, 2 (docs/papers/grokfast2024.md), with the
margins said beside them.
"""

import math

import pytest

from grokscope.reproduce import reproduce

# the claims that held in all three seeds of the measured run (seeds 0, 1, 2; one thread beside other jobs)
VERIFIED = [
    "Grokfast-MA (published recipe) reaches 95% val before the published baseline (Adam, wd 0)",
    "the published baseline (Adam, wd 0) does not reach 95% val within the budget",
    "control: the same Adam with weight decay (0.005, lr 3e-3) and no filter reaches 95% val within the budget",
    "Grokfast-MA reaches 95% val before the same Adam with its weight decay and no filter",
    "Grokfast-EMA's training state is about the baseline's, Grokfast-MA's grows with its window (w 100)",
]
# ✓ where tested, but tested in one seed only (in the others neither arm reached 95% within 3k steps, so the
# budget cannot tell): never ✗, and not required to be tested
NEVER_FALSE = [
    "Grokfast-EMA (published recipe) reaches 95% val before the published baseline (Adam, wd 0)",
    "the EMA speed-up shrinks against the tuned baseline (the fastest Adam/AdamW without the filter)",
]


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return reproduce("grokfast2024", out=tmp_path_factory.mktemp("grokfast2024"), quick=True, seeds=3)


def check(res) -> None:
    """The assertions, as a function so that they can be read against a finished run's Result too."""
    for text in VERIFIED:
        assert res.checks[text], text
    for text in NEVER_FALSE:
        assert res.checks.get(text, True), text
    per_seed = [r.data for r in res.replicates]
    assert len(per_seed) == 3
    for d in per_seed:
        t = d["t_val95"]
        # the tuned baseline is one of its candidates, so never slower than the published baseline
        assert (t[d["tuned_baseline"]] or math.inf) <= (t["baseline"] or math.inf)
        # Grokfast-MA: 775 / 700 / 581 measured; 1,200 leaves ~1.5x
        assert t["ma"] is not None and t["ma"] <= 1200
        # the control that groks (Adam wd 0.005 at lr 3e-3): 850 / 713 / 750 measured; 1,300 leaves ~1.5x
        assert t["adam_lr3e-3_wd0.005"] is not None and t["adam_lr3e-3_wd0.005"] <= 1300
        # the published baseline stays far from 95%: final val accuracy 0.14 / 0.08 / 0.15 (chance 1/31)
        assert d["final_test_acc"]["baseline"] < 0.3
        # MA over its weight-decay-matched control (Adam wd 0.01, no filter): x2.5 / x4.2 / x2.5 measured
        assert t["adam_wd0.01"] is None or t["adam_wd0.01"] >= 1.5 * t["ma"]


@pytest.mark.slow
def test_grokfast2024_quick_claims_over_three_seeds(res):
    check(res)
