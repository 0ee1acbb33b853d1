"""`grokscope reproduce grokfast2024 --quick` (slow, several minutes on one thread): the
Grokfast claims at p = 31 against the published and the tuned baseline.

Measured once (seed 0, one torch thread; no replicates were affordable, so the assertions are the
orderings with wide margins, not tight thresholds). Iterations to 95% val, seed 0: published Adam
baseline (wd 0) never within 3,000; Grokfast-EMA (wd 0.005) never; Grokfast-MA (wd 0.01) 775; the
tuned baseline Adam lr 3e-3 wd 0.005 850; Adam wd 0.005 / 0.01 without a filter 2,525 / 1,900; AdamW
wd 1 lr 1e-3 / 3e-3 2,600 / 950 (docs/compare.md).
"""

import math

import pytest

from grokscope.reproduce import reproduce


@pytest.mark.slow
def test_grokfast2024_quick_orderings(tmp_path):
    res = reproduce("grokfast2024", out=tmp_path, quick=True)
    med, budget = res.data["median"], res.data["budget"]
    tuned = res.data["tuned_baseline"]
    # the tuned baseline is never slower than the published one (it is one of its candidates)
    assert med[tuned] <= med["baseline"]
    # some tuned candidate reaches 95% val inside the 3k budget (seed 0: 850 of 3,000)
    assert math.isfinite(med[tuned]) and med[tuned] < budget
    # Grokfast-MA beats the published baseline (seed 0: 775 vs never within 3,000)
    assert med["ma"] < med["baseline"]
    # the speed-up against the tuned baseline is never larger than against the published one
    assert res.checks["the EMA speed-up shrinks against the tuned baseline"]
