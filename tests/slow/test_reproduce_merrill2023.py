"""`grokscope reproduce merrill2023 --quick`: sparse parity (40, 3) at the paper's size groks, with
hidden progress in the weights, and the weight-decay-0 control does not (~1 min of CPU on one thread).

Thresholds come from the quick reproduction on replicates seed = 0, 1, 2 (3 models each: 9 models;
one torch thread, AVX2). Each comment gives min–max over those 9 models and the margin left to the
worst one. Every model is the paper's size: nothing here is scaled down but the number of seeds and
the control's budget.
"""

import json

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_merrill2023_quick_claims(tmp_path):
    res = reproduce("merrill2023", out=tmp_path, quick=True)
    main, wd0 = res.data["main"], res.data["wd0"]
    assert len(main) == 3 and len(wd0) == 3
    # every seed groks, long after it memorised
    for d in main:
        assert d["t_val99"] is not None and d["t_val99"] <= 12000  # 4,750–6,900; margin 5,100
        assert d["t_val99"] >= 3 * d["t_train99"]  # ratio 5.6–8.8; margin 1.9x
        # abrupt: 60% → 95% test accuracy in under half of t_val99
        assert d["width_rel"] <= 0.45  # 0.20–0.32; margin 0.13
        # hidden progress, read at the last evaluated checkpoint with test accuracy still < 55%
        assert d["hidden"]["test_acc"] < 0.55
        assert d["dist_frac_hidden"] >= 0.8  # 0.911–0.948; margin 0.11
        assert d["top_rest_growth_hidden"] >= 2.5  # 4.11–5.78; margin 1.6
        assert d["lead_steps"] >= 800  # 1,750–3,100 steps before test acc reaches 60%; margin 950
        # the sparse subnetwork at grokking: relevant bits dominate, a few neurons hold the norm
        assert d["final"]["rel_enrichment"] >= 5  # 6.7–7.9 (1 = random); margin 1.7
        assert d["final"]["top_norm_share"] >= 15 * d["init"]["top_norm_share"]  # 37–45x; margin 2.5x
    # the control in the same run: weight decay 0 memorises but stays at chance for the whole budget
    budget = res.data["budgets"]["control"]
    assert budget >= 4 * max(d["t_val99"] for d in main)
    for d in wd0:
        assert d["t_val99"] is None and d["t_train99"] is not None
        assert d["best_test_acc"] < 0.6  # 0.515–0.530 (max over ~100 evaluations of 1,000 strings); margin 0.07
        assert d["final"]["top_rest_ratio"] < 4  # 2.16–2.47 (the main runs: 6.8–9.3 before the jump)
    # scaling in n at k = 3, N = 1000: median t_val99 rises with n
    t = {n: sorted(d["t_val99"] for d in res.data[arm]) for n, arm in ((20, "n20"), (30, "n30"), (40, "main"))}
    assert t[20][1] < t[30][1] < t[40][1]  # medians 1,000–1,157 < 2,450 < 5,300–6,600
    assert t[40][1] >= 1.5 * t[30][1]  # ratio 2.2–2.7
    assert all(res.checks.values()), res.checks

    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == "merrill2023" and doc["quick"]
    assert (tmp_path / "hidden_progress.png").stat().st_size > 0
