import pytest
import torch

from grokscope.analysis.numerics import nlm_alignment, softmax_collapse_fraction, zero_loss_fraction
from grokscope.config import ModelConfig
from grokscope.errors import GrokscopeError
from grokscope.models import build_model


def test_softmax_collapse_and_zero_loss():
    logits = torch.tensor([[0.0, 30.0, 0.0], [0.0, 1.0, 0.5]])
    labels = torch.tensor([1, 1])
    assert softmax_collapse_fraction(logits, "float32") == 0.5
    assert zero_loss_fraction(logits, labels, "float32") == 0.5
    # float64 keeps e^-30 ≈ 9e-14 (> eps 1.1e-16) as a non-zero term: no collapse there
    assert softmax_collapse_fraction(logits, "float64") == 0.0
    with pytest.raises(GrokscopeError):
        softmax_collapse_fraction(logits, "float8")


def test_nlm_alignment_is_a_cosine():
    cfg = ModelConfig(arch="mlp", d_mlp=16, bias=False)
    model = build_model(cfg, 7)
    params = model.init([0])
    a = torch.arange(7).repeat_interleave(7)
    b = torch.arange(7).repeat(7)
    value = nlm_alignment(model, params, a, b, (a + b) % 7)
    assert -1.0 <= value <= 1.0
