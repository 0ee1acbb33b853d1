import pytest
import torch

from grokscope.config import OptimConfig, RunConfig
from grokscope.train.optim import StackedOptimizer


def _run_both(cfg: OptimConfig, torch_opt_factory, steps=25):
    torch.manual_seed(0)
    shapes = {"W": (6, 5), "b": (5,)}
    init = {k: torch.randn(s) for k, s in shapes.items()}
    ours = {k: v.clone().unsqueeze(0).requires_grad_(True) for k, v in init.items()}
    theirs = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = StackedOptimizer([RunConfig(optim=cfg)], ours)
    ref = torch_opt_factory(list(theirs.values()))
    sched = torch.optim.lr_scheduler.LambdaLR(
        ref, lambda s: min(1.0, (s + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0)
    x = torch.randn(16, 6)
    for _ in range(steps):
        for params, step in ((ours, lambda: opt.step(ours)), (theirs, ref.step)):
            W, b = (params["W"][0], params["b"][0]) if params is ours else (params["W"], params["b"])
            loss = ((x @ W + b).tanh() - 0.3).square().mean()
            for p in params.values():
                p.grad = None
            loss.backward()
            step()
        sched.step()
    for k in shapes:
        torch.testing.assert_close(ours[k][0], theirs[k], rtol=1e-6, atol=1e-7)


def test_adamw_step_equals_torch_adamw():
    cfg = OptimConfig(name="adamw", lr=1e-2, weight_decay=1.0, beta1=0.9, beta2=0.98, warmup_steps=10)
    _run_both(cfg, lambda ps: torch.optim.AdamW(ps, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                                 weight_decay=cfg.weight_decay, foreach=False))


def test_adam_coupled_weight_decay_equals_torch_adam():
    cfg = OptimConfig(name="adam", lr=3e-3, weight_decay=0.1)
    _run_both(cfg, lambda ps: torch.optim.Adam(ps, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False))


def test_sgd_momentum_equals_torch_sgd():
    cfg = OptimConfig(name="sgd", lr=0.1, weight_decay=0.01, momentum=0.9)
    _run_both(cfg, lambda ps: torch.optim.SGD(ps, lr=cfg.lr, momentum=0.9, weight_decay=0.01, foreach=False))


def test_zero_active_freezes_a_model_exactly():
    cfg = RunConfig(optim=OptimConfig(name="adamw", lr=0.1, weight_decay=1.0))
    p = {"W": torch.randn(2, 3, requires_grad=True)}
    opt = StackedOptimizer([cfg, cfg], p)
    before = p["W"].detach().clone()
    p["W"].grad = torch.ones_like(p["W"])
    opt.step(p, active=torch.tensor([1.0, 0.0]))
    assert torch.equal(p["W"][1], before[1]) and not torch.equal(p["W"][0], before[0])


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_state_roundtrip(name):
    cfg = [RunConfig(optim=OptimConfig(name=name, momentum=0.5, lr=0.1, weight_decay=0.0))]
    p = {"W": torch.randn(1, 4, requires_grad=True)}
    opt = StackedOptimizer(cfg, p)
    p["W"].grad = torch.randn(1, 4)
    opt.step(p)
    other = StackedOptimizer(cfg, p)
    other.load_state_tensors(opt.state_tensors())
    assert other.step_count == 1
    for key, t in opt.state_tensors().items():
        assert torch.equal(t, other.state_tensors()[key])


@pytest.mark.parametrize("decay", ["cosine", "linear"])
def test_lr_schedule_equals_torch_warmup_then_decay(decay):
    """Warm-up then decay equals torch's LinearLR warm-up followed by CosineAnnealingLR / LinearLR
    (to lr x decay_final at decay_steps), and stays at lr x decay_final afterwards."""
    from grokscope.train.optim import lr_factor

    cfg = OptimConfig(lr=0.1, warmup_steps=5, decay=decay, decay_steps=45, decay_final=0.1)
    p = torch.zeros(1, requires_grad=True)
    ref = torch.optim.SGD([p], lr=cfg.lr)
    warm = torch.optim.lr_scheduler.LinearLR(ref, 1 / cfg.warmup_steps, 1.0, total_iters=cfg.warmup_steps - 1)
    span = cfg.decay_steps - cfg.warmup_steps
    after = (torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=span, eta_min=cfg.lr * cfg.decay_final)
             if decay == "cosine" else
             torch.optim.lr_scheduler.LinearLR(ref, 1.0, cfg.decay_final, total_iters=span))
    sched = torch.optim.lr_scheduler.SequentialLR(ref, [warm, after], milestones=[cfg.warmup_steps])
    for step in range(cfg.decay_steps + 1):
        assert cfg.lr * lr_factor(cfg, step) == pytest.approx(ref.param_groups[0]["lr"], rel=1e-9), step
        ref.step()
        sched.step()
    assert [lr_factor(cfg, s) for s in (45, 60, 10_000)] == pytest.approx([0.1] * 3)


def test_decay_needs_decay_steps_beyond_warmup():
    from grokscope.config import RunConfig, validate
    from grokscope.errors import ConfigError

    with pytest.raises(ConfigError, match="optim.decay_steps"):
        validate(RunConfig().override(["optim.decay=cosine", "optim.warmup_steps=10"]))


def test_per_model_hyperparameters_are_declared_by_the_rule_like_the_transforms():
    """lr, weight decay and (Adam/AdamW) β₂ may differ within a stack; β₁ may not (stack_key)."""
    from grokscope.train.loop import stack_key
    from grokscope.train.optim import OPTIMIZERS

    assert OPTIMIZERS.get("adamw").per_model_fields == ("optim.lr", "optim.weight_decay", "optim.beta2")
    assert OPTIMIZERS.get("sgd").per_model_fields == ("optim.lr", "optim.weight_decay")
    base = RunConfig()
    assert stack_key(base) == stack_key(base.override(["optim.beta2=0.98", "optim.lr=3e-3"]))
    assert stack_key(base) != stack_key(base.override(["optim.beta1=0.8"]))  # the control
    sgd = base.override(["optim.name=sgd"])
    assert stack_key(sgd) != stack_key(sgd.override(["optim.beta2=0.98"]))  # not SGD's hyperparameter


def test_a_stack_with_two_beta2_equals_each_model_alone_and_torch():
    """Per-model β₂: each model of a stack of two steps exactly as it does alone, and as torch's AdamW."""
    cfgs = [RunConfig(optim=OptimConfig(lr=1e-2, weight_decay=0.5, beta2=b2)) for b2 in (0.98, 0.999)]
    torch.manual_seed(1)
    w0, x = torch.randn(2, 6, 5), torch.randn(16, 6)

    def train(params, opt, rows):
        for _ in range(30):
            loss = sum(((x @ params["W"][r]).tanh() - 0.3).square().mean() for r in rows)
            params["W"].grad = None
            loss.backward()
            opt.step(params)

    both = {"W": w0.clone().requires_grad_(True)}
    train(both, StackedOptimizer(cfgs, both), [0, 1])
    for r, cfg in enumerate(cfgs):
        alone = {"W": w0[r : r + 1].clone().requires_grad_(True)}
        train(alone, StackedOptimizer([cfg], alone), [0])
        assert torch.equal(both["W"][r], alone["W"][0])
        ref_w = w0[r].clone().requires_grad_(True)
        ref = torch.optim.AdamW([ref_w], lr=1e-2, betas=(0.9, cfg.optim.beta2), weight_decay=0.5, foreach=False)
        for _ in range(30):
            ref_w.grad = None
            ((x @ ref_w).tanh() - 0.3).square().mean().backward()
            ref.step()
        torch.testing.assert_close(both["W"][r].detach(), ref_w.detach(), rtol=1e-6, atol=1e-7)
