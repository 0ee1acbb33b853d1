"""Softmax collapse, zero-loss terms and NLM alignment on cases where the answer is known."""

import pytest
import torch

from grokscope.analysis.numerics import nlm_alignment, softmax_collapse_fraction, zero_loss_fraction
from grokscope.config import ModelConfig
from grokscope.errors import GrokscopeError
from grokscope.models import build_model

P = 7


def test_softmax_collapse_and_zero_loss():
    logits = torch.tensor([[0.0, 30.0, 0.0], [0.0, 1.0, 0.5]])
    labels = torch.tensor([1, 1])
    assert softmax_collapse_fraction(logits, "float32") == 0.5
    assert zero_loss_fraction(logits, labels, "float32") == 0.5
    # float64 keeps e^-30 ≈ 9e-14 (> eps 1.1e-16) as a non-zero term: no collapse there
    assert softmax_collapse_fraction(logits, "float64") == 0.0
    with pytest.raises(GrokscopeError):
        softmax_collapse_fraction(logits, "float8")


def _homogeneous_mlp(seed=0, d_mlp=16):
    """Bias-free two-hot ReLU MLP: logits f(cθ) = c²·f(θ) for c > 0 (degree-2 homogeneous)."""
    model = build_model(ModelConfig(arch="mlp", d_mlp=d_mlp, bias=False), P)
    params = {k: v.double() for k, v in model.init([seed]).items()}
    a, b = torch.arange(P).repeat_interleave(P), torch.arange(P).repeat(P)
    return model, params, a, b, (a + b) % P


def _grad_norm(model, params, a, b, y):
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = torch.nn.functional.cross_entropy(model.forward(p, a, b)[0].double(), y)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(p.values()))]).norm().detach()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nlm_alignment_obeys_euler_identity(seed):
    """Euler: θ·∇_θ f = 2f for a degree-2 homogeneous model, so with the mean cross-entropy
    −∇L·θ = −(2/B) Σ_i (softmax(f_i) − onehot(y_i))·f_i — no autograd over θ needed."""
    model, params, a, b, y = _homogeneous_mlp(seed)
    with torch.no_grad():
        f = model.forward(params, a, b)[0].double()
    resid = f.softmax(-1) - torch.nn.functional.one_hot(y, P).double()
    neg_dot = -2.0 * (resid * f).sum() / len(y)
    theta = torch.cat([v.detach().reshape(-1) for v in params.values()]).norm()
    expected = float(neg_dot / (_grad_norm(model, params, a, b, y) * theta))
    assert abs(expected) > 1e-3  # not the trivial case
    assert nlm_alignment(model, params, a, b, y, loss_dtype="float64") == pytest.approx(expected, rel=1e-6)


def test_nlm_alignment_sign_follows_whether_scaling_up_helps():
    """By the identity above the sign of the alignment is that of Σ_i (f_i[y_i] − E_softmax(f_i)[f]):
    > 0 when every answer has the largest logit (growing helps), < 0 when every answer has the
    smallest (W_out negated: shrinking helps)."""
    model, params, a, b, y = _homogeneous_mlp(d_mlp=64)  # 64 hidden units ≥ 49 pairs: an exact fit
    h = torch.relu(params["W_a"][0][a] + params["W_b"][0][b])  # [B, d] hidden activations
    target = torch.nn.functional.one_hot(y, P).double() * 5.0  # logits 5 on the answer, 0 elsewhere
    right = {**params, "W_out": torch.linalg.lstsq(h, target).solution.unsqueeze(0).detach()}
    with torch.no_grad():
        assert (model.forward(right, a, b)[0].argmax(-1) == y).all()  # planted: every pair correct
    assert nlm_alignment(model, right, a, b, y, loss_dtype="float64") > 0
    wrong = {**right, "W_out": -right["W_out"]}
    assert nlm_alignment(model, wrong, a, b, y, loss_dtype="float64") < 0


def test_nlm_alignment_is_zero_when_the_output_layer_is_zero():
    """W_out = 0: the logits are 0, ∇ of W_a, W_b vanishes and ∇W_out ≠ 0 meets θ_out = 0."""
    model, params, a, b, y = _homogeneous_mlp()
    params["W_out"] = torch.zeros_like(params["W_out"])
    assert _grad_norm(model, params, a, b, y) > 0
    assert nlm_alignment(model, params, a, b, y, loss_dtype="float64") == pytest.approx(0.0, abs=1e-12)
