import itertools

import numpy as np
import pytest

from grokscope.config import TaskConfig
from grokscope.tasks import OPS, make_split, make_task, s5_table, split_counts

P = 13
PYTHON_OPS = {
    "add": lambda x, y: (x + y) % P,
    "sub": lambda x, y: (x - y) % P,
    "mul": lambda x, y: (x * y) % P,
    "div": lambda x, y: (x * pow(y, -1, P)) % P,
    "odd_div_sub": lambda x, y: (x * pow(y, -1, P)) % P if y % 2 else (x - y) % P,
    "x2_y2": lambda x, y: (x**2 + y**2) % P,
    "x2_xy_y2": lambda x, y: (x**2 + x * y + y**2) % P,
    "x2_xy_y2_x": lambda x, y: (x**2 + x * y + y**2 + x) % P,
    "x3_xy": lambda x, y: (x**3 + x * y) % P,
    "x3_xy2_y": lambda x, y: (x**3 + x * y**2 + y) % P,
}


@pytest.mark.parametrize("op", sorted(PYTHON_OPS))
def test_modular_ops_match_python(op):
    task = make_task(TaskConfig(op=op, p=P))
    expected = [PYTHON_OPS[op](int(x), int(y)) for x, y in zip(task.a, task.b)]
    assert task.c.tolist() == expected
    n_pairs = P * (P - 1) if op == "div" else P * P
    assert task.n_pairs == n_pairs and task.c.max() < P


def _compose(x, y):  # (x∘y)(i) = x(y(i))
    return tuple(x[y[i]] for i in range(5))


def _inverse(x):
    inv = [0] * 5
    for i, xi in enumerate(x):
        inv[xi] = i
    return tuple(inv)


@pytest.mark.parametrize(
    "op, fn",
    [("s5_xy", lambda x, y: _compose(x, y)),
     ("s5_xyxinv", lambda x, y: _compose(_compose(x, y), _inverse(x))),
     ("s5_xyx", lambda x, y: _compose(_compose(x, y), x))],
)
def test_s5_ops_match_permutations(op, fn):
    perms = list(itertools.permutations(range(5)))
    task = make_task(TaskConfig(op=op))
    assert task.n == 120 and task.n_pairs == 120 * 120
    rng = np.random.default_rng(1)
    for i in rng.choice(task.n_pairs, 500, replace=False):
        x, y = perms[task.a[i]], perms[task.b[i]]
        assert perms[task.c[i]] == fn(x, y)


def test_s5_is_a_group():
    table, inverse = s5_table()
    identity = 0  # (0, 1, 2, 3, 4) is first in lexicographic order
    assert (table[np.arange(120), inverse] == identity).all()
    assert all(sorted(row) == list(range(120)) for row in table)  # Latin square


def test_stratified_split_takes_the_same_share_of_every_answer():
    cfg = TaskConfig(op="add", p=23, frac_train=0.3, split="stratified", data_seed=4)
    task = make_task(cfg)
    split = make_split(cfg, task)
    per_class = np.bincount(task.c[split.train_idx], minlength=23)
    assert (per_class == round(0.3 * 23)).all()
    assert len(split.train_idx) + len(split.test_idx) == task.n_pairs
    assert not set(split.train_idx) & set(split.test_idx)
    assert (len(split.train_idx), len(split.test_idx)) == split_counts(cfg, task)


def test_random_split_size_and_seed_determinism():
    cfg = TaskConfig(p=17, frac_train=0.4, split="random", data_seed=3)
    task = make_task(cfg)
    s1, s2 = make_split(cfg, task), make_split(cfg, task)
    assert len(s1.train_idx) == round(0.4 * 17 * 17)
    assert (s1.train_idx == s2.train_idx).all()
    other = make_split(TaskConfig(p=17, frac_train=0.4, split="random", data_seed=4), task)
    assert (s1.train_idx != other.train_idx).any()


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.3])
def test_uniform_wrong_noise_corrupts_exactly_floor_alpha_n_and_every_label_is_wrong(alpha):
    cfg = TaskConfig(p=23, frac_train=0.5, noise=alpha, noise_kind="uniform_wrong")
    task = make_task(cfg)
    split = make_split(cfg, task)
    clean = task.c[split.train_idx]
    assert split.corrupted.sum() == int(np.floor(alpha * len(split.train_idx)))
    assert (split.train_labels[split.corrupted] != clean[split.corrupted]).all()
    assert (split.train_labels[~split.corrupted] == clean[~split.corrupted]).all()
    assert split.train_labels.min() >= 0 and split.train_labels.max() < 23


def test_uniform_any_noise_resamples_exact_count():
    cfg = TaskConfig(p=7, frac_train=0.9, noise=0.5, noise_kind="uniform_any", data_seed=1)
    split = make_split(cfg, make_task(cfg))
    clean = make_task(cfg).c[split.train_idx]
    assert split.corrupted.sum() == int(0.5 * len(split.train_idx))
    # with 7 classes about 1/7 of resampled labels land on the true one
    same = (split.train_labels[split.corrupted] == clean[split.corrupted]).mean()
    assert 0.0 < same < 0.5


def test_symmetric_pairs_only():
    task = make_task(TaskConfig(p=67, symmetric=True))
    assert task.n_pairs == 67 * 68 // 2 == 2278 and (task.a <= task.b).all()


def test_every_op_is_registered():
    assert len(OPS) == 13
