"""`grokscope reproduce power2022 --quick` (slow, ~2–3 min): memorise first, more data → sooner."""

import pytest

from grokscope.reproduce import reproduce


@pytest.mark.slow
def test_power2022_quick_time_to_generalise(tmp_path):
    res = reproduce("power2022", out=tmp_path, quick=True)
    ops, fracs = res.data["ops"], res.data["fracs"]
    for d in ops.values():
        assert d["t_train99"] is not None and d["t_train99"] < 500  # memorised early
    assert ops["add"]["t_val99"] > 3 * ops["add"]["t_train99"]  # generalised much later
    assert fracs[0.3]["t_val99"] is None or fracs[0.3]["t_val99"] > fracs[0.5]["t_val99"]
    assert fracs[0.7]["t_val99"] is not None and fracs[0.7]["t_val99"] < fracs[0.5]["t_val99"]
    assert all(res.checks.values()), res.checks
