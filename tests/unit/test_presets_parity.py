"""The sparse-parity presets carry their papers' recipes and train as they are (shrunk)."""

import pytest

from grokscope.presets import describe, load_preset
from grokscope.train import MemorySink
from grokscope.train.loop import train


def test_merrill_preset_is_the_papers_setting():
    cfg = load_preset("merrill2023")
    assert (cfg.task.name, cfg.task.n_bits, cfg.task.k, cfg.task.n_train, cfg.task.n_test) == ("parity", 40, 3, 1000, 1000)
    assert (cfg.model.arch, cfg.model.n_layers, cfg.model.d_mlp, cfg.model.act) == ("dense", 1, 1000, "relu")
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.momentum) == ("sgd", 0.1, 0.01, 0.0)
    assert (cfg.train.batch_size, cfg.train.loss, cfg.train.stop_test_acc) == (32, "ce", 0.99)


def test_barak_preset_is_near_online_parity_with_the_same_network():
    cfg, merrill = load_preset("barak2022"), load_preset("merrill2023")
    assert (cfg.task.n_bits, cfg.task.k, cfg.task.n_train) == (50, 3, 100_000)
    assert cfg.model == merrill.model and cfg.optim == merrill.optim
    assert cfg.train.batch_size == 32


@pytest.mark.parametrize("name", ["merrill2023", "barak2022"])
def test_parity_presets_describe_themselves_and_train_a_few_steps(name):
    assert describe()[name].startswith(("Merrill", "Barak"))
    cfg = load_preset(name).override(["task.n_train=64", "task.n_test=32", "model.d_mlp=16", "train.steps=20",
                                      "train.eval_every=10", "train.checkpoint_every=10"])
    sink = MemorySink()
    (summary,) = train([cfg], [sink])
    assert summary["steps"] == 20 and 0.0 <= summary["final_test_acc"] <= 1.0
