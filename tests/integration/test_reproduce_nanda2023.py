"""`grokscope reproduce nanda2023 --quick`: a tiny transformer groks with wd 1, not with wd 0 (~30 s)."""

import json

from grokscope.reproduce import reproduce


def test_nanda2023_quick_claims(tmp_path):
    res = reproduce("nanda2023", out=tmp_path, quick=True)
    main, nowd = res.data["wd_1"], res.data["wd_0"]
    assert main["final_test_acc"] >= 0.99 and main["t_val99"] > 3 * main["t_train99"]
    assert nowd["t_val99"] is None and nowd["final_test_acc"] < 0.9  # wd 0: no grokking in the budget
    # progress measures move the paper's way after memorisation
    assert main["restricted_loss_test_final"] < 0.1 * main["restricted_loss_test_at_mem"]
    assert main["gini_W_L_final"] > main["gini_W_L_at_mem"] + 0.2
    assert main["sum_sq_final"] < main["sum_sq_at_mem"]
    assert 1 <= main["n_keys"] <= 6
    assert main["t_mem_end"] is not None and main["t_cleanup"] is not None and main["t_mem_end"] <= main["t_cleanup"]
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == "nanda2023" and len(doc["rows"]) >= 10
