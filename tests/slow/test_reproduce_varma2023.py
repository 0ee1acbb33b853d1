"""`grokscope reproduce varma2023 --quick` over replicates 0–2 (slow, ≈ 4–6 min beside other jobs, 55 s of
CPU): grokked models continued on a smaller nested training set ungrok, the same models continued on their
own training set (the control) do not, a from-scratch run near the critical size semi-groks, and the two
directions disagree (hysteresis).

One model per size per replicate (replicate s = init and data seed s); the three replicates' runs train as
one stack per size, from scratch and continued. Thresholds: measured on replicates 0–2 (one torch thread);
each comment gives min–max over the three and the margin left.
"""

import math

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow

CLAIMS = (
    "from scratch at the largest size (0.50) the model generalises (test acc ≥ 0.99)",
    "from scratch at the smallest size (0.20) the model memorises: train acc ≥ 0.99, test acc < 0.1",
    "semi-grokking: a size from scratch ends partial (test acc 0.2–0.9), its rise later than the largest size's",
    "ungrokking: grokked models continued on the smallest subset (0.10) fall to test acc < 0.1",
    "ungrokking: on the source's own held-out pairs the continued models fall below 0.1 as well",
    "control: continued on the same training set the grokked models keep test acc ≥ 0.99",
    "ungrokked models still fit their (smaller) training set (train acc ≥ 0.99)",
    "hysteresis: the ungrokking direction keeps test acc ≥ 0.7 at a smaller size than from scratch reaches it",
    "hysteresis: at some size the continued models beat the from-scratch ones by ≥ 0.2 test acc",
)


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return reproduce("varma2023", out=tmp_path_factory.mktemp("varma2023"), quick=True, seeds=3)


def test_varma2023_quick_every_claim_holds_on_every_seed(res):
    assert res.seeds == [0, 1, 2]
    for claim in CLAIMS:
        assert res.checks[claim], claim
    assert all(c.holds == 3 for c in res.claims), [(c.text, c.holds) for c in res.claims]


def test_varma2023_quick_numbers(res):
    for rep in res.replicates:
        d = rep.data
        scratch, ungrok, control = d["scratch_mean"], d["ungrok_mean"], d["control_mean"]
        # from scratch: memorisation at 0.2, generalisation at 0.5 (0–0.0004 and 0.995–0.998)
        assert scratch[0.2] < 0.1 and scratch[0.5] >= 0.98
        # semi-grokking at 0.3: partial (0.556–0.689), rising later than at 0.5 (800–950 vs 100 steps)
        assert 0.2 <= scratch[0.3] <= 0.9
        assert d["t_rise_partial"][0.3] > 4 * d["t_rise_source"]  # 8.0–9.5x; margin 4x
        # ungrokking: continued on 10% of the pairs, test accuracy falls to 0 (0–0.0003; it started at ≥ 0.99) ...
        assert ungrok[0.1] < 0.1
        # ... while the control, continued on its own 50%, keeps it (0.9965–0.9994)
        assert control[0.5] >= 0.98
        # the fall is not the held-out pairs' alone: on the source's own test pairs it is the same (0.0)
        assert d["ungrok_held_out_mean"][0.1] < 0.1
        # hysteresis: continued models beat from-scratch ones of the same size
        assert ungrok[0.2] - scratch[0.2] >= 0.2  # 0.419–0.439; margin 0.22
        assert ungrok[0.3] - scratch[0.3] >= 0.15  # 0.237–0.387; margin 0.087
        # ... so the ≥ 0.7 level is kept down to a smaller size than from scratch reaches it (0.3 vs 0.4)
        assert (d["threshold_ungrok"], d["threshold_scratch"]) == (0.3, 0.4)
        assert math.isfinite(d["threshold_ratio"])
    # the continuations of all three replicates trained as one call (by the first replicate)
    assert res.replicates[0].data["timing"]["ungrok_s"] > 10 * max(r.data["timing"]["ungrok_s"] for r in res.replicates[1:])
