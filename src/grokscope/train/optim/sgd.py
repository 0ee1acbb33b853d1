"""SGD with coupled L2 weight decay and (heavy-ball) momentum, as torch.optim.SGD."""

from __future__ import annotations

from grokscope.train.optim import UpdateRule, per_model, register


@register("sgd")
class SGD(UpdateRule):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.state_kinds = ("momentum_buffer",) if cfg.momentum else ()

    def update(self, p, grad, state, h, t):
        lr, wd = per_model(h["lr"], p), per_model(h["weight_decay"], p)
        grad = grad + wd * p
        if self.cfg.momentum:
            buf = state["momentum_buffer"]
            buf.mul_(self.cfg.momentum).add_(grad)
            grad = buf
        p.sub_(lr * grad)
