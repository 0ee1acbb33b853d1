"""`grokscope reproduce nanda2023 --quick`: a tiny transformer groks with wd 1, not with wd 0 (~30 s).

Thresholds come from the quick reproduction on replicates seed = 0–4 (init and data seeds shifted;
AVX2, one torch thread); each comment gives min–max over those five runs and the margin left.
Replicate 1 is a slow grokker (test acc 0.855 at the 2,000-step budget, 0.956 at 5,000), so
"reaches 99%" is not a claim one quick run can promise; what every replicate shows is asserted.
"""

import json

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_nanda2023_quick_claims(tmp_path):
    res = reproduce("nanda2023", out=tmp_path, quick=True)
    main, nowd = res.data["wd_1"], res.data["wd_0"]
    # weight decay is what generalises: wd 1 ends far above wd 0, which never reaches 99%
    assert main["final_test_acc"] >= 0.75  # 0.855–1.0 (1.0 on 4 of 5); margin 0.1
    assert main["final_test_acc"] - nowd["final_test_acc"] >= 0.15  # 0.29–0.42; margin 0.14
    assert nowd["t_val99"] is None and nowd["final_test_acc"] < 0.85  # never; 0.52–0.71, margin 0.14
    # when wd 1 reaches 99% it is long after memorisation (t_train99 = 73 on all 5)
    assert main["t_val99"] is None or main["t_val99"] > 3 * main["t_train99"]  # ratio 7.0–16.4; margin 2.3x
    # progress measures move the paper's way after memorisation
    assert main["restricted_loss_test_final"] < 1e-3 * main["restricted_loss_test_at_mem"]  # ratio ≤ 6.4e-7
    assert main["gini_W_L_final"] > main["gini_W_L_at_mem"] + 0.15  # rise 0.227–0.488; margin 0.077
    assert main["sum_sq_final"] < 0.75 * main["sum_sq_at_mem"]  # ratio 0.39–0.56; margin 0.19
    assert 1 <= main["n_keys"] <= 8  # 2–6 of the 11 frequencies at p = 23
    # the phases are the paper's rules (analysis.phases.nanda_phases) on `grokscope analyze`'s series
    # with the final keys held fixed; at this scale (70% data) the model generalises while it
    # memorises (test acc 0.72 at step 100 on replicate 0), so memorisation's end is found but
    # no circuit-formation phase: the boundaries are a full-scale claim (docs/papers/nanda2023.md)
    assert main["t_mem_end"] is not None and main["t_mem_end"] <= main["t_train99"]  # 0 ≤ 73 (replicate 0 only)
    keys = ",".join(map(str, main["key_freqs"]))
    assert {r["step"] for r in main["series"]} and main["phase_rules"]["window"] == 100
    table = __import__("pandas").read_parquet(tmp_path / "runs/wd_1/analysis.parquet")
    assert set(table["key_freqs"]) == {keys}  # one set of key frequencies at every checkpoint
    # not asserted: "excluded loss rises ≥ 2x" (final/at-mem 0.81–2.06 with the old at-mem step)
    # and a circuit-formation onset — the quick model does not show them
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == "nanda2023" and len(doc["rows"]) >= 10
