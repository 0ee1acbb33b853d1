"""Adam with decoupled weight decay (AdamW) and with coupled L2 (Adam), as torch.optim's.

At K = 1 each equals its torch.optim counterpart (same formula, same order of operations; tested).
"""

from __future__ import annotations

from grokscope.train.optim import UpdateRule, per_model, register


@register("adamw")
class AdamW(UpdateRule):
    state_kinds = ("exp_avg", "exp_avg_sq")
    decoupled = True
    per_model_fields = (*UpdateRule.per_model_fields, "optim.beta2")

    def step_hyper(self, h, t):
        beta2 = h["beta2"]  # [K] float64: 1 - β₂ and the bias correction in double, as torch's Python floats
        return {**h, "one_minus_beta2": 1 - beta2, "bias_correction2_sqrt": (1 - beta2**t).sqrt()}

    def update(self, p, grad, state, h, t):
        c, lr, wd = self.cfg, per_model(h["lr"], p), per_model(h["weight_decay"], p)
        if self.decoupled:
            p.mul_(1 - lr * wd)
        else:
            grad = grad + wd * p  # coupled L2, as torch.optim.Adam(weight_decay=...)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - c.beta1)
        # (1 - β₂)·g first, then ·g: the order torch's addcmul(value=1 - β₂) multiplies in
        exp_avg_sq.mul_(per_model(h["beta2"], p)).addcmul_(per_model(h["one_minus_beta2"], p) * grad, grad)
        bias_correction1 = 1 - c.beta1**t
        denom = (exp_avg_sq.sqrt() / per_model(h["bias_correction2_sqrt"], p)).add_(c.eps)
        p.sub_(lr / bias_correction1 * exp_avg / denom)


@register("adam")
class Adam(AdamW):
    decoupled = False
