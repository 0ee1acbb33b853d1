"""`grokscope reproduce doshi2024 --quick`: coexistence vs inversion and IPR pruning (~60 s)."""

from grokscope.reproduce import reproduce


def test_doshi2024_quick_coexistence_inversion_and_pruning(tmp_path):
    res = reproduce("doshi2024", out=tmp_path, quick=True)
    runs = {(d["xi"], d["weight_decay"]): d for d in res.data["runs"]}
    coex, inv = runs[(0.1, 0.0)], runs[(0.1, 5.0)]
    assert coex["test_acc"] >= 0.9 and coex["corrupted_acc"] >= 0.9  # memorises the noise and generalises
    assert inv["test_acc"] >= 0.9 and inv["corrupted_acc"] <= 0.1  # weight decay: the noise is ignored
    assert inv["max_train_acc"] >= 0.99 > inv["train_acc"] + 0.05  # grok first, then unlearn
    ps = res.data["pruning_summary"]
    assert ps["low_corrupted_min"] <= 0.1 and ps["low_test_there"] >= 0.9
    assert ps["high_test_at_30"] <= 0.1
    assert ps["random_corrupted_there"] > ps["low_corrupted_min"]
    curve = coex["pruning"]["low_ipr"]
    assert curve[0]["n_pruned"] == 0 and curve[-1]["test_acc"] < 0.2  # pruning everything leaves nothing
    assert all(res.checks.values()), res.checks
    assert (tmp_path / "reproduce.json").exists()
