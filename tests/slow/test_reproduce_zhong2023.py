"""`grokscope reproduce zhong2023 --quick`: clock vs pizza separated by gradient symmetricity (~40 s).

Thresholds come from the quick reproduction on replicates seed = 0–4 (each 2 clock + 2 pizza
models; AVX2, one torch thread) and seed 0 with ATEN_CPU_CAPABILITY=default (no SIMD); each
comment gives min–max over those six runs and the margin left.
"""

import numpy as np
import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_zhong2023_quick_separates_clock_and_pizza(tmp_path):
    res = reproduce("zhong2023", out=tmp_path, quick=True)
    clock, pizza = res.data["clock"], res.data["pizza"]
    assert all(m["final_test_acc"] >= 0.9 for m in clock + pizza)  # 0.943–1.0; margin 0.043
    gs = {k: np.mean([m["gradient_symmetricity"] for m in v]) for k, v in res.data.items()}
    # uniform attention makes the pizza's symmetricity 1 exactly (see test_analysis_algorithms)
    assert gs["pizza"] > 0.9  # 1.0 on all 6
    assert gs["clock"] < 0.6  # mean of 2: 0.043–0.405; margin 0.195
    # Not asserted: "clock has higher distance irrelevance than pizza". The quick models' DI
    # difference (clock − pizza, means of 2) is 0.29, −0.16, 0.34, 0.27, 0.07 on replicates 0–4 and
    # 0.01 for seed 0 without SIMD — one run reverses it and two barely hold, so a single quick
    # run cannot carry that claim (the module still reports it as a check)
    di = {k: [m["distance_irrelevance"] for m in v] for k, v in res.data.items()}
    assert all(0 <= d <= 1.5 for v in di.values() for d in v)  # a ratio of standard deviations
    # families (classify_run): uniform attention has symmetricity 1, so a rate-0 model is never a clock
    assert all(m["family"] in ("pizza", "other") for m in pizza)
    assert all(m["family"] in ("clock", "pizza", "other", "none") for m in clock)
    assert (tmp_path / "reproduce.json").exists()
