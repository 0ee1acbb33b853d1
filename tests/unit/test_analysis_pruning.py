import numpy as np

from grokscope.analysis.pruning import prune_neurons, prune_order, pruning_curve
from grokscope.config import ModelConfig, TaskConfig
from grokscope.models import build_model
from grokscope.tasks import make_split, make_task


def test_prune_neurons_zeroes_the_right_slices():
    cfg = ModelConfig(arch="mlp", d_mlp=8)
    model = build_model(cfg, 5)
    params = model.init([0])
    pruned = prune_neurons(params, model, [1, 3])
    for name in ("W_a", "W_b"):
        assert pruned[name][..., [1, 3]].abs().sum() == 0 and pruned[name][..., 0].abs().sum() > 0
    assert pruned["W_out"][:, [1, 3]].abs().sum() == 0 and pruned["b_in"][:, [1, 3]].abs().sum() == 0
    assert params["W_a"][..., 1].abs().sum() > 0  # the original is untouched


def test_prune_transformer_neurons():
    cfg = ModelConfig(arch="transformer", d_model=8, n_heads=2, d_mlp=16)
    model = build_model(cfg, 5)
    pruned = prune_neurons(model.init([0]), model, [0])
    assert pruned["blocks.0.mlp.W_in"][..., 0].abs().sum() == 0
    assert pruned["blocks.0.mlp.W_out"][:, 0].abs().sum() == 0


def test_prune_order():
    v = np.array([0.3, 0.1, 0.9])
    assert prune_order(v, "low_ipr").tolist() == [1, 0, 2]
    assert prune_order(v, "high_ipr").tolist() == [2, 0, 1]
    assert sorted(prune_order(v, "random").tolist()) == [0, 1, 2]


def test_pruning_curve_all_pruned_leaves_only_the_output_bias():
    tcfg = TaskConfig(p=7, noise=0.2, split="random", frac_train=0.5)
    task = make_task(tcfg)
    split = make_split(tcfg, task)
    model = build_model(ModelConfig(arch="mlp", d_mlp=8, bias=False), 7)
    rows = pruning_curve(model, model.init([0]), task, split, order="low_ipr", n_steps=4)
    assert [r["n_pruned"] for r in rows] == [0, 2, 4, 6, 8]
    assert set(rows[0]) >= {"train_acc", "test_acc", "corrupted_acc", "clean_train_acc"}
    # no bias, nothing left: all logits 0, argmax is class 0 everywhere
    assert rows[-1]["test_acc"] == np.mean(task.c[split.test_idx] == 0)
