import numpy as np
import torch

from grokscope.analysis.views import (
    embedding_matrix,
    has_embedding,
    neuron_input_weights,
    neuron_output_weights,
    take_model,
    unstack,
)
from grokscope.config import ModelConfig


def test_unstack_and_take_model():
    params = {"W": torch.arange(24.0).reshape(2, 3, 4)}
    assert unstack(params, 1)["W"].shape == (3, 4)
    assert take_model(params, 1)["W"].shape == (1, 3, 4)
    assert torch.equal(take_model(params, 1)["W"][0], unstack(params, 1)["W"])


def test_two_hot_views_are_the_weight_matrices():
    p, d = 7, 5
    cfg = ModelConfig(arch="mlp", input="two_hot", d_mlp=d, bias=False)
    rng = np.random.default_rng(0)
    W_a, W_b, W_out = rng.normal(size=(p, d)), rng.normal(size=(p, d)), rng.normal(size=(d, p))
    params = {"W_a": torch.tensor(W_a), "W_b": torch.tensor(W_b), "W_out": torch.tensor(W_out)}
    a, b = neuron_input_weights(params, cfg, p)
    np.testing.assert_array_equal(a, W_a)
    np.testing.assert_array_equal(b, W_b)
    np.testing.assert_array_equal(neuron_output_weights(params, cfg), W_out)
    assert embedding_matrix(params, cfg, p).shape[0] == p
    assert not has_embedding(cfg)
