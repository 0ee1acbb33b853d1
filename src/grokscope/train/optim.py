"""A functional optimizer over stacked parameters with per-model learning rate and weight decay.

All parameters carry a leading ensemble axis K; `lr` and `weight_decay` are [K] tensors, so one
update steps K independent models. At K = 1, AdamW matches `torch.optim.AdamW` (same formula, same
order of operations; tested). Multiplying a model's lr by 0 freezes it exactly (weight decay is
scaled by lr, as in PyTorch), which is how finished models in an ensemble stop moving.
"""

from __future__ import annotations

import torch

from grokscope.config import OptimConfig

Tensors = dict[str, torch.Tensor]


def _per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[K] -> [K, 1, ..., 1] broadcastable against a stacked parameter."""
    return x.view(-1, *([1] * (like.dim() - 1)))


class StackedOptimizer:
    """AdamW (decoupled weight decay), Adam or SGD (coupled L2 weight decay) over [K, ...] tensors."""

    def __init__(self, cfg: OptimConfig, params: Tensors, lr: torch.Tensor, weight_decay: torch.Tensor):
        self.cfg = cfg
        self.lr = lr  # [K]
        self.weight_decay = weight_decay  # [K]
        self.step_count = 0
        self.state: dict[str, Tensors] = {}
        with torch.no_grad():
            if cfg.name in ("adamw", "adam"):
                self.state["exp_avg"] = {k: torch.zeros_like(p) for k, p in params.items()}
                self.state["exp_avg_sq"] = {k: torch.zeros_like(p) for k, p in params.items()}
            elif cfg.momentum:
                self.state["momentum_buffer"] = {k: torch.zeros_like(p) for k, p in params.items()}

    def lr_at(self, step: int) -> torch.Tensor:
        """[K] learning rate for the update that moves step -> step + 1 (linear warmup)."""
        warm = self.cfg.warmup_steps
        factor = min(1.0, (step + 1) / warm) if warm else 1.0
        return self.lr * factor

    @torch.no_grad()
    def step(self, params: Tensors, active: torch.Tensor | None = None) -> None:
        """Apply one update using each parameter's .grad; `active` [K] in {0, 1} masks models."""
        lr = self.lr_at(self.step_count)
        if active is not None:
            lr = lr * active
        self.step_count += 1
        if self.cfg.name == "sgd":
            self._sgd(params, lr)
        else:
            self._adam(params, lr)

    def _adam(self, params: Tensors, lr: torch.Tensor) -> None:
        c = self.cfg
        t = self.step_count
        bias_correction1 = 1 - c.beta1**t
        bias_correction2_sqrt = (1 - c.beta2**t) ** 0.5
        for name, p in params.items():
            grad = p.grad
            lr_k = _per_model(lr, p)
            wd_k = _per_model(self.weight_decay, p)
            if c.name == "adamw":
                p.mul_(1 - lr_k * wd_k)
            else:
                grad = grad + wd_k * p  # coupled L2, as torch.optim.Adam(weight_decay=...)
            exp_avg, exp_avg_sq = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
            exp_avg.lerp_(grad, 1 - c.beta1)
            exp_avg_sq.mul_(c.beta2).addcmul_(grad, grad, value=1 - c.beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(c.eps)
            p.sub_(lr_k / bias_correction1 * exp_avg / denom)

    def _sgd(self, params: Tensors, lr: torch.Tensor) -> None:
        for name, p in params.items():
            grad = p.grad + _per_model(self.weight_decay, p) * p
            if self.cfg.momentum:
                buf = self.state["momentum_buffer"][name]
                buf.mul_(self.cfg.momentum).add_(grad)
                grad = buf
            p.sub_(_per_model(lr, p) * grad)

    @torch.no_grad()
    def select(self, rows: torch.Tensor) -> None:
        """Keep only the models at `rows` (when finished models leave an ensemble)."""
        self.lr, self.weight_decay = self.lr[rows], self.weight_decay[rows]
        self.state = {kind: {n: t[rows] for n, t in d.items()} for kind, d in self.state.items()}

    def state_tensors(self) -> Tensors:
        """Flat name -> tensor view of the optimizer state (for safetensors)."""
        out = {f"{kind}.{name}": t for kind, d in self.state.items() for name, t in d.items()}
        out["step_count"] = torch.tensor([self.step_count], dtype=torch.int64)
        return out

    def load_state_tensors(self, tensors: Tensors) -> None:
        with torch.no_grad():
            for kind, d in self.state.items():
                for name, t in d.items():
                    t.copy_(tensors[f"{kind}.{name}"])
        self.step_count = int(tensors["step_count"][0])
