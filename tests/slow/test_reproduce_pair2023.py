"""`grokscope reproduce pair2023 --quick`: a 16-model sweep of the PAIR model, phases and IPR (~30 s).

Thresholds come from the quick reproduction on replicates seed = 0–4 (the sweep's seed axis
shifted; AVX2, one torch thread). Shares are over 8 runs per width / weight decay.
"""

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_pair2023_quick_contingency_and_periodic_neurons(tmp_path):
    res = reproduce("pair2023", out=tmp_path, quick=True)
    d = res.data
    assert d["n_runs"] == d["finished"] == 16
    assert sum(sum(v.values()) for v in d["phases_by_width"].values()) == 16
    # width 96 vs 16: 0.25 vs 0.0 on every replicate (2 of 8 runs vs none)
    assert d["share_by_width"][96.0] > d["share_by_width"][16.0]
    # wd 0: 0 of 8 generalise on every replicate; wd 0.3: 2 of 8
    assert d["share_by_wd"][0.0] == 0.0 < d["share_by_wd"][0.3]
    # median mean-neuron IPR, wd > 0 minus wd 0: 0.099–0.124; margin 0.049
    assert d["median_ipr_wd_pos"] > d["median_ipr_wd0"] + 0.05
    assert d["figures"] and all((tmp_path / "sweep" / name.split("/")[-1]).exists() for name in d["figures"])
    assert all(res.checks.values()), res.checks  # all six hold on every replicate
