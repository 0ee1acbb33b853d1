"""The PAIR notebook's truncated init (model.init = "truncated") and the clock / pizza / other / none
families of trained runs (`classify_run`, `family_shares`)."""

import math

import pytest
import torch

from grokscope.analysis.algorithms import classify_run
from grokscope.models import build_model
from grokscope.presets import load_preset
from grokscope.reproduce.zhong2023 import family_shares


def _norms(init: str, seeds=range(40)):
    cfg = load_preset("pair2023_tied").override([f"model.init={init}"])
    params = build_model(cfg.model, 67).init(list(seeds))
    return params, sum(p.detach().double().square().flatten(1).sum(1) for p in params.values()).sqrt()


def test_truncated_init_matches_haiku_norm_and_bounds():
    params, norm = _norms("truncated")
    # haiku: W_E VarianceScaling(2) keeps variance 2/67 (67·500·2/67 = 1000); the two hk.Linear maps
    # have variance x 0.774 (0.774·(24 + 500) = 405.6): E|θ|² = 1405.6 -> 37.49; the notebook logged 37.39
    assert abs(norm.mean().item() - math.sqrt(1000 + 0.77374 * 524)) < 0.2
    _, untruncated = _norms("default")
    assert untruncated.mean().item() > norm.mean().item() + 1.2  # ≈ 39.0: the old init, 1.5 larger
    bound = 2 * 67 ** -0.5 * (2 ** 0.5) / 0.87962566103423978  # ±2 σ of the corrected embedding std
    assert params["W_E"].abs().max().item() <= bound + 1e-6
    assert params["W_out"].abs().max().item() <= 2 * 24 ** -0.5 + 1e-6
    assert params["W_in"].abs().max().item() <= 2 * 500 ** -0.5 + 1e-6


def test_truncated_init_is_seeded():
    a, _ = _norms("truncated", [3])
    b, _ = _norms("truncated", [3])
    c, _ = _norms("truncated", [4])
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["W_E"], c["W_E"])


@pytest.mark.parametrize("measures, acc, family", [
    ({"circularity": 0.9, "gradient_symmetricity": 0.3, "distance_irrelevance": 0.95}, 1.0, "clock"),
    ({"circularity": 0.9, "gradient_symmetricity": 1.0, "distance_irrelevance": 0.3}, 0.99, "pizza"),
    ({"circularity": 0.9, "gradient_symmetricity": 0.5, "distance_irrelevance": 0.5}, 1.0, "other"),  # mixed
    ({"circularity": 0.2, "gradient_symmetricity": 0.3, "distance_irrelevance": 0.95}, 1.0, "other"),  # no circle
    # distance-irrelevant but symmetric gradients (a rate-0 model): not a clock
    ({"circularity": 0.9, "gradient_symmetricity": 1.0, "distance_irrelevance": 0.9}, 1.0, "other"),
    ({"circularity": 0.9, "gradient_symmetricity": 0.3, "distance_irrelevance": 0.95}, 0.5, "none"),
    ({"circularity": 0.9, "gradient_symmetricity": 0.3, "distance_irrelevance": 0.95}, float("nan"), "none"),
])
def test_classify_run(measures, acc, family):
    assert classify_run(measures, acc) == family


def test_family_shares():
    rows = [{"family": f, "rate": r} for f, r in
            [("clock", 1.0), ("clock", 1.0), ("none", 1.0), ("pizza", 0.0), ("other", 0.0)]]
    s = family_shares(rows)["all"]
    assert s["n"] == 5 and s["clock"] == 0.4 and s["clock+pizza"] == pytest.approx(0.6)
    assert s["clock+pizza of generalised"] == pytest.approx(3 / 4)
    by = family_shares(rows, "rate")
    assert by[1.0]["clock+pizza of generalised"] == 1.0 and by[0.0]["other"] == 0.5


def test_classify_trajectory_reads_the_medians_after_generalising():
    from grokscope.analysis.algorithms import classify_trajectory, median_measures

    def point(di, gs=0.1, circ=0.9):
        return {"gradient_symmetricity": gs, "distance_irrelevance": di, "circularity": circ,
                "fve_clock": 0.9, "fve_pizza": 0.8}

    swinging = [point(0.85), point(0.9), point(0.6)]  # one low DI at the end does not decide
    assert median_measures(swinging)["distance_irrelevance"] == pytest.approx(0.85)
    assert classify_trajectory(swinging, 1.0) == "clock"
    assert classify_run(swinging[-1], 1.0) == "other"  # the final checkpoint alone
    assert classify_trajectory([], 1.0) == "none"  # never generalised
    assert classify_trajectory([point(0.3, gs=1.0)] * 3, 0.95) == "pizza"


def test_share_curves_move_with_the_cuts():
    from grokscope.reproduce.zhong2023 import DI_CUTS, share_curves

    def run(di, gs, acc=1.0):
        m = {"gradient_symmetricity": gs, "distance_irrelevance": di, "circularity": 0.9}
        return {"median": m, "final": m, "final_test_acc": acc, "trajectory": [m]}

    rows = [run(0.95, 0.1), run(0.75, 0.1), run(0.3, 1.0), run(0.95, 0.1, acc=0.5)]
    curves = share_curves(rows)
    by_di = dict(zip(DI_CUTS, curves["by_di"]["0.6"], strict=True))
    # of the 3 that generalised: the pizza always; the DI-0.75 run is a clock below its DI, other above
    assert by_di[0.7] == pytest.approx(1.0) and by_di[0.8] == pytest.approx(2 / 3)
    assert curves["by_gs"][-1] == pytest.approx(2 / 3)
