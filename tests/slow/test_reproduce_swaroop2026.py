"""`grokscope reproduce swaroop2026 --quick --seeds 3`: the paper's claims on a p = 31 model, seeds 0–2 stacked.

The reproduction runs once (module fixture) over replicates 0, 1, 2 (init and data seeds shifted),
trained as one ensemble stack. Every claim the quick form marks ✓ is asserted, and the key numbers
of every replicate against thresholds from the measured spread: each comment gives min–max over
seeds 0–2 of the 3-seed run (AVX2, one torch thread) and, where older, over seeds 0–4 and seed 0
with ATEN_CPU_CAPABILITY=default (another float summation order: it groks at step 10,900 instead of
9,700), and the margin left to the worst. Float reduction order differs between CPUs and grokking
amplifies it, so a claim must hold with room to spare on every replicate.
Measured: 236 s of wall time beside other jobs (load average ≈ 8), 40 s of CPU time.
"""

import json

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow

CHANCE = 1 / 31


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    out = tmp_path_factory.mktemp("swaroop2026_quick")
    result = reproduce("swaroop2026", out=out, quick=True, seeds=3)
    result.out = out
    return result


def test_every_claim_marked_held_holds_in_all_three_seeds(res):
    assert res.seeds == [0, 1, 2]
    held = [c for c in res.claims if c.ok]
    assert len(held) >= 12, [c.text for c in res.claims if not c.ok]
    for c in held:
        assert c.holds == 3 and res.checks[c.text], c
    # the one claim this scale cannot test is marked so, not passed
    assert [c.text for c in res.claims if c.ok is None] == [
        "validation accuracy falls with α along a sigmoid (α = 0 … 0.30)"
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_key_numbers_per_seed(res, seed):
    clean, noisy = res.replicates[seed].data["alphas"]
    # the clean model groks: val acc reaches ~1 long after train acc saturates
    assert clean["final_real"] >= 0.98  # 0.9946–1.0 (seeds 1 and 2 stop on patience); margin 0.015
    # ratio 57–78 (64–87 on seeds 0–4 before); margin 2.8x. With ATEN_CPU_CAPABILITY=default seed 1's
    # clean model stops on the 3k patience at val acc 0.989 (t_val99 None): this line fails there
    assert clean["t_val99"] > 20 * clean["t_train99"]
    # the noisy model fails to generalise, yet the extracted Sq→Cos model works
    assert noisy["final_real"] < 0.45  # 0.016–0.143 (0.024–0.27 before); margin 0.18
    assert noisy["final_sq_cos_nu"] >= 0.85  # 0.933–0.957 (0.927–0.989 before); margin 0.077
    assert clean["final_sq_cos_nu"] >= 0.9  # 0.997–1.0 (0.981–1.0 before); margin 0.08
    # at saturation (memorisation) the real model is at ~0 and the extraction is far above chance
    assert clean["saturation_real"] < 0.05  # 0.0 on all
    assert clean["saturation_sq_cos_nu"] > 0.6  # 0.769–0.874 (≥ 24x chance); margin 0.17
    # the control: the same extraction on step-0 weights sits at chance
    assert all(d["first_sq_cos_nu"] < 3 * CHANCE for d in (clean, noisy))  # ≤ 0.038 vs 0.097
    # phase-sum relation: structured neurons of the clean model (the paper's r = 0.9993 at p = 97)
    assert clean["phase_sum_r_structured"] > 0.95  # 0.995–0.997 (0.973–0.997 before); margin 0.023
    # ... and in the noisy model that fails to grok: the bound is back at 0.95 (it had been lowered to
    # 0.88 after one replicate measured 0.919 with an older version of the code); seeds 0–2 give
    # 0.984–0.992 over all agreeing neurons, margin 0.034, and 0.991–0.997 over the structured ones
    assert noisy["phase_sum_r_all"] > 0.95
    assert noisy["phase_sum_r_structured"] > 0.95
    assert clean["sq_vs_cos_t_structured"] < -10  # t = −26.3 … −24.6 (−29.5 … −22.2 before); margin 12


def test_table1_from_scratch(res):
    # Table 1 from scratch (numpy-seeded, seeds 0–7, no training): Sq→Cos best, near the paper's
    # means. Over five disjoint 8-seed blocks (0–39) |ours − paper| ≤ 0.0085 (tolerance 0.03) and
    # Sq→Cos leads the other two by ≥ 0.028 / 0.076 / 0.044 / 0.0033 at N = 16 / 64 / 128 / 256
    by = {(r["N"], r["variant"]): r["mean"] for r in res.data["table1"]}
    for N in (16, 64, 128, 256):
        assert by[N, "sq_cos"] > by[N, "cos_cos"] and by[N, "sq_cos"] > by[N, "sq_sq"]
        assert abs(by[N, "sq_cos"] - {16: 0.074, 64: 0.445, 128: 0.797, 256: 0.985}[N]) < 0.03


def test_written_files(res):
    doc = json.loads((res.out / "reproduce.json").read_text())
    assert doc["name"] == "swaroop2026" and doc["quick"] and doc["seeds"] == [0, 1, 2]
    assert {"quantity", "paper", "ours", "diff"} <= set(doc["rows"][0])
    assert all(len(c["values"]) == 3 for c in doc["claims"])
    for s in (0, 1, 2):
        assert (res.out / f"seed{s}/runs/alpha_0.20/summary.json").exists()
