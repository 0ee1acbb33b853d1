"""A linear teacher (Levi, Beck, Bar-Sinai 2023): inputs x ~ N(0, I_d_in), targets y = x · w* with
w* ~ N(0, I / d_in) (so Var y ≈ 1); an example counts as right when the squared error of the
prediction is below `acc_eps`, which turns a regression's smooth losses into accuracies that can grok."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from grokscope.tasks.dense import DenseTask

if TYPE_CHECKING:
    from grokscope.config import TaskConfig


def make(cfg: TaskConfig) -> DenseTask:
    rng = np.random.default_rng([cfg.data_seed, 0])
    w_star = rng.standard_normal(cfg.d_in) / np.sqrt(cfg.d_in)  # [d_in]
    x = rng.standard_normal((cfg.n_train + cfg.n_test, cfg.d_in))  # [N, d_in]
    y = (x @ w_star)[:, None]  # [N, 1]
    return DenseTask(x=x, y=y, n_out=1, n_train=cfg.n_train, acc_eps=cfg.acc_eps, meta={"w_star": w_star.tolist()})
