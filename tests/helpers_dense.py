"""Tiny configs of the dense-input tasks (parity, digits, teacher): each trains in about a second."""

from grokscope.config import RunConfig


def tiny_dense(task: str, *sets: str) -> RunConfig:
    """A dense-MLP run on `task` shrunk to tens of examples and a width-16 hidden layer."""
    base = {"parity": ["task.n_bits=8", "task.k=2", "task.n_train=64", "task.n_test=64"],
            "digits": ["task.n_train=200"],
            "teacher": ["task.d_in=8", "task.n_train=16", "task.n_test=32", "model.n_layers=0",
                        "model.bias=false", "train.loss=mse", "optim.name=sgd", "optim.weight_decay=0",
                        "optim.lr=0.05"]}[task]
    return RunConfig(preset="tiny").override(
        [f"task.name={task}", "model.arch=dense", "model.d_mlp=16", "train.steps=120", "train.eval_every=20",
         "train.checkpoint_every=40", "train.stop_test_acc=1.1", "optim.lr=3e-3", *base, *sets])
