"""`grokscope reproduce zhong2023 --quick` over replicates 0–2 (slow): clock vs pizza read over each run's
checkpoints after it generalised.

Each replicate trains 2 models per attention rate; the three replicates' runs train as one stack per rate.
Thresholds: measured on replicates 0–2 (one torch thread, beside other jobs); each comment gives min–max
over the six models (or three replicates) and the margin left.
"""

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow

HOLDS = (  # the claims the quick form marks ✓ (held on all three replicates)
    "the clock models (attention rate 1) generalise: final test accuracy ≥ 0.9",  # lowest 0.915–0.991
    "the pizza models (attention rate 0) generalise: final test accuracy ≥ 0.9",  # lowest 0.943–1.0
    # pizza − clock 0.76–1.02; margin 0.76
    "the pizza (rate 0) has higher gradient symmetricity than the clock (rate 1), medians after generalising",
    # clock − pizza 0.078–0.338; margin 0.078
    "the clock (rate 1) has higher distance irrelevance than the pizza (rate 0), medians after generalising",
)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("zhong2023")


@pytest.fixture(scope="module")
def res(out):
    return reproduce("zhong2023", out=out, quick=True, seeds=3)


def test_zhong2023_quick_claims_hold_on_every_seed(res):
    for claim in HOLDS:
        assert res.checks[claim], claim
    assert res.seeds == [0, 1, 2]


def _models(res, name):
    return [m for r in res.replicates for m in r.data[name]]


def test_zhong2023_quick_clock_and_pizza_from_the_trajectory(res):
    clock, pizza = _models(res, "clock"), _models(res, "pizza")
    assert len(clock) == len(pizza) == 6
    for m in clock + pizza:
        assert m["t_generalised"] is not None and len(m["trajectory"]) >= 3  # 4–7 checkpoints read per run
    # uniform attention makes the pizza's symmetricity 1 exactly (see test_analysis_algorithms)
    assert all(m["median"]["gradient_symmetricity"] > 0.99 for m in pizza)
    assert all(m["median"]["gradient_symmetricity"] < 0.6 for m in clock)  # −0.047–0.251; margin 0.35
    # a rate-0 model is never a clock; a rate-1 model never a pizza
    assert all(m["family"] in ("pizza", "other") for m in pizza)
    assert all(m["family"] in ("clock", "other") for m in clock)
    # Not asserted: "every rate-1 model is classified clock" (the module's claim, ✗). Read over the
    # trajectory, 5 of the 6 clocks are clocks (medians of DI 0.800–0.906); the sixth's median DI is 0.784,
    # under the 0.8 cut, and another sits at 0.800 — at p = 23 and 1,500 steps the clock's DI plateaus at
    # 0.78–0.93 (0.97 at p = 59 after 20k steps), so the cut lies inside the clocks' spread. From the final
    # checkpoint alone only 2 of 6 are clocks (DI falls to 0.61–0.73 at step 1,500 on four of them).
    assert sum(m["family"] == "clock" for m in clock) >= 4  # 5 of 6; margin 1
    # Not asserted either: "every rate-0 model is classified pizza" (✗): 4 of 6; replicate 1's two
    # pizzas have circularity medians 0.574 (< 0.6: "other")
    assert sum(m["family"] == "pizza" for m in pizza) >= 3  # 4 of 6; margin 1


def test_zhong2023_quick_writes_its_result(res, out):
    assert (out / "reproduce.json").exists() and all((out / f"seed{s}" / "reproduce.json").exists() for s in range(3))
    share = next(c for c in res.claims if c.text.startswith("about 40%"))
    assert share.ok is None  # the article's share is read from the 100-model sweep, not the quick form
