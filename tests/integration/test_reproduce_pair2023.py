"""`grokscope reproduce pair2023 --quick`: a 16-model sweep of the PAIR model, phases and IPR (~60 s)."""

from grokscope.reproduce import reproduce


def test_pair2023_quick_contingency_and_periodic_neurons(tmp_path):
    res = reproduce("pair2023", out=tmp_path, quick=True)
    d = res.data
    assert d["n_runs"] == d["finished"] == 16
    assert sum(sum(v.values()) for v in d["phases_by_width"].values()) == 16
    assert d["share_by_width"][96.0] > d["share_by_width"][16.0]
    assert d["share_by_wd"][0.0] == 0.0 < d["share_by_wd"][0.3]
    assert d["median_ipr_wd_pos"] > d["median_ipr_wd0"]
    assert d["figures"] and all((tmp_path / "sweep" / name.split("/")[-1]).exists() for name in d["figures"])
    assert all(res.checks.values()), res.checks
