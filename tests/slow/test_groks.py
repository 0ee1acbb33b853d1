"""It really groks: small models memorise first and generalise much later (minutes on a CPU)."""

import pytest

import grokscope
from grokscope.presets import load_preset

pytestmark = pytest.mark.slow


def _assert_grokked(summary):
    assert summary["stop_reason"] == "test_acc_reached", summary
    assert summary["final_test_acc"] >= 0.99
    # the signature of grokking: train accuracy saturates long before test accuracy
    assert summary["t_train99"] is not None and summary["t_val99"] >= 5 * max(summary["t_train99"], 1)


def test_small_relu_mlp_groks(tmp_path):
    cfg = load_preset("swaroop2026").override(
        ["task.p=23", "task.frac_train=0.7", "model.d_mlp=128", "optim.lr=3e-3",
         "train.steps=15000", "train.stop_test_acc=0.99", "train.patience=0"])
    _assert_grokked(grokscope.run(cfg, out=tmp_path).summary)


def test_small_one_layer_transformer_groks(tmp_path):
    cfg = load_preset("nanda2023").override(
        ["task.p=23", "task.frac_train=0.7", "model.d_model=64", "model.d_mlp=128",
         "optim.lr=3e-3", "train.steps=4000", "train.stop_test_acc=0.99"])
    _assert_grokked(grokscope.run(cfg, out=tmp_path).summary)
