"""Adam with decoupled weight decay (AdamW) and with coupled L2 (Adam), as torch.optim's.

At K = 1 each equals its torch.optim counterpart (same formula, same order of operations; tested).
"""

from __future__ import annotations

from grokscope.train.optim import UpdateRule, at, register


@register("adamw")
class AdamW(UpdateRule):
    state_kinds = ("exp_avg", "exp_avg_sq")
    decoupled = True
    per_model_fields = (*UpdateRule.per_model_fields, "optim.beta2")

    def update(self, p, grad, state, h, t):
        c, lr, wd, beta2 = self.cfg, at(h["lr"], p), at(h["weight_decay"], p), h["beta2"]
        if self.decoupled:
            p.mul_(1 - lr * wd)
        else:
            grad = grad + wd * p  # coupled L2, as torch.optim.Adam(weight_decay=...)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - c.beta1)
        # (1 - β₂)·g first, then ·g: the order torch's addcmul(value=1 - β₂) multiplies in
        exp_avg_sq.mul_(at(beta2, p)).addcmul_(at(1 - beta2, p) * grad, grad)
        bias_correction1 = 1 - c.beta1**t
        bias_correction2_sqrt = at((1 - beta2**t).sqrt(), p)  # in float64, as torch's Python floats
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(c.eps)
        p.sub_(lr / bias_correction1 * exp_avg / denom)


@register("adam")
class Adam(AdamW):
    decoupled = False
