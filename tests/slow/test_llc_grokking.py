"""The field's claim about the LLC (devinterp's grokking example, (a+b) mod 53): it rises while the
model memorises and falls through grokking. Measured on the fast recipe at p = 53 (40% train):
λ̂ = 108 at init, 298 at the saturation checkpoint (step 10), 279 at step 50 (test accuracy 0.2%),
91 at step 400 (test 99.4%)."""

import pytest

import grokscope
from grokscope.analysis.pipeline import analyze_run


@pytest.mark.slow
def test_llc_rises_in_memorisation_and_falls_through_grokking(tmp_path):
    pytest.importorskip("devinterp", reason="the field extra (devinterp) is not installed")
    cfg = grokscope.load_preset("swaroop2026_fast").override(
        ["task.p=53", "task.frac_train=0.4", "train.steps=600", "train.checkpoint_every=50",
         "train.stop_test_acc=1.01"])
    run = grokscope.run(cfg, out=tmp_path)
    rows = {r["step"]: r for r in run.rows()}
    memorised = 50
    assert rows[memorised]["train_acc"] == 1.0 and rows[memorised]["test_acc"] < 0.05
    grokked = min(s for s in run.checkpoint_steps() if rows.get(s, {}).get("test_acc", 0) >= 0.99)
    table = analyze_run(run.path, measures=["llc"], steps=[0, memorised, grokked]).table.set_index("step")
    llc = table["llc"]
    assert llc[memorised] > 1.5 * llc[0]
    assert llc[grokked] < 0.6 * llc[memorised]
