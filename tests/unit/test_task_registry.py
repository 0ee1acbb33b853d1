"""Tasks as a registry of datasets: each task builds what its entry declares; families and measures
are paired with the tasks they take; bad pairings and sizes are one-line config errors."""

import numpy as np
import pytest
import torch
from tests.helpers_dense import tiny_dense

from grokscope.config import FAMILIES, TASKS, RunConfig
from grokscope.errors import ConfigError
from grokscope.tasks import make_split, make_task
from grokscope.train import MemorySink
from grokscope.train.loop import train


@pytest.mark.parametrize("name", ["modular", "parity", "digits", "teacher"])
def test_every_task_builds_what_its_entry_declares(name):
    cfg = RunConfig().task if name == "modular" else tiny_dense(name).task
    kind, task = TASKS.get(name), make_task(cfg)
    assert task.inputs == kind.inputs and task.targets_kind == kind.targets
    inputs = task.model_inputs()
    assert all(len(x) == task.n_pairs for x in inputs) and len(task.targets) == task.n_pairs
    split = make_split(cfg, task)
    assert not set(split.train_idx) & set(split.test_idx)
    assert len(split.train_idx) + len(split.test_idx) == task.n_pairs
    assert any(f.inputs == kind.inputs for _, f in FAMILIES.items())  # some family takes it


def test_parity_labels_are_the_parity_of_the_first_k_bits_and_the_seed_draws_new_strings():
    cfg = tiny_dense("parity", "task.n_bits=10", "task.k=3").task
    task = make_task(cfg)
    assert set(np.unique(task.x)) == {-1.0, 1.0}
    np.testing.assert_array_equal(task.y, (np.prod(task.x[:, :3], axis=1) < 0).astype(int))
    other = make_task(RunConfig().override(["task.name=parity", "task.n_bits=10", "task.k=3",
                                            "task.n_train=64", "task.n_test=64", "task.data_seed=1",
                                            "model.arch=dense"]).task)
    assert not np.array_equal(task.x, other.x)


def test_digits_are_sklearns_images_split_without_overlap():
    task = make_task(tiny_dense("digits").task)
    assert task.x.shape == (1797, 64) and task.n_out == 10 and 0 <= task.x.min() and task.x.max() == 1.0
    assert np.bincount(task.y).min() > 150  # every digit present
    split = make_split(tiny_dense("digits").task, task)
    assert len(split.train_idx) == 200 and len(split.test_idx) == 1597


@pytest.mark.parametrize(("sets", "message"), [
    (["task.name=digits"], "model.arch 'mlp' takes pairs inputs but task 'digits' yields dense ones; use model.arch = 'dense'"),
    (["model.arch=dense"], "model.arch 'dense' takes dense inputs but task 'modular' yields pairs ones"),
    (["task.name=parity", "model.arch=dense", "task.n_bits=5", "task.k=6"], "task.k must be in 1..n_bits (5), got 6"),
    (["task.name=digits", "model.arch=dense", "task.n_train=1797"], "task.n_train must be < 1797"),
    (["task.name=teacher", "model.arch=dense"], "task 'teacher' has real-valued targets: it needs train.loss = 'mse'"),
    (["task.name=teacher", "model.arch=dense", "train.loss=mse", "task.noise=0.1"], "task.noise applies to class labels"),
    (["task.name=parity", "model.arch=dense", "task.n_test=0"], "task.n_test must be >= 1, got 0"),
    (["task.name=nope"], "task.name must be one of modular, parity, digits, teacher, got 'nope'"),
])
def test_bad_task_model_pairings_and_sizes_are_config_errors(sets, message):
    with pytest.raises(ConfigError, match=None) as err:
        RunConfig().override(sets)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_dense_task_ignores_the_modular_fields_and_keeps_run_ids_of_modular_runs():
    """Dense tasks read only their own fields (a bad p is not their concern); a modular run's id
    does not depend on the dense fields' defaults."""
    assert tiny_dense("parity", "task.p=2").task.p == 2  # not checked: parity does not read it
    assert RunConfig().run_id == RunConfig().override(["task.n_bits=40"]).run_id


def test_dense_ensemble_with_per_model_data_seeds_equals_separate_runs():
    """Each model of a dense stack trains on its own draw of examples (data_seed), exactly as alone."""
    base = tiny_dense("parity", "train.batch_size=16")
    cfgs = [base, base.override(["task.data_seed=1", "train.seed=1", "optim.lr=5e-3"]),
            base.override(["task.data_seed=2", "task.noise=0.1", "optim.weight_decay=0.3"])]
    stack = [MemorySink() for _ in cfgs]
    train(cfgs, stack, dtype=torch.float64)
    for cfg, member in zip(cfgs, stack, strict=True):
        alone = MemorySink()
        train([cfg], [alone], dtype=torch.float64)
        for ra, rb in zip(member.rows, alone.rows, strict=True):
            for key in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm"):
                assert ra[key] == pytest.approx(rb[key], rel=1e-9, abs=1e-12), (key, ra["step"])
    assert stack[0].rows[-1]["test_loss"] != stack[1].rows[-1]["test_loss"]  # the seeds did differ


def test_regression_accuracy_is_the_share_of_examples_with_squared_error_below_acc_eps():
    cfg = tiny_dense("teacher", "task.acc_eps=0.05")
    sink = MemorySink()
    train([cfg], [sink], dtype=torch.float64)
    task, split = make_task(cfg.task), make_split(cfg.task, make_task(cfg.task))
    step = 40  # a scheduled checkpoint that is also an evaluation
    w = sink.checkpoints[(step, "scheduled")]["W_out"].double().numpy()  # [d_in, 1]
    err = ((task.x @ w - task.y) ** 2).ravel()
    row = next(r for r in sink.rows if r["step"] == step)
    assert row["test_acc"] == pytest.approx(np.mean(err[split.test_idx] < 0.05))
    assert row["train_acc"] == pytest.approx(np.mean(err[split.train_idx] < 0.05))
    assert row["test_loss"] == pytest.approx(err[split.test_idx].mean(), rel=1e-9)
    assert 0 < row["test_acc"] < 1  # measured 0.688: the threshold splits the test examples here
