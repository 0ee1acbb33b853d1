"""Sparse parity (Barak et al. 2022; Merrill, Tsilivis, Shukla 2023): n_bits uniform ±1 bits; the
label is the parity of the first k of them (1 when an odd number of them is -1). Any fixed set of
k bits is equivalent for a model whose init treats input coordinates alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from grokscope.tasks.dense import DenseTask

if TYPE_CHECKING:
    from grokscope.config import TaskConfig


def make(cfg: TaskConfig) -> DenseTask:
    """n_train + n_test examples drawn from `data_seed` (independent draws: a test string may repeat a
    training one, as in the papers' sampled test sets)."""
    rng = np.random.default_rng([cfg.data_seed, 0])
    n = cfg.n_train + cfg.n_test
    x = rng.choice(np.array([-1.0, 1.0]), size=(n, cfg.n_bits))  # [N, n_bits]
    y = (x[:, : cfg.k] < 0).sum(axis=1) % 2  # [N] parity of the relevant bits
    return DenseTask(x=x, y=y.astype(np.int64), n_out=2, n_train=cfg.n_train, meta={"relevant": list(range(cfg.k))})
