"""Issue #14 methods, each against a direct implementation of its formula on small tensors:
Grokfast-EMA / -MA, ⊥Grad, the weight-norm constraint, StableMax CE, the output scale α, float16
CE; and the bad-input rules (one ConfigError line, CLI exit 2, nothing written)."""

from __future__ import annotations

from collections import deque

import pytest
import torch
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

from grokscope.errors import ConfigError
from grokscope.train.losses import log_stablemax, pair_losses, per_model_loss
from grokscope.train.transforms import TRANSFORMS
from grokscope.train.transforms.ortho import orthogonal_gradient

K = 3


def _cfgs(*per_model: list[str]):
    return [tiny_mlp(*sets) for sets in per_model]


def _params(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"W": torch.randn(K, 4, 5, generator=g, dtype=torch.float64),
            "b": torch.randn(K, 5, generator=g, dtype=torch.float64)}


def _grad_stream(steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [{"W": torch.randn(K, 4, 5, generator=g, dtype=torch.float64),
             "b": torch.randn(K, 5, generator=g, dtype=torch.float64)} for _ in range(steps)]


# ---------------------------------------------------------------- Grokfast

def test_grokfast_ema_equals_its_formula_per_model():
    alphas, lambs = [0.9, 0.98, 0.5], [2.0, 0.0, 0.5]
    cfgs = _cfgs(*[[f"optim.grokfast_alpha={a}", f"optim.grokfast_lamb={lam}"] for a, lam in zip(alphas, lambs)])
    params = _params()
    t = TRANSFORMS.get("grokfast_ema")(cfgs, params)
    ema = None
    for step, grads in enumerate(_grad_stream(12)):
        raw = {n: g.clone() for n, g in grads.items()}
        t(grads, step, params)
        for n in grads:
            for k in range(K):
                g = raw[n][k]
                ema_k = g if ema is None else alphas[k] * ema[n][k] + (1 - alphas[k]) * g
                torch.testing.assert_close(grads[n][k], g + lambs[k] * ema_k, rtol=1e-12, atol=1e-12)
        ema = {n: torch.stack([raw[n][k] if ema is None else alphas[k] * ema[n][k] + (1 - alphas[k]) * raw[n][k]
                               for k in range(K)]) for n in raw}
        assert torch.equal(grads["W"][1], raw["W"][1])  # λ = 0: bit-identical


def test_grokfast_ma_equals_the_reference_deque_with_warmup():
    w, lambs = 4, [5.0, 0.0, 1.5]
    cfgs = _cfgs(*[["optim.grokfast=ma", f"optim.grokfast_window={w}", f"optim.grokfast_lamb={lam}"]
                   for lam in lambs])
    params = _params()
    t = TRANSFORMS.get("grokfast_ma")(cfgs, params)
    queues = {n: [deque(maxlen=w) for _ in range(K)] for n in params}  # ironjr/grokfast's gradfilter_ma
    amplified = []
    for step, grads in enumerate(_grad_stream(11)):
        raw = {n: g.clone() for n, g in grads.items()}
        t(grads, step, params)
        for n in grads:
            for k in range(K):
                q = queues[n][k]
                q.append(raw[n][k])
                want = raw[n][k] + lambs[k] * sum(q) / len(q) if len(q) == w else raw[n][k]
                torch.testing.assert_close(grads[n][k], want, rtol=1e-12, atol=1e-12)
        amplified.append(not torch.equal(grads["W"][0], raw["W"][0]))
        assert torch.equal(grads["b"][1], raw["b"][1])
    assert amplified == [False] * (w - 1) + [True] * (11 - w + 1)  # warm-up until the window is full


def test_grokfast_ma_state_follows_the_stack_and_roundtrips():
    cfgs = _cfgs(*[["optim.grokfast=ma", "optim.grokfast_window=3", f"optim.grokfast_lamb={lam}"]
                   for lam in (1, 2, 3)])
    t = TRANSFORMS.get("grokfast_ma")(cfgs, _params())
    for step, grads in enumerate(_grad_stream(2)):
        t(grads, step, _params())
    t.select(torch.tensor([0, 2]))
    assert t.state["ring"]["W"].shape == (2, 3, 4, 5) and t.hyper["grokfast_lamb"].tolist() == [1, 3]


# ---------------------------------------------------------------- ⊥Grad

def test_ortho_grad_is_orthogonal_to_the_weights_with_the_gradients_norm():
    params, (grads,) = _params(), _grad_stream(1)
    for n, w in params.items():
        out = orthogonal_gradient(w, grads[n])
        for k in range(K):
            wk, gk, ok = w[k].flatten(), grads[n][k].flatten(), out[k].flatten()
            assert abs(torch.dot(ok, wk)) < 1e-12 * ok.norm() * wk.norm()
            torch.testing.assert_close(ok.norm(), gk.norm(), rtol=1e-12, atol=0)
            # the formula: g - (w.g / w.w) w, rescaled to ‖g‖
            orth = gk - torch.dot(wk, gk) / torch.dot(wk, wk) * wk
            torch.testing.assert_close(ok, orth * gk.norm() / orth.norm(), rtol=1e-12, atol=1e-14)


def test_ortho_transform_is_per_model_and_leaves_off_models_exactly():
    cfgs = _cfgs(["optim.ortho=true"], [], ["optim.ortho=true"])
    params, (grads,) = _params(), _grad_stream(1)
    raw = {n: g.clone() for n, g in grads.items()}
    TRANSFORMS.get("ortho")(cfgs, params)(grads, 0, params)
    for n in grads:
        assert torch.equal(grads[n][1], raw[n][1])
        torch.testing.assert_close(grads[n][[0, 2]], orthogonal_gradient(params[n], raw[n])[[0, 2]])
        assert not torch.allclose(grads[n][0], raw[n][0])


# ---------------------------------------------------------------- weight-norm constraint

def test_weight_norm_constraint_projects_to_c_times_the_initial_norm():
    cfgs = _cfgs(["optim.weight_norm=1"], [], ["optim.weight_norm=0.5"])
    params = _params()
    norm0 = torch.stack([sum(p[k].square().sum() for p in params.values()).sqrt() for k in range(K)])
    t = TRANSFORMS.get("weight_norm")(cfgs, params)
    with torch.no_grad():
        for p in params.values():
            p.mul_(3.0).add_(0.1)  # an update that changes the norm
    before = {n: p.clone() for n, p in params.items()}
    t.after_step(params)
    norm = torch.stack([sum(p[k].square().sum() for p in params.values()).sqrt() for k in range(K)])
    torch.testing.assert_close(norm[[0, 2]], norm0[[0, 2]] * torch.tensor([1.0, 0.5], dtype=torch.float64))
    for n in params:
        assert torch.equal(params[n][1], before[n][1])  # off: untouched
        ratio = params[n][0] / before[n][0]  # one factor for every tensor of the model
        torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.flatten()[0])))


