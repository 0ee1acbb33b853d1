"""`grokscope reproduce swaroop2026 --quick`: the paper's qualitative claims on a p = 31 model (~30 s)."""

import json

from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.reproduce import reproduce


def test_swaroop2026_quick_claims(tmp_path):
    res = reproduce("swaroop2026", out=tmp_path, quick=True)
    clean, noisy = res.data["alphas"]
    chance = 1 / 31
    # the clean model groks: val acc reaches ~1 long after train acc saturates
    assert clean["final_real"] >= 0.99 and clean["t_val99"] > 5 * clean["t_train99"]
    # the noisy model fails to generalise, yet the extracted Sq→Cos model works
    assert noisy["final_real"] < 0.2
    assert noisy["final_sq_cos_nu"] >= 0.5 and clean["final_sq_cos_nu"] >= 0.9
    # at saturation (memorisation) the real model is at ~0 and the extraction is far above chance
    assert clean["saturation_real"] < 0.05 and clean["saturation_sq_cos_nu"] > 10 * chance
    # the control: the same extraction on step-0 weights sits at chance
    assert all(d["first_sq_cos_nu"] < 3 * chance for d in res.data["alphas"])
    # phase-sum relation for structured neurons, square beats cosine
    assert clean["phase_sum_r_structured"] > 0.99 and noisy["phase_sum_r_all"] > 0.95
    assert clean["sq_vs_cos_t_structured"] < 0
    # Table 1 from scratch: Sq→Cos best, near the paper's means
    by = {(r["N"], r["variant"]): r["mean"] for r in res.data["table1"]}
    for N in (16, 64, 128, 256):
        assert by[N, "sq_cos"] > by[N, "cos_cos"] and by[N, "sq_cos"] > by[N, "sq_sq"]
        assert abs(by[N, "sq_cos"] - {16: .074, 64: .445, 128: .797, 256: .985}[N]) < 0.03
    assert all(res.checks.values()), res.checks

    # written: reproduce.json with the table, and a run dir per α with saturation + final checkpoints
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == "swaroop2026" and doc["quick"] and doc["largest_diff"]["quantity"]
    assert {"quantity", "paper", "ours", "diff"} <= set(doc["rows"][0])
    assert (tmp_path / "runs/alpha_0.20/summary.json").exists()

    # a re-run reuses the finished runs (no retraining: run dirs untouched)
    mtime = (tmp_path / "runs/alpha_0.00/summary.json").stat().st_mtime
    reproduce("swaroop2026", out=tmp_path, quick=True)
    assert (tmp_path / "runs/alpha_0.00/summary.json").stat().st_mtime == mtime


def test_reproduce_unknown_name_exits_2():
    result = CliRunner().invoke(app, ["reproduce", "nope2099"])
    assert result.exit_code == 2
    assert "swaroop2026" in result.output and "nanda2023" in result.output
