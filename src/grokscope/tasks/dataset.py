"""The modular task — all pairs (a, b) of an operation over Z_n — its train/test split, and label
noise on the training split (shared with the other class-label tasks).

Everything is numpy and seeded by `data_seed`, so a split is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from grokscope.errors import ConfigError
from grokscope.tasks.ops import OPS, n_elements

if TYPE_CHECKING:  # tasks sit below config: they read a TaskConfig's fields, never build one
    from grokscope.config import TaskConfig


@dataclass(frozen=True)
class Task:
    """Every (a, b) -> c triple of an operation, in row-major order over (a, b)."""

    a: np.ndarray  # [N] int64
    b: np.ndarray  # [N] int64
    c: np.ndarray  # [N] int64, clean answers
    n: int  # operands and answers are in 0..n-1
    full_grid: bool  # True when the triples are all n*n pairs in row-major order
    inputs: ClassVar[str] = "pairs"  # what a model family must take (config.TaskKind.inputs)
    targets_kind: ClassVar[str] = "classes"
    acc_eps: ClassVar[None] = None

    @property
    def n_pairs(self) -> int:
        """Examples (pairs) in the task."""
        return len(self.a)

    @property
    def n_in(self) -> int:
        """Input vocabulary (operands are 0..n-1)."""
        return self.n

    @property
    def n_out(self) -> int:
        return self.n

    @property
    def targets(self) -> np.ndarray:
        return self.c

    def model_inputs(self) -> tuple[np.ndarray, ...]:
        """What a model's forward takes for every example: (a, b)."""
        return self.a, self.b

    def split(self, cfg: TaskConfig) -> Split:
        """The train/test split and (noisy) training labels `cfg` asks for (`split_modular`)."""
        return split_modular(cfg, self)


@dataclass(frozen=True)
class Split:
    """A train/test split with (possibly noisy) training labels."""

    train_idx: np.ndarray  # [n_train] indices into the task's pairs
    test_idx: np.ndarray  # [n_test]
    train_labels: np.ndarray  # [n_train] labels the model is trained on (noisy where corrupted)
    corrupted: np.ndarray  # [n_train] bool, True where the label was changed or resampled


def make_modular(cfg: TaskConfig) -> Task:
    """All triples in the op's domain (and a <= b when `symmetric`)."""
    op = OPS[cfg.op]
    n = n_elements(op, cfg.p)
    a, b = (x.ravel().astype(np.int64) for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    keep = np.ones_like(a, dtype=bool)
    if op.domain is not None:
        keep &= op.domain(a, b, cfg.p)
    if cfg.symmetric:
        keep &= a <= b
    a, b = a[keep], b[keep]
    return Task(a=a, b=b, c=op.fn(a, b, cfg.p).astype(np.int64), n=n, full_grid=bool(keep.all()))


def split_counts(cfg: TaskConfig, task: Task) -> tuple[int, int]:
    """(n_train, n_test) that `make_split` produces — equal for every data_seed."""
    if cfg.split == "stratified":
        counts = np.bincount(task.c, minlength=task.n)
        n_train = int(np.round(cfg.frac_train * counts).sum())
    elif cfg.split == "np_legacy":
        n_train = int(cfg.frac_train * task.n_pairs)
    else:
        n_train = int(round(cfg.frac_train * task.n_pairs))
    return n_train, task.n_pairs - n_train


def split_modular(cfg: TaskConfig, task: Task) -> Split:
    """Split by `frac_train` (random, or stratified: round(frac * count) pairs of each answer, or
    np_legacy: the PAIR notebook's split, `np.random.seed(data_seed)` then the first
    int(frac * N) of `np.random.permutation(N)` over the pairs in row-major order), then corrupt
    exactly floor(noise * n_train) training labels."""
    rng = np.random.default_rng(cfg.data_seed)
    if cfg.split == "stratified":
        chosen = []
        for label in range(task.n):
            members = np.flatnonzero(task.c == label)
            k = int(np.round(cfg.frac_train * len(members)))
            chosen.append(rng.permutation(members)[:k])
        train_idx = np.sort(np.concatenate(chosen))
    elif cfg.split == "np_legacy":  # numpy's legacy Mersenne-Twister stream, fixed by numpy's policy
        n_train = int(cfg.frac_train * task.n_pairs)
        train_idx = np.sort(np.random.RandomState(cfg.data_seed).permutation(task.n_pairs)[:n_train])
    else:
        n_train = int(round(cfg.frac_train * task.n_pairs))
        train_idx = np.sort(rng.permutation(task.n_pairs)[:n_train])
    if len(train_idx) == 0 or len(train_idx) == task.n_pairs:
        raise ConfigError(
            f"task.frac_train={cfg.frac_train} leaves an empty split of {task.n_pairs} pairs"
        )
    test_idx = np.setdiff1d(np.arange(task.n_pairs), train_idx)

    labels, corrupted = corrupt(task.c[train_idx], cfg, rng, task.n)
    return Split(train_idx=train_idx, test_idx=test_idx, train_labels=labels, corrupted=corrupted)


def corrupt(labels: np.ndarray, cfg: TaskConfig, rng: np.random.Generator, n_classes: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """(training labels with exactly floor(noise * n) of them corrupted, which ones) — `noise_kind`
    uniform_wrong draws a random *other* class, uniform_any any class."""
    labels = labels.copy()
    corrupted = np.zeros(len(labels), dtype=bool)
    n_noisy = int(np.floor(cfg.noise * len(labels)))
    if n_noisy:
        where = rng.choice(len(labels), size=n_noisy, replace=False)
        if cfg.noise_kind == "uniform_wrong":  # shift by 1..n-1
            labels[where] = (labels[where] + rng.integers(1, n_classes, size=n_noisy)) % n_classes
        else:
            labels[where] = rng.integers(0, n_classes, size=n_noisy)
        corrupted[where] = True
    return labels, corrupted
