"""Shared fixtures: seeded RNGs and tiny configs (p = 7–23) that train in seconds."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from grokscope.presets import load_preset


@pytest.fixture(autouse=True)
def _seed_everything_one_thread():
    """Seed every RNG; one torch thread (fastest for tiny models, no oversubscription)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_mlp(*sets: str):
    """The default MLP shrunk to p = 11: a few hundred steps run in about a second."""
    return load_preset("swaroop2026").override(
        ["task.p=11", "task.frac_train=0.6", "model.d_mlp=32", "train.steps=300",
         "train.eval_every=50", "train.checkpoint_every=100", "train.patience=0",
         "optim.lr=3e-3", *sets]
    )


def tiny_transformer(*sets: str):
    return load_preset("nanda2023").override(
        ["task.p=7", "task.frac_train=0.6", "model.d_model=16", "model.n_heads=2",
         "model.d_mlp=32", "train.steps=60", "train.eval_every=20",
         "train.checkpoint_every=20", *sets]
    )


@pytest.fixture
def mlp_cfg():
    return tiny_mlp()


@pytest.fixture
def tf_cfg():
    return tiny_transformer()
