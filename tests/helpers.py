"""Tiny configs (p = 7–11) that train in about a second; import as `from tests.helpers import ...`."""

from __future__ import annotations

from grokscope.presets import load_preset


def tiny_mlp(*sets: str):
    """The default MLP shrunk to p = 11: a few hundred steps run in about a second."""
    return load_preset("swaroop2026").override(
        ["task.p=11", "task.frac_train=0.6", "model.d_mlp=32", "train.steps=300",
         "train.eval_every=50", "train.checkpoint_every=100", "train.patience=0",
         "optim.lr=3e-3", *sets]
    )


def tiny_transformer(*sets: str):
    """The Nanda transformer shrunk to p = 7, d_model 16: tens of steps in well under a second."""
    return load_preset("nanda2023").override(
        ["task.p=7", "task.frac_train=0.6", "model.d_model=16", "model.n_heads=2",
         "model.d_mlp=32", "train.steps=60", "train.eval_every=20",
         "train.checkpoint_every=20", *sets]
    )
