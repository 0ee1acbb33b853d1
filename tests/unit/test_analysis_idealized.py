import numpy as np
import pytest
import torch

from grokscope.analysis.idealized import (
    PAPER_TABLE1,
    extract_idealized,
    gromov_model,
    ideal_weights,
    idealized_accuracy,
    random_idealized,
    table1,
)
from grokscope.config import ModelConfig
from grokscope.errors import GrokscopeError
from grokscope.models import build_model


def test_gromov_analytic_model_is_accurate_at_large_width():
    assert idealized_accuracy(gromov_model(1000, 23, seed=0), act="quadratic") >= 0.99


def test_gromov_is_poor_at_tiny_width():
    assert idealized_accuracy(gromov_model(4, 23, seed=0), act="quadratic") < 0.5


def test_sq_cos_at_512_is_perfect():
    assert idealized_accuracy(random_idealized(512, 97, "sq_cos", seed=0)) >= 0.999


def test_small_width_matches_paper_table1():
    for variant in ("cos_cos", "sq_cos", "sq_sq"):
        acc = np.mean([idealized_accuracy(random_idealized(16, 97, variant, s)) for s in range(10)])
        assert acc == pytest.approx(PAPER_TABLE1[16][variant], abs=0.03), variant


def test_ideal_weights_shapes_and_values():
    w = ideal_weights([1, 2], [0.0, 0.5], [0.0, 0.0], [0.0, 0.5], 7, "sq_sq")
    assert w["W_a"].shape == (7, 2) and w["W_out"].shape == (2, 7)
    assert set(np.unique(w["W_a"])) <= {-1.0, 1.0}
    with pytest.raises(GrokscopeError):
        ideal_weights([1], [0], [0], [0], 7, "tri_cos")


def test_extraction_from_planted_checkpoint_recovers_the_model():
    p, N = 23, 22  # ν_i = i mod p: N < p avoids ν = 0 neurons, which have no phase to extract
    w = random_idealized(N, p, "sq_cos", seed=1)
    cfg = ModelConfig(arch="mlp", input="two_hot", d_mlp=N, bias=False)
    params = {k: 0.45 * torch.tensor(v, dtype=torch.float32) for k, v in w.items()}  # scaled weights
    ext = extract_idealized(params, cfg, p, "sq_cos", "nu")
    assert idealized_accuracy(ext) == pytest.approx(idealized_accuracy(w))
    # the real model with those weights computes the same thing (positive scaling)
    model = build_model(cfg, p)
    a, b = (torch.from_numpy(x.ravel()) for x in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
    stacked = {k: v.unsqueeze(0) for k, v in params.items()}
    real = (model.forward(stacked, a, b)[0].argmax(-1) == (a + b) % p).float().mean().item()
    assert real == pytest.approx(idealized_accuracy(w))


def test_extraction_of_untrained_weights_is_at_chance():
    p = 23
    cfg = ModelConfig(arch="mlp", d_mlp=128, bias=True)
    params = {k: v[0] for k, v in build_model(cfg, p).init([0]).items()}
    acc = idealized_accuracy(extract_idealized(params, cfg, p))
    assert acc < 0.2


def test_table1_rows():
    rows = table1([16], ["sq_cos"], seeds=3, p=97)
    assert rows[0]["N"] == 16 and rows[0]["paper"] == PAPER_TABLE1[16]["sq_cos"] and rows[0]["sd"] >= 0


@pytest.mark.slow
def test_full_table1_within_tolerance():
    for row in table1(seeds=40):
        assert row["mean"] == pytest.approx(row["paper"], abs=0.03), row
