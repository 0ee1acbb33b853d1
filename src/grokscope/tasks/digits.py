"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; read from the package, never
downloaded) — the stand-in here for Omnigrok's MNIST. Pixels scaled to [0, 1]; the images are
shuffled by `data_seed` and the first n_train are the training set, the rest the test set."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from grokscope.tasks.dense import DenseTask

if TYPE_CHECKING:
    from grokscope.config import TaskConfig


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # local: scikit-learn loads only for this task

    data = load_digits()
    return data.data / 16.0, data.target.astype(np.int64)  # [1797, 64] in [0, 1], [1797]


def make(cfg: TaskConfig) -> DenseTask:
    x, y = _digits()
    order = np.random.default_rng([cfg.data_seed, 0]).permutation(len(x))
    return DenseTask(x=x[order], y=y[order], n_out=10, n_train=cfg.n_train)
