import numpy as np
import pytest

from grokscope.analysis.algorithms import (
    algorithm_measures,
    circularity,
    classify_algorithm,
    distance_irrelevance,
    gradient_symmetricity,
    template_fve,
)
from grokscope.config import ModelConfig, TaskConfig
from grokscope.models import build_model
from grokscope.tasks import make_task

P = 17


def grid(p, fn):
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    return fn(a, b, c)


def clock(p, k=3):
    return grid(p, lambda a, b, c: np.cos(2 * np.pi * k * (a + b - c) / p))


def pizza(p, k=3):
    w = 2 * np.pi * k / p
    return grid(p, lambda a, b, c: np.abs(np.cos(w * (a - b) / 2)) * np.cos(w * (a + b - c)))


def test_distance_irrelevance_clock_vs_pizza():
    assert distance_irrelevance(clock(P) + 0.01 * np.random.default_rng(0).normal(size=(P, P, P))) > 0.9
    assert distance_irrelevance(pizza(P)) < 0.6


def test_template_fve():
    assert template_fve(clock(P), [3], "clock") == pytest.approx(1.0)
    assert template_fve(pizza(P), [3], "pizza") == pytest.approx(1.0)
    assert template_fve(pizza(P), [3], "clock") < 0.95


def test_circularity_of_a_circle():
    a = np.arange(P)
    E = np.stack([np.cos(2 * np.pi * 4 * a / P), np.sin(2 * np.pi * 4 * a / P)], axis=1)
    assert circularity(E) == pytest.approx(1.0)
    assert circularity(np.random.default_rng(0).normal(size=(P, 8))) < 0.7


def test_classify():
    assert classify_algorithm(0.3, 0.97) == "clock"
    assert classify_algorithm(0.99, 0.4) == "pizza"
    assert classify_algorithm(0.5, 0.4) == "mixed"


def test_gradient_symmetricity_two_hot_is_one():
    cfg = ModelConfig(arch="mlp", d_mlp=16)
    model = build_model(cfg, 7)
    # ∂Q_c/∂W_a[a] = ∂Q_c/∂W_b[b] = relu'(pre) ⊙ W_out[:, c] exactly
    assert gradient_symmetricity(model, model.init([0]), 7, n_samples=10) == pytest.approx(1.0)


def test_algorithm_measures_on_tiny_transformer():
    cfg = ModelConfig(arch="transformer", d_model=16, n_heads=2, d_mlp=32)
    model = build_model(cfg, 7)
    out = algorithm_measures(model, model.init([0]), make_task(TaskConfig(p=7)), n_samples=10)
    assert -1 <= out["gradient_symmetricity"] <= 1 and out["algorithm"] in ("clock", "pizza", "mixed")
    assert set(out) >= {"distance_irrelevance", "circularity", "fve_clock", "fve_pizza"}
