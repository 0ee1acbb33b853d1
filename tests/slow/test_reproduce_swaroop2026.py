"""`grokscope reproduce swaroop2026 --quick`: the paper's qualitative claims on a p = 31 model (~1.5 min).

Thresholds come from the quick reproduction on replicates seed = 0–4 (init and data seeds shifted;
AVX2, one torch thread) and on seed 0 once more with ATEN_CPU_CAPABILITY=default (no SIMD: another
float summation order — it groks at step 10,900 instead of 9,700): each comment gives min–max over
those six runs and the margin left to the worst one. Float reduction order differs between CPUs and grokking amplifies it, so a claim must
hold with room to spare on every replicate, not just on the one this machine happens to produce.
"""

import json

import pytest

from grokscope.reproduce import reproduce

pytestmark = pytest.mark.slow


def test_swaroop2026_quick_claims(tmp_path):
    res = reproduce("swaroop2026", out=tmp_path, quick=True)
    clean, noisy = res.data["alphas"]
    chance = 1 / 31
    # the clean model groks: val acc reaches ~1 long after train acc saturates
    assert clean["final_real"] >= 0.99  # 1.0 on all 6 (0.99 allows 3 of 384 test pairs wrong)
    assert clean["t_val99"] > 20 * clean["t_train99"]  # ratio 64–87: margin > 3x
    # the noisy model fails to generalise, yet the extracted Sq→Cos model works
    assert noisy["final_real"] < 0.45  # 0.024–0.27; margin 0.18 (was < 0.2, which 3 of 6 runs miss)
    assert noisy["final_sq_cos_nu"] >= 0.85  # 0.927–0.989; margin 0.077
    assert clean["final_sq_cos_nu"] >= 0.9  # 0.981–1.0; margin 0.08
    # at saturation (memorisation) the real model is at ~0 and the extraction is far above chance
    assert clean["saturation_real"] < 0.05  # 0.0 on all 6
    assert clean["saturation_sq_cos_nu"] > 0.6  # 0.766–0.871 (≥ 24x chance); margin 0.17
    # the control: the same extraction on step-0 weights sits at chance
    assert all(d["first_sq_cos_nu"] < 3 * chance for d in res.data["alphas"])  # ≤ 0.040 vs 0.097
    # phase-sum relation for structured neurons, square beats cosine. Fragile on one run: the
    # paper's r > 0.99 holds for 3 of 6 runs (0.973–0.997; 0.985 on this AVX2 machine, as in the
    # issue), so it is loosened to what the spread supports: 0.95, margin 0.023
    assert clean["phase_sum_r_structured"] > 0.95
    assert noisy["phase_sum_r_all"] > 0.88  # 0.919–0.994; margin 0.039 (was 0.95: replicate 1 is 0.919)
    assert clean["sq_vs_cos_t_structured"] < -10  # t = −29.5 … −22.2; margin 12
    # Table 1 from scratch (numpy-seeded, seeds 0–7, no training): Sq→Cos best, near the paper's
    # means. Over five disjoint 8-seed blocks (0–39) |ours − paper| ≤ 0.0085 (tolerance 0.03) and
    # Sq→Cos leads the other two by ≥ 0.028 / 0.076 / 0.044 / 0.0033 at N = 16 / 64 / 128 / 256
    by = {(r["N"], r["variant"]): r["mean"] for r in res.data["table1"]}
    for N in (16, 64, 128, 256):
        assert by[N, "sq_cos"] > by[N, "cos_cos"] and by[N, "sq_cos"] > by[N, "sq_sq"]
        assert abs(by[N, "sq_cos"] - {16: .074, 64: .445, 128: .797, 256: .985}[N]) < 0.03
    assert all(res.checks.values()), res.checks  # the module's own checks, same margins (see there)

    # written: reproduce.json with the table, and a run dir per α with saturation + final checkpoints
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == "swaroop2026" and doc["quick"] and doc["largest_diff"]["quantity"]
    assert {"quantity", "paper", "ours", "diff"} <= set(doc["rows"][0])
    assert (tmp_path / "runs/alpha_0.20/summary.json").exists()