# ---------------------------------------------------------------- losses

def _stablemax_formula(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    s = torch.tensor([[[xi + 1 if xi >= 0 else 1 / (1 - xi) for xi in row] for row in model]
                      for model in x.double().tolist()], dtype=torch.float64)
    return -(s.gather(-1, y.unsqueeze(-1)).squeeze(-1) / s.sum(-1)).log()


def test_stablemax_ce_equals_its_formula_in_float64():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 5) * 4  # both branches
    y = torch.randint(0, 5, (2, 6))
    want = _stablemax_formula(logits, y)
    got = per_model_loss(logits, y, "ce", "float32", probs="stablemax")
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want.mean(1), rtol=1e-13, atol=0)
    (pair,) = pair_losses(logits, logits.argmax(-1), (y,), tiny_mlp("train.probs=stablemax").train)
    torch.testing.assert_close(pair, want, rtol=1e-13, atol=0)
    assert torch.exp(log_stablemax(logits.double())).sum(-1).sub(1).abs().max() < 1e-14


def test_stablemax_ce_gradient_matches_finite_differences():
    torch.manual_seed(1)
    logits = (torch.randn(2, 4, 5, dtype=torch.float64) * 3).requires_grad_(True)
    y = torch.randint(0, 5, (2, 4))
    assert torch.autograd.gradcheck(lambda z: per_model_loss(z, y, "ce", "float64", probs="stablemax"), (logits,))
    # at exactly 0 (the branch point) the gradient is still finite and one-sided-equal (s is C¹ there)
    zero = torch.zeros(1, 1, 3, dtype=torch.float64, requires_grad=True)
    per_model_loss(zero, torch.tensor([[0]]), "ce", "float64", probs="stablemax").sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_output_scale_multiplies_logits_and_divides_the_loss():
    torch.manual_seed(2)
    logits, y = torch.randn(2, 7, 5, dtype=torch.float64), torch.randint(0, 5, (2, 7))
    for kind, ref in (("ce", lambda z: torch.nn.functional.cross_entropy(z.transpose(1, 2), y, reduction="none")
                       .mean(1)),
                      ("mse", lambda z: (z - torch.nn.functional.one_hot(y, 5)).square().mean((1, 2)))):
        got = per_model_loss(logits, y, kind, "float64", out_scale=10.0)
        torch.testing.assert_close(got, ref(10.0 * logits) / 100.0, rtol=1e-12, atol=0)
    cfg = tiny_mlp("train.out_scale=10").train
    (pair,) = pair_losses(logits.float(), logits.argmax(-1), (y,), cfg)
    torch.testing.assert_close(pair.mean(1), per_model_loss(logits, y, "ce", "float64", out_scale=10.0) * 100,
                               rtol=1e-5, atol=1e-7)


