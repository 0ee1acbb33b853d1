"""`grokscope reproduce omnigrok2023`: the recipe, how its settings stack, and its measures on
hand-made curves (the claims themselves are asserted in tests/slow/test_reproduce_omnigrok2023.py)."""

import csv
import json

import pytest

from grokscope.presets import load_preset
from grokscope.reproduce import omnigrok2023 as og
from grokscope.train.loop import stack_key


def test_preset_is_the_mnist_notebook_recipe_on_digits():
    cfg = load_preset("omnigrok2023_digits")
    assert (cfg.task.name, cfg.task.n_train) == ("digits", 1000)
    assert (cfg.model.arch, cfg.model.n_layers, cfg.model.d_mlp, cfg.model.act, cfg.model.init_scale) == (
        "dense", 2, 200, "relu", 8.0)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay) == ("adamw", 1e-3, 0.01)
    assert (cfg.train.loss, cfg.train.dtype, cfg.train.batch_size, cfg.train.steps) == ("mse", "float64", 200, 100_000)


def test_each_setting_is_one_stack_of_three_seeds_and_replicates_share_no_model():
    pairs = og.pair_configs(False)
    assert pairs["grok"][0] == load_preset("omnigrok2023_digits")  # the full (a) is the preset itself
    for arm, cs in pairs.items():
        assert len(cs) == og.SEEDS and len({stack_key(c) for c in cs}) == 1, arm
        assert len({(c.train.seed, c.task.data_seed) for c in cs}) == og.SEEDS
    assert stack_key(pairs["grok"][0]) != stack_key(pairs["control"][0])  # init scale is not per model
    assert pairs["control"][0].model.init_scale == 1 and pairs["grok"][0].model.init_scale == 8
    quick = og.pair_configs(True)
    assert quick["grok"][0].optim.weight_decay == quick["control"][0].optim.weight_decay == og.QUICK_WD
    # the LU norms differ per model only: every norm and seed in one stack, weight decay off
    lu = [c for cs in og.lu_configs(True).values() for c in cs]
    assert len({stack_key(c) for c in lu}) == 1 and {c.optim.weight_decay for c in lu} == {0.0}
    assert sorted({c.optim.weight_norm for c in lu}) == list(og.NORMS_QUICK)
    # the phase diagram: one stack per init scale, weight decays and seeds inside it
    diagram = og.diagram_configs(100)
    for s in og.SCALES:
        row = [c for (scale, _), cs in diagram.items() if scale == s for c in cs]
        assert len(row) == len(og.WDS) * og.SEEDS and len({stack_key(c) for c in row}) == 1
    seeds0 = {c.train.seed for cs in og.pair_configs(True).values() for c in cs}
    seeds1 = {c.train.seed for cs in og.pair_configs(True, seed=1).values() for c in cs}
    assert not seeds0 & seeds1


def _rows(train, test, every=100):
    return [{"step": i * every, "train_acc": a, "test_acc": b, "train_loss": 1 - a, "test_loss": 1 - b}
            for i, (a, b) in enumerate(zip(train, test, strict=True))]


def test_run_events_on_a_grokking_and_a_comprehending_curve():
    grok = og.run_events(_rows([0.2, 0.95, 1, 1, 1, 1], [0.1, 0.3, 0.4, 0.5, 0.85, 0.96]), tau=0.88)
    assert (grok["t_train99"], grok["t_test_tau"], grok["test_acc_at_t_train99"]) == (200, 500, 0.4)
    assert (grok["t_train90"], grok["t_val90"], grok["final_test_acc"]) == (100, 500, 0.96)
    fast = og.run_events(_rows([0.5, 1, 1], [0.5, 0.97, 0.98]), tau=0.88)
    assert fast["t_test_tau"] == fast["t_train99"] == 100


def test_phase_counts_the_delay_from_the_fit():
    assert og.phase_from_fit(None, None) == "confusion"
    assert og.phase_from_fit(4000, None) == "memorization"
    assert og.phase_from_fit(4000, 4500) == "comprehension"  # late, but no later than the fit allows
    assert og.phase_from_fit(4000, 6000) == "grokking"
    assert og.phase_from_fit(100, 50) == "comprehension"  # test first: no delay


def test_lu_summary_finds_the_l_and_the_u():
    def pt(train, test):
        return [{"train_loss": train, "test_loss": test, "train_acc": 1.0, "test_acc": 1.0}]

    lu = og.lu_summary({0.25: pt(0.07, 0.07), 1.0: pt(1e-3, 5e-3), 4.0: pt(2e-3, 0.04)})
    assert lu["test_argmin_norm"] == 1.0 and lu["test_argmin_interior"]
    assert lu["test_rise_small"] == pytest.approx(14) and lu["test_rise_large"] == pytest.approx(8)
    assert lu["train_drop"] == pytest.approx(35) and lu["gap_large"] > lu["gap_small"]
    flat = og.lu_summary({0.25: pt(0.07, 0.07), 1.0: pt(0.05, 0.05), 4.0: pt(0.01, 0.01)})
    assert not flat["test_argmin_interior"]  # a monotone test loss is no U


def test_write_diagram_writes_the_table_and_the_figure(tmp_path):
    cells = [{"init_scale": s, "weight_decay": wd, "phase": ph, "median_t_val90": None}
             for s, wd, ph in ((1.0, 0.0, "comprehension"), (8.0, 0.0, "memorization"), (8.0, 1.0, "grokking"))]
    runs = [{"run_id": f"r{i}", "init_scale": c["init_scale"], "weight_decay": c["weight_decay"],
             "phase": c["phase"], "t_val99": None} for i, c in enumerate(cells)]
    files = og.write_diagram(cells, runs, tmp_path)
    with open(tmp_path / "phase_diagram.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["phase"] for r in table] == ["comprehension", "memorization", "grokking"]
    assert table[0]["median_t_val90"] == ""
    assert json.loads((tmp_path / "phase_diagram.json").read_text())["runs"][2]["phase"] == "grokking"
    assert (tmp_path / "phase_liu.png").stat().st_size > 0 and tmp_path / "phase_liu.png" in files
