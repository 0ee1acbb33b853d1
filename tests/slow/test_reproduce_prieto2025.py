"""`grokscope reproduce prieto2025 --quick` (slow): ⊥AdamW groks with weight decay 0, float32
softmax CE does not, and softmax collapse shows at float32 but not at float64 on the same logits.

Measured once (seed 0, one torch thread); see the comments for the values.
"""

import pytest

from grokscope.reproduce import reproduce


@pytest.mark.slow
def test_prieto2025_quick_claims(tmp_path):
    res = reproduce("prieto2025", out=tmp_path, quick=True)
    t = res.data["t_val99"]
    assert t["ortho_adamw"] is not None and t["ortho_adamw"] < 750  # seed 0: 158 (paper ≈ 300)
    assert t["softmax_f32"] is None  # seed 0: test acc 0.0 at 855 of 1,500 steps
    curve = res.data["sc_curve_softmax_f32"]
    # collapse is a float32 effect; at 1.5k steps it has only begun (seed 0: 0.0022 vs 0.0 at float64)
    assert curve[-1]["sc_float32"] > curve[-1]["sc_float64"]