def test_float16_cross_entropy_rounds_where_float64_does_not():
    logits = torch.tensor([[[12.0, 0.0, 0.0]]], dtype=torch.float64)  # loss ≈ 1.2e-5
    y = torch.tensor([[0]])
    exact = per_model_loss(logits, y, "ce", "float64")
    half = per_model_loss(logits, y, "ce", "float16")
    assert half.dtype == torch.float32 and exact.dtype == torch.float64
    assert 0 < exact.item() < 2e-5 and abs(half.item() - exact.item()) > 1e-3 * exact.item()


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("assignment, names", [
    ("optim.grokfast=kalman", "optim.grokfast"),
    ("optim.name=lion", "optim.name"),
    ("train.probs=sparsemax", "train.probs"),
    ("optim.grokfast_lamb=-1", "optim.grokfast_lamb"),
    ("optim.grokfast_alpha=0", "optim.grokfast_alpha"),
    ("optim.grokfast_alpha=1", "optim.grokfast_alpha"),
    ("optim.grokfast_window=0", "optim.grokfast_window"),
    ("optim.weight_norm=-0.5", "optim.weight_norm"),
    ("train.out_scale=0", "train.out_scale"),
])
def test_bad_method_settings_are_one_config_error(assignment, names):
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        tiny_mlp(assignment)


def test_stablemax_with_mse_is_refused():
    with pytest.raises(ConfigError, match="stablemax.*needs train.loss = 'ce'"):
        tiny_mlp("train.probs=stablemax", "train.loss=mse")


@pytest.mark.parametrize("sets", [["optim.grokfast_alpha=1.5"], ["train.probs=stablemax", "train.loss=mse"],
                                  ["optim.grokfast=ma", "optim.grokfast_window=0"]])
def test_cli_bad_method_is_one_line_exit_2_and_writes_nothing(tmp_path, sets):
    from grokscope.cli import app

    args = ["run", "--out", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- lazy vs rich analysis

def test_effective_rank_of_known_matrices():
    import numpy as np

    from grokscope.analysis.lazy_rich import effective_rank

    assert effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert effective_rank(np.outer(np.arange(1, 5), np.ones(3))) == pytest.approx(1.0)
    assert effective_rank(np.diag([3.0, 1.0])) == pytest.approx(np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))))


def test_ntk_jacobian_and_alignment_on_a_tiny_mlp():
    import numpy as np

    from grokscope.analysis.lazy_rich import centered_kernel_alignment, logit_jacobian, ntk_target_alignment
    from grokscope.models import build_model
    from grokscope.tasks import make_split, make_task

    cfg = tiny_mlp("model.d_mlp=8", "task.p=5")
    task = make_task(cfg.task)
    split = make_split(cfg.task, task)
    model = build_model(cfg.model, task.n)
    params = model.init([0])
    a, b = torch.as_tensor(task.a[:3]), torch.as_tensor(task.b[:3])
    J = logit_jacobian(model, params, a, b)
    names = list(params)
    ref = torch.autograd.functional.jacobian(
        lambda *ps: model.forward(dict(zip(names, ps)), a, b)[0].reshape(-1),
        tuple(params[n].detach().double() for n in names))
    torch.testing.assert_close(J, torch.cat([r.reshape(r.shape[0], -1) for r in ref], dim=1))
    torch.testing.assert_close(logit_jacobian(model, params, a, b, rows_per_pass=4), J)  # 15 rows in 4 passes
    y = torch.randn(12, 1, dtype=torch.float64)
    assert centered_kernel_alignment(y @ y.T, 3 * y @ y.T) == pytest.approx(1.0)
    tr = split.train_idx
    out = ntk_target_alignment(model, params, task.a[tr], task.b[tr], split.train_labels, max_pairs=6)
    assert out["ntk_pairs"] == 6 and -1 <= out["ntk_target_cka"] <= 1 and np.isfinite(out["ntk_target_cka"])
