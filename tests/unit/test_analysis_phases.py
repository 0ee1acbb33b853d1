"""Nanda et al.'s phase rules (`analysis.phases`) on planted series: each rule fires where the
paper's words hold, and not when one of its conditions is broken."""

import math

import pytest

from grokscope.analysis.phases import NandaRules, nanda_phases, phase_events

RULES = NandaRules(window=100)
STEPS = list(range(0, 1300, 100))


def planted(**change):
    """Memorisation 0–300, circuit formation 300–800, cleanup 800–1000, then flat."""
    cols = {
        "train_loss":            [4.0, 0.4, 0.01, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 5e-5, 2e-5, 2e-5, 2e-5],
        "excluded_loss_train":   [4.0, 0.5, 0.02, 2e-3, 4e-3, 8e-3, 0.02, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1],
        "test_loss":             [4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 9.0, 8.0, 1.0, 0.01, 0.01, 0.01],
        "restricted_loss_test":  [4.0, 4.0, 4.0, 4.0, 3.8, 3.5, 3.0, 2.5, 2.0, 0.5, 0.01, 0.01, 0.01],
        "sum_sq_weights":        [100, 110, 120, 120, 118, 116, 114, 112, 110, 80, 60, 59.9, 59.9],
        "gini_W_L":              [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.11, 0.12, 0.13, 0.4, 0.6, 0.6, 0.6],
    }
    cols.update(change)
    return [{"step": s, **{k: v[i] for k, v in cols.items()}} for i, s in enumerate(STEPS)]


def test_the_planted_phases_are_found():
    ev = nanda_phases(planted(), RULES)
    assert ev == {"t_mem_end": 300, "t_circuit": 300, "t_cleanup": 800, "t_cleanup_end": 1000}


def test_memorisation_ends_when_the_joint_decline_of_excluded_and_train_loss_ends():
    # both keep falling to 500: memorisation lasts to 500
    both = dict(excluded_loss_train=[4.0, 0.5, 0.02, 2e-3, 1e-3, 5e-4, 5e-4, 0.02, 0.05, 0.1, 0.1, 0.1, 0.1],
                train_loss=[4.0, 0.4, 0.01, 1e-4, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6, 5e-7, 2e-7, 2e-7, 2e-7])
    assert nanda_phases(planted(**both), RULES)["t_mem_end"] == 500
    # only the excluded loss keeps falling: the joint decline ends at 300 (the default) ...
    one = {"excluded_loss_train": both["excluded_loss_train"]}
    assert nanda_phases(planted(**one), RULES)["t_mem_end"] == 300
    # ... while `mem_both` waits until neither falls
    assert nanda_phases(planted(**one), NandaRules(window=100, mem_both=True))["t_mem_end"] == 500


def test_circuit_formation_needs_every_condition():
    flat_sq = [100, 110, 120, 120, 120, 120, 120, 120, 120, 80, 60, 59.9, 59.9]
    assert nanda_phases(planted(sum_sq_weights=flat_sq), RULES)["t_circuit"] is None  # Σθ² does not fall
    flat_ex = [4.0, 0.5, 0.02, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3]
    assert nanda_phases(planted(excluded_loss_train=flat_ex), RULES)["t_circuit"] is None  # excluded flat
    rising_re = [4.0, 4.0, 4.0, 4.0, 4.2, 4.4, 4.6, 4.8, 5.0, 5.0, 5.0, 5.0, 5.0]
    assert nanda_phases(planted(restricted_loss_test=rising_re), RULES)["t_circuit"] is None  # restricted rises
    # test loss already collapsing: not "train and test loss flat"
    dropping = [4.0, 8.0, 10.0, 10.0, 1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 1e-6, 1e-6]
    assert nanda_phases(planted(test_loss=dropping), RULES)["t_circuit"] is None


def test_cleanup_needs_a_sharp_test_loss_drop_with_a_gini_jump_and_falling_weights():
    assert nanda_phases(planted(gini_W_L=[0.1] * 13), RULES)["t_cleanup"] is None
    slow = [4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.5, 5.0]
    ev = nanda_phases(planted(test_loss=slow), RULES)
    assert ev["t_cleanup"] is None and ev["t_cleanup_end"] is None
    flat_sq = [100, 110, 120, 120, 118, 116, 114, 112, 110, 109.9, 109.8, 109.8, 109.8]
    assert nanda_phases(planted(sum_sq_weights=flat_sq), RULES)["t_cleanup"] is None


def test_thresholds_are_parameters():
    # a 10% per-window Σθ² fall is required: the gentle circuit-formation slope no longer counts
    ev = nanda_phases(planted(), NandaRules(window=100, weight_fall=0.1))
    assert ev["t_circuit"] is None and ev["t_cleanup"] == 800  # cleanup is then searched from t_mem_end
    # a 200-step window compares 300 with 500 (excluded ×4, Σθ² −3%) — still circuit formation
    assert nanda_phases(planted(), NandaRules(window=200))["t_circuit"] == 300


def test_without_excluded_loss_memorisation_ends_when_train_loss_stops_falling():
    series = [{k: v for k, v in r.items() if k in ("step", "train_loss")} for r in planted()]
    ev = nanda_phases(series, RULES)
    assert ev == {"t_mem_end": 300, "t_circuit": None, "t_cleanup": None, "t_cleanup_end": None}
    assert nanda_phases([], RULES) == dict.fromkeys(ev)


def test_phase_events_takes_losses_from_the_metrics_rows():
    series = [{k: v for k, v in r.items() if k not in ("train_loss", "test_loss")} for r in planted()]
    rows = [{"step": r["step"] - 50 * (r["step"] > 0), "train_loss": r["train_loss"], "test_loss": r["test_loss"],
             "train_acc": 1.0 if r["step"] >= 200 else 0.5, "test_acc": 1.0 if r["step"] >= 1000 else 0.0}
            for r in planted()]  # evaluated 50 steps before each checkpoint: the latest one ≤ step is used
    ev = phase_events(rows, series, RULES)
    assert ev["t_train99"] == 150 and ev["t_val99"] == 950
    assert (ev["t_mem_end"], ev["t_circuit"], ev["t_cleanup"], ev["t_cleanup_end"]) == (300, 300, 800, 1000)


@pytest.mark.parametrize("bad", [math.nan, None])
def test_missing_values_do_not_fire_a_rule(bad):
    ex = [4.0, 0.5, 0.02, 2e-3, bad, bad, bad, bad, bad, 0.1, 0.1, 0.1, 0.1]
    assert nanda_phases(planted(excluded_loss_train=ex), RULES)["t_circuit"] is None
