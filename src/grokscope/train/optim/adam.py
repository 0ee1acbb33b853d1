"""Adam with decoupled weight decay (AdamW) and with coupled L2 (Adam), as torch.optim's.

At K = 1 each equals its torch.optim counterpart (same formula, same order of operations; tested).
"""

from __future__ import annotations

from grokscope.train.optim import UpdateRule, register


@register("adamw")
class AdamW(UpdateRule):
    state_kinds = ("exp_avg", "exp_avg_sq")
    decoupled = True

    def update(self, p, grad, state, lr, wd, t):
        c = self.cfg
        if self.decoupled:
            p.mul_(1 - lr * wd)
        else:
            grad = grad + wd * p  # coupled L2, as torch.optim.Adam(weight_decay=...)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - c.beta1)
        exp_avg_sq.mul_(c.beta2).addcmul_(grad, grad, value=1 - c.beta2)
        bias_correction1 = 1 - c.beta1**t
        bias_correction2_sqrt = (1 - c.beta2**t) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(c.eps)
        p.sub_(lr / bias_correction1 * exp_avg / denom)


@register("adam")
class Adam(AdamW):
    decoupled = False
