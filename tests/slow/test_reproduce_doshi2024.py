"""`grokscope reproduce doshi2024 --quick` over replicates 0–2 (slow): coexistence vs inversion and IPR pruning.

The three replicates' runs (4 per replicate: ξ ∈ {0.1, 0.3} × wd ∈ {0, 5}) train as one stack. Thresholds:
measured on replicates 0–2 (init and data seeds shifted; one torch thread, beside other jobs); each comment
gives min–max over the three and the margin left.
"""

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow

HOLDS = (  # every claim of the quick form: each held on all three replicates
    "without weight decay at ξ = 0.1 the network still generalises (test acc ≥ 0.9)",  # 0.950–0.964
    "without weight decay at ξ = 0.1 it memorises the corrupted labels (≥ 90% fit): coexistence",  # 1.0
    # corrupted fit 0.012–0.035 (test 1.0); its control: the wd-0 model above memorises them
    "weight decay at ξ = 0.1 ignores the corrupted labels (≤ 10% fit) and generalises (test ≥ 0.9): inversion",
    # train acc 1.0 -> 0.901–0.903: a fall of 0.097–0.099 (≥ 0.05 asked)
    "with weight decay, train acc first reaches ≥ 0.99 then falls towards 1 − ξ (grok, then unlearn; a fall ≥ ξ/2 = 0.05)",
    "without weight decay the largest ξ (0.3) does not generalise (test < 0.9): memorisation",  # 0.333–0.664
    "control: with weight decay the same ξ (0.3) generalises (test ≥ 0.9)",  # 0.995–0.999
    # min(share IPR ≥ 0.5, share IPR < 0.2) 0.352–0.387
    "the coexistence model's neuron IPR is bimodal: ≥ 20% of neurons periodic (IPR ≥ 0.5) and ≥ 20% not "
    "(IPR < 0.2), ξ = 0.1, wd 0",
    "weight decay removes the low-IPR (memorising) neurons: < 5% of neurons at IPR < 0.2, ξ = 0.1",  # 0.020–0.027
    # 0.012–0.017 left at 60–65% pruned, test 0.994–1.0
    "pruning low-IPR neurons first removes the memorised corrupted labels (≤ 10% left) while test acc stays ≥ 0.9",
    # random − low-IPR 0.21–0.33
    "control (ours): pruning in a random order at the same count leaves ≥ 0.1 more corrupted labels fit",
    "pruning 30% of the neurons highest IPR first destroys test accuracy (≤ 0.15)",  # 0.072–0.081
    "control: pruning the same share (30%) lowest IPR first keeps test acc ≥ 0.9",  # 0.950–0.954
)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("doshi2024")


@pytest.fixture(scope="module")
def res(out):
    return reproduce("doshi2024", out=out, quick=True, seeds=3)


def test_doshi2024_quick_claims_hold_on_every_seed(res):
    for claim in HOLDS:
        assert res.checks[claim], claim
    assert set(res.checks) == set(HOLDS) and res.seeds == [0, 1, 2]


def test_doshi2024_quick_numbers_on_every_replicate(res, out):
    for r in res.replicates:
        runs = {(d["xi"], d["weight_decay"]): d for d in r.data["runs"]}
        coex, inv = runs[(0.1, 0.0)], runs[(0.1, 5.0)]
        assert coex["test_acc"] >= 0.92  # 0.950–0.964; margin 0.03
        assert inv["test_acc"] >= 0.99 and inv["corrupted_acc"] <= 0.07  # 1.0; 0.012–0.035, margin 0.035
        assert abs(inv["train_acc"] - 0.9) < 0.02  # ends at ≈ 1 − ξ: 0.901–0.903
        assert runs[(0.3, 0.0)]["test_acc"] < 0.8  # 0.333–0.664; margin 0.14
        ps = r.data["pruning_summary"]
        assert ps["low_corrupted_min"] <= 0.05 and ps["low_test_there"] >= 0.95  # 0.012–0.017; 0.994–1.0
        assert ps["high_test_at_30"] <= 0.12  # 0.072–0.081; margin 0.04
        curve = coex["pruning"]["low_ipr"]
        assert curve[0]["n_pruned"] == 0 and curve[-1]["test_acc"] < 0.2  # pruning everything leaves chance
    assert (out / "reproduce.json").exists()
