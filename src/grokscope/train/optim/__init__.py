"""A functional optimizer over stacked parameters with per-model learning rate and weight decay.

All parameters carry a leading ensemble axis K; `lr` and `weight_decay` are [K] tensors, so one
update steps K independent models. Multiplying a model's lr by 0 freezes it exactly (weight decay
is scaled by lr, as in PyTorch).

Update rules are chosen from the registry `OPTIMIZERS` by `optim.name`: a rule is one module in this
package that subclasses `UpdateRule` and is decorated with `@register("name")`; the registry lives
in `grokscope.config`, which declares each name with its module, so configs are validated (and the
names listed) without importing torch, and the module is imported when the rule is first used.
"""

from __future__ import annotations

import math

import torch

from grokscope.config import OPTIMIZERS, OptimConfig
from grokscope.train.stack import PerModelState

Tensors = dict[str, torch.Tensor]


def per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[K] -> [K, 1, ..., 1] broadcastable against a stacked parameter."""
    return x.view(-1, *([1] * (like.dim() - 1)))


class UpdateRule:
    """One optimizer's update of one stacked parameter, given its state tensors."""

    state_kinds: tuple[str, ...] = ()  # names of the per-parameter state tensors (zeros at start)
    decoupled: bool = False  # weight decay decoupled from the gradient (AdamW) or coupled L2 (Adam, SGD)

    def __init__(self, cfg: OptimConfig):
        self.cfg = cfg

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: Tensors, lr: torch.Tensor,
               wd: torch.Tensor, t: int) -> None:
        """Update p in place; lr and wd are [K, 1, ...] broadcastable; t counts updates from 1."""
        raise NotImplementedError


register = OPTIMIZERS.register  # class decorator: an UpdateRule as optim.name = `name` (declared in config)


def lr_factor(cfg: OptimConfig, step: int) -> float:
    """The schedule's multiplier of lr for the update step -> step + 1: linear warm-up over
    `warmup_steps` updates, then `cfg.decay` from 1 to `decay_final` at step `decay_steps`, then flat."""
    warm = cfg.warmup_steps
    if step < warm:
        return (step + 1) / warm
    if cfg.decay == "constant":
        return 1.0
    frac = min(1.0, (step - warm) / (cfg.decay_steps - warm))  # progress through the decay, 0 -> 1
    shape = 0.5 * (1 + math.cos(math.pi * frac)) if cfg.decay == "cosine" else 1 - frac
    return cfg.decay_final + (1 - cfg.decay_final) * shape


class StackedOptimizer(PerModelState):
    """The registered update rule of `cfg.name` over [K, ...] tensors with per-model lr, wd."""

    def __init__(self, cfg: OptimConfig, params: Tensors, lr: torch.Tensor, weight_decay: torch.Tensor):
        self.cfg = cfg
        self.rule = OPTIMIZERS.get(cfg.name)(cfg)
        self.hyper = {"lr": lr, "weight_decay": weight_decay}  # each [K]
        self.step_count = 0
        with torch.no_grad():
            self.state = {kind: {k: torch.zeros_like(p) for k, p in params.items()}
                          for kind in self.rule.state_kinds}

    @property
    def lr(self) -> torch.Tensor:
        return self.hyper["lr"]

    def lr_at(self, step: int) -> torch.Tensor:
        """[K] learning rate for the update that moves step -> step + 1: the base lr times
        `lr_factor(cfg, step)` (the schedule is shared by the stack; the base lr is per model)."""
        return self.lr * lr_factor(self.cfg, step)

    @torch.no_grad()
    def step(self, params: Tensors, active: torch.Tensor | None = None) -> None:
        """Apply one update using each parameter's .grad; `active` [K] in {0, 1} masks models."""
        lr = self.lr_at(self.step_count)
        if active is not None:
            lr = lr * active
        self.step_count += 1
        for name, p in params.items():
            state = {kind: self.state[kind][name] for kind in self.rule.state_kinds}
            self.rule.update(p, p.grad, state, per_model(lr, p), per_model(self.hyper["weight_decay"], p),
                             self.step_count)

    def state_tensors(self) -> Tensors:
        """The state, plus the update count shared by the stack."""
        return {**super().state_tensors(), "step_count": torch.tensor([self.step_count], dtype=torch.int64)}

    def load_state_tensors(self, tensors: Tensors) -> None:
        super().load_state_tensors(tensors)
        self.step_count = int(tensors["step_count"][0])

