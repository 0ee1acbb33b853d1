"""`grokscope reproduce zhong2023 --quick`: clock vs pizza separated by the two measures (~60 s)."""

import numpy as np

from grokscope.reproduce import reproduce


def test_zhong2023_quick_separates_clock_and_pizza(tmp_path):
    res = reproduce("zhong2023", out=tmp_path, quick=True)
    clock, pizza = res.data["clock"], res.data["pizza"]
    assert all(m["final_test_acc"] >= 0.9 for m in clock + pizza)
    gs = {k: np.mean([m["gradient_symmetricity"] for m in v]) for k, v in res.data.items()}
    di = {k: np.mean([m["distance_irrelevance"] for m in v]) for k, v in res.data.items()}
    assert gs["pizza"] > 0.9 > gs["clock"] + 0.3  # pizza ≈ 1, clock far lower
    assert di["clock"] > di["pizza"]
    assert (tmp_path / "reproduce.json").exists()
