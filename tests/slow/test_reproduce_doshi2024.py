"""`grokscope reproduce doshi2024 --quick`: coexistence vs inversion and IPR pruning (~60 s).

Thresholds come from the quick reproduction on replicates seed = 0–4 (init and data seeds
shifted; AVX2, one torch thread); each comment gives min–max over those runs and the margin left.
"""

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_doshi2024_quick_coexistence_inversion_and_pruning(tmp_path):
    res = reproduce("doshi2024", out=tmp_path, quick=True)
    runs = {(d["xi"], d["weight_decay"]): d for d in res.data["runs"]}
    coex, inv = runs[(0.1, 0.0)], runs[(0.1, 5.0)]
    # no weight decay: memorises the noise and generalises
    assert coex["test_acc"] >= 0.9  # 0.937–0.968; margin 0.037
    assert coex["corrupted_acc"] >= 0.9  # 0.994–1.0; margin 0.094
    # weight decay: the noise is ignored
    assert inv["test_acc"] >= 0.9 and inv["corrupted_acc"] <= 0.1  # 1.0 on all; 0.011–0.034, margin 0.066
    # grok first, then unlearn: train acc was 1.0 (all replicates), ends ≈ 1 − ξ (drop 0.097–0.099)
    assert inv["max_train_acc"] >= 0.99 and inv["max_train_acc"] - inv["train_acc"] > 0.05  # margin 0.047
    ps = res.data["pruning_summary"]
    assert ps["low_corrupted_min"] <= 0.1  # 0.011–0.023; margin 0.077
    assert ps["low_test_there"] >= 0.9  # 0.997–1.0
    # the paper's "≈ 0": 0.063–0.093 here, so ≤ 0.1 had a margin of 0.007; 0.15 leaves 0.057
    assert ps["high_test_at_30"] <= 0.15
    assert ps["random_corrupted_there"] > ps["low_corrupted_min"] + 0.1  # difference 0.21–0.42; margin 0.11
    curve = coex["pruning"]["low_ipr"]
    assert curve[0]["n_pruned"] == 0 and curve[-1]["test_acc"] < 0.2  # pruning everything: 0.017–0.020
    assert all(res.checks.values()), res.checks
    assert (tmp_path / "reproduce.json").exists()
