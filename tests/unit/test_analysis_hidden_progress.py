"""Hidden-progress measures (Barak et al. 2022; Merrill et al. 2023) on planted weights whose numbers
are known in closed form, and through `analyze_run` on a tiny parity run."""

import math

import numpy as np
import pytest
import torch
from tests.helpers_dense import tiny_dense

import grokscope
from grokscope.analysis.hidden_progress import distance_from_init, sparse_neuron_stats
from grokscope.analysis.measures import registry
from grokscope.analysis.pipeline import analyze_run, default_measures


def test_distance_from_init_per_tensor_and_totals():
    init = {"W_in": torch.zeros(1, 2, 2), "b_in": torch.ones(1, 2)}
    now = {"W_in": torch.tensor([[[3.0, 0.0], [0.0, 4.0]]]), "b_in": torch.tensor([[1.0, -1.0]])}
    d = distance_from_init(now, init)
    assert d["dist_init_W_in"] == pytest.approx(5.0)  # sqrt(9 + 16)
    assert d["dist_init_b_in"] == pytest.approx(2.0)  # |−1 − 1|
    assert d["dist_init"] == pytest.approx(math.sqrt(25 + 4))
    assert d["dist_init_l1"] == pytest.approx(3 + 4 + 2)
    assert d["dist_init_rel"] == pytest.approx(math.sqrt(29) / math.sqrt(2))  # ‖w_0‖ = ‖b_in‖ = sqrt(2)
    assert distance_from_init(init, init)["dist_init"] == 0.0
    with pytest.raises(ValueError, match="parameter names differ"):
        distance_from_init({"W_in": init["W_in"]}, init)


def _planted(n_in: int = 10, d: int = 20, rel=(0, 1, 2)) -> np.ndarray:
    """A first layer [n_in, d]: neurons 0–3 read only the relevant bits (weight 2 on each), the other
    16 only the irrelevant ones (weight 0.5 on each)."""
    w = np.zeros((n_in, d))
    irr = [i for i in range(n_in) if i not in rel]
    w[np.ix_(list(rel), range(4))] = 2.0
    w[np.ix_(irr, range(4, d))] = 0.5
    return w


def test_sparse_neuron_stats_on_a_planted_layer():
    s = sparse_neuron_stats(_planted(), relevant=[0, 1, 2], top=4)
    rel_sq, irr_sq = 4 * 3 * 4.0, 16 * 7 * 0.25  # Σ r_j² = 48, Σ o_j² = 28
    assert s["rel_share"] == pytest.approx(rel_sq / (rel_sq + irr_sq))
    assert s["rel_enrichment"] == pytest.approx(rel_sq / (rel_sq + irr_sq) / 0.3)
    assert s["top_rel_norm"] == pytest.approx(math.sqrt(12))  # ‖(2, 2, 2)‖
    assert s["rest_rel_norm"] == 0.0 and s["top_rest_ratio"] == math.inf
    assert s["top_norm_share"] == pytest.approx(48 / 76)  # the 4 relevant neurons are also the largest
    assert s["n_sparse_neurons"] == 4.0


def test_sparse_neuron_stats_default_top_is_2_to_the_k_and_isotropic_weights_sit_at_chance():
    w = np.random.default_rng(0).normal(size=(40, 4000))
    s = sparse_neuron_stats(w, relevant=[0, 1, 2])
    assert s["rel_enrichment"] == pytest.approx(1.0, abs=0.03)  # share ≈ k/n at an isotropic init
    assert s["n_sparse_neurons"] == 0.0  # r² ~ χ²₃ never beats o² ~ χ²₃₇ here
    # top = 2^3 = 8 neurons: planting one strong relevant neuron among 8 identical ones moves the mean by 1/8
    w2 = np.zeros((40, 20))
    w2[:3, :8] = 1.0
    w2[:3, 0] = 9.0
    s2 = sparse_neuron_stats(w2, relevant=[0, 1, 2])
    assert s2["top_rel_norm"] == pytest.approx((math.sqrt(3 * 81) + 7 * math.sqrt(3)) / 8)
    with pytest.raises(ValueError, match="relevant inputs"):
        sparse_neuron_stats(w2, relevant=[])


def test_the_measures_are_declared_for_the_right_tasks_and_run_by_default_on_dense_parity_runs(tmp_path):
    reg = registry()
    assert reg["init_distance"].tasks is None and reg["sparse_neurons"].tasks == ("parity",)
    run = grokscope.run(tiny_dense("parity"), out=tmp_path)
    assert run.checkpoint_steps()[0] == 0  # w_0 is the step-0 checkpoint
    assert {"init_distance", "sparse_neurons"} <= set(default_measures(run))
    table = analyze_run(run.path).table
    assert table["dist_init"].iloc[0] == 0.0 and (table["dist_init"].iloc[1:] > 0).all()
    last = run.checkpoint_steps()[-1]
    w0, wt = run.params(0), run.params(last)
    expected = float(torch.sqrt(sum(((wt[k] - w0[k]).double() ** 2).sum() for k in w0)))
    assert table["dist_init"].iloc[-1] == pytest.approx(expected)
    w_in = wt["W_in"][0].double().numpy()
    assert table["rel_share"].iloc[-1] == pytest.approx(sparse_neuron_stats(w_in, [0, 1])["rel_share"])


def test_sparse_neurons_do_not_apply_to_digits_but_init_distance_does(tmp_path):
    run = grokscope.run(tiny_dense("digits", "train.steps=40"), out=tmp_path)
    names = default_measures(run)
    assert "init_distance" in names and "sparse_neurons" not in names
