import math

import numpy as np
import pytest

from grokscope.analysis.progress import (
    cross_entropy,
    excluded_logits,
    excluded_loss,
    excluded_loss_per_frequency,
    gini,
    restricted_logits,
    restricted_loss,
    sum_directions,
)


def clock_logits(p, keys, alphas, bias=None):
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    L = sum(al * np.cos(2 * np.pi * k * (a + b - c) / p) for k, al in zip(keys, alphas))
    return L + (0 if bias is None else bias[None, None, :])


def test_sum_directions_are_orthonormal():
    p = 13
    dirs = [d for k in (1, 2, 5) for d in sum_directions(p, k)]
    G = np.array([[np.sum(x * y) for y in dirs] for x in dirs])
    np.testing.assert_allclose(G, np.eye(len(dirs)), atol=1e-12)


def test_restricted_loss_of_exact_clock_equals_full_loss():
    p, keys = 13, [2, 5]
    bias = np.random.default_rng(0).normal(size=p)
    L = clock_logits(p, keys, [3.0, 2.0], bias)
    idx = np.arange(p * p)
    labels = (idx // p + idx % p) % p
    full = cross_entropy(L.reshape(-1, p), labels)
    np.testing.assert_allclose(restricted_logits(L, keys), L, atol=1e-10)
    assert restricted_loss(L, keys, idx, labels) == pytest.approx(full, rel=1e-10)
    # removing the keys leaves only the per-class bias: no information about a + b
    np.testing.assert_allclose(excluded_logits(L, keys), np.broadcast_to(bias, L.shape), atol=1e-10)
    assert excluded_loss(L, keys, idx, labels) > full + 1.0


def test_restricted_loss_drops_non_key_frequencies():
    p = 11
    L = clock_logits(p, [1, 3], [4.0, 4.0])
    idx = np.arange(p * p)
    labels = (idx // p + idx % p) % p
    only1 = clock_logits(p, [1], [4.0])
    assert restricted_loss(L, [1], idx, labels) == pytest.approx(cross_entropy(only1.reshape(-1, p), labels))
    per = excluded_loss_per_frequency(L, idx, labels)
    assert per.shape == ((p - 1) // 2,)
    assert per[0] > per[1] and per[2] > per[1]  # removing a used frequency hurts, an unused one not


def test_gini():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini(np.eye(10)[0]) == pytest.approx(1 - 1 / 10)
    assert 0 < gini([1, 2, 3, 10]) < 1
    assert gini([0, 0]) == 0.0
    assert math.isclose(gini([5.0]), 0.0)
