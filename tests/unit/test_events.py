"""grokscope.events: the one definition of t_train99 / t_val99, ΔT, the summary and the Liu / Doshi labels."""

import math
import subprocess
import sys

from grokscope.events import (
    DOSHI_PHASES,
    LIU_PHASES,
    doshi_phase,
    event_names,
    first_step,
    liu_phase,
    liu_phase_from_events,
    summarize,
)


def rows(train, test, steps=None):
    steps = steps or [i * 500 for i in range(len(train))]
    return [{"step": s, "train_acc": tr, "test_acc": te} for s, tr, te in zip(steps, train, test)]


def test_events_is_torch_free():
    code = "import sys, grokscope.events; assert not {'torch', 'numpy', 'matplotlib'} & set(sys.modules), sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_first_step_skips_missing_and_nan():
    r = [{"step": 0, "a": None}, {"step": 1, "a": math.nan}, {"step": 2}, {"step": 3, "a": 0.98}, {"step": 4, "a": 0.99}]
    assert first_step(r, "a", 0.99) == 4
    assert first_step(r, "a", 1.0) is None
    assert first_step([], "a", 0.5) is None


def test_summarize_events_delay_and_finals():
    r = rows([0.1, 0.995, 1.0, 1.0], [0.0, 0.2, 0.995, 0.99], steps=[0, 100, 300, 400])
    s = summarize(r, stop_reason="steps")
    assert (s["t_train99"], s["t_val99"], s["delta_t"], s["grokked"]) == (100, 300, 200, True)
    assert s["final_step"] == 400 and s["final_test_acc"] == 0.99 and s["best_test_acc"] == 0.995
    assert s["stop_reason"] == "steps" and s["final_train_loss"] is None
    never = summarize(rows([0.5], [0.1]))
    assert never["t_val99"] is None and never["delta_t"] is None and never["grokked"] is False
    assert set(summarize(r, threshold=0.9)) >= set(event_names(0.9)) == {"t_train90", "t_val90"}
    assert summarize([])["final_step"] is None


def test_liu_phases():
    assert liu_phase(rows([0.5, 0.6], [0.1, 0.1])) == "confusion"
    assert liu_phase(rows([0.5, 0.95, 1.0], [0.1, 0.1, 0.2])) == "memorization"
    assert liu_phase(rows([0.5, 0.95, 1.0], [0.1, 0.95, 1.0])) == "comprehension"
    assert liu_phase(rows([0.5, 0.95, 1.0, 1.0], [0.1, 0.1, 0.1, 0.95])) == "grokking"
    assert liu_phase(rows([0.5, 0.95, 1.0, 1.0], [0.1, 0.1, 0.1, 0.95]), delay=2000) == "comprehension"


def test_liu_phase_from_events_is_the_rule_the_rows_form_uses():
    assert liu_phase_from_events(None, None) == "confusion"
    assert liu_phase_from_events(None, 500) == "confusion"  # validation without train: still confusion
    assert liu_phase_from_events(500, None) == "memorization"
    assert liu_phase_from_events(500, 1000) == "comprehension"  # "within 10³ steps" includes 10³
    assert liu_phase_from_events(500, 1001) == "grokking"
    assert liu_phase_from_events(500, 1001, delay=2000) == "comprehension"
    assert {liu_phase_from_events(t, v) for t in (None, 0, 2000) for v in (None, 0, 2000)} == set(LIU_PHASES)


def test_doshi_phases():
    assert doshi_phase(0.95, 0.99, xi=0.3) == "coexistence"
    assert doshi_phase(0.8, 0.99, xi=0.3) == "partial_inversion"  # 0.75 <= 0.8 < 0.9
    assert doshi_phase(0.7, 0.99, xi=0.3) == "full_inversion"
    assert doshi_phase(0.99, 0.2, xi=0.3) == "memorization"
    assert doshi_phase(0.5, 0.2, xi=0.3) == "forgetting"
    assert doshi_phase(0.85, 0.95, xi=0.3, threshold=0.8) == "coexistence"
    assert {doshi_phase(tr, te, 0.3) for tr in (0.5, 0.8, 0.95) for te in (0.5, 0.95)} == set(DOSHI_PHASES)
