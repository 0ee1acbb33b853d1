"""A functional optimizer over stacked parameters with per-model hyperparameters.

All parameters carry a leading ensemble axis K. An update rule declares which of its
hyperparameters may differ between the models of one stack (`per_model_fields`: lr and weight
decay for every rule, β₂ for Adam/AdamW), exactly as the gradient transforms declare theirs; they
are [K] tensors, so one update steps K independent models. They are kept in float64; what an
update derives from them (Adam's bias correction) is computed in float64 once per step and cast to
the parameters' dtype, as torch.optim does with its Python-float hyperparameters. Multiplying a model's lr by 0
freezes it exactly (weight decay is scaled by lr, as in PyTorch).

Update rules are chosen from the registry `OPTIMIZERS` by `optim.name`: a rule is one module in this
package that subclasses `UpdateRule` and is decorated with `@register("name")`; the registry lives
in `grokscope.config`, which declares each name with its module, so configs are validated (and the
names listed) without importing torch, and the module is imported when the rule is first used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from grokscope.config import OPTIMIZERS, OptimConfig, RunConfig
from grokscope.train.stack import PerModelState

Tensors = dict[str, torch.Tensor]


def per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[K] -> [K, 1, ..., 1] broadcastable against a stacked parameter."""
    return x.view(-1, *([1] * (like.dim() - 1)))


class UpdateRule:
    """One optimizer's update of one stacked parameter, given its state tensors."""

    state_kinds: tuple[str, ...] = ()  # names of the per-parameter state tensors (zeros at start)
    decoupled: bool = False  # weight decay decoupled from the gradient (AdamW) or coupled L2 (Adam, SGD)
    per_model_fields: tuple[str, ...] = ("optim.lr", "optim.weight_decay")  # may differ within a stack

    def __init__(self, cfg: OptimConfig):
        self.cfg = cfg  # the stack's shared settings (everything but per_model_fields)

    def step_hyper(self, h: Tensors, t: int) -> Tensors:
        """The per-model values update t needs, each [K] float64, computed once per step (not per
        parameter) from the hyperparameters `h` (lr already scheduled); by default `h` itself."""
        return h

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: Tensors, h: Tensors, t: int) -> None:
        """Update p in place. `h`: `step_hyper`'s values, each [K] already in p's dtype (view them
        with `per_model(h[name], p)`); t counts updates from 1."""
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
    """The registered update rule of the stack's `optim.name` over [K, ...] tensors, with the
    rule's per-model hyperparameters read from each model's config."""

    def __init__(self, cfgs: Sequence[RunConfig], params: Tensors):
        self.cfg = cfgs[0].optim
        self.rule = OPTIMIZERS.get(self.cfg.name)(self.cfg)
        self.per_model_fields = self.rule.per_model_fields
        like = next(iter(params.values()))
        self.init_hyper(cfgs, torch.float64, like.device)  # {"lr": [K], "weight_decay": [K], ...}
        self.step_count = 0
        with torch.no_grad():
            self.state = {kind: {k: torch.zeros_like(p) for k, p in params.items()}
                          for kind in self.rule.state_kinds}

    def lr_at(self, step: int) -> torch.Tensor:
        """[K] learning rate (float64) for the update that moves step -> step + 1: the base lr times
        `lr_factor(cfg, step)` (the schedule is shared by the stack; the base lr is per model)."""
        return self.hyper["lr"] * lr_factor(self.cfg, step)

    @torch.no_grad()
    def step(self, params: Tensors, active: torch.Tensor | None = None) -> None:
        """Apply one update using each parameter's .grad; `active` [K] in {0, 1} masks models."""
        lr = self.lr_at(self.step_count)
        if active is not None:
            lr = lr * active.to(lr.dtype)
        self.step_count += 1
        dtype = next(iter(params.values())).dtype
        # derived in float64 once per step, cast once: the parameters share one dtype
        h = {k: v.to(dtype) for k, v in self.rule.step_hyper({**self.hyper, "lr": lr}, self.step_count).items()}
        for name, p in params.items():
            state = {kind: self.state[kind][name] for kind in self.rule.state_kinds}
            self.rule.update(p, p.grad, state, h, self.step_count)

    def state_tensors(self) -> Tensors:
        """The state, plus the update count shared by the stack."""
        return {**super().state_tensors(), "step_count": torch.tensor([self.step_count], dtype=torch.int64)}

    def load_state_tensors(self, tensors: Tensors) -> None:
        super().load_state_tensors(tensors)
        self.step_count = int(tensors["step_count"][0])

