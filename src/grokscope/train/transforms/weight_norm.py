"""Omnigrok's weight-norm constraint (Liu et al. 2023): training on a sphere of fixed weight norm.

After every update, all of a model's weights are rescaled together so that their total L2 norm
(over every parameter tensor, the `weight_norm` metric) is c · ‖θ_0‖, with c = optim.weight_norm
per model (0 = off) and ‖θ_0‖ the model's norm at initialisation (saved, so a resume keeps it).
With model.init_scale = α and c = 1 this is Omnigrok's "constrained at α · w_0".
"""

from __future__ import annotations

import torch

from grokscope.train.optim import per_model
from grokscope.train.stack import total_norm
from grokscope.train.transforms import GradientTransform, register


@register
class WeightNorm(GradientTransform):
    name = "weight_norm"
    per_model_fields = ("optim.weight_norm",)

    @staticmethod
    def active(cfg) -> bool:
        return cfg.optim.weight_norm > 0

    def __init__(self, cfgs, params):
        super().__init__(cfgs, params)
        self.state = {"norm0": total_norm(params).unsqueeze(1)}  # [K, 1]: a row per model

    @torch.no_grad()
    def after_step(self, params):
        c = self.hyper["weight_norm"].double()
        # factor exactly 1 for models with the constraint off: their weights stay bit-identical
        factor = torch.where(c > 0, c * self.state["norm0"][:, 0] / total_norm(params), 1.0)
        for p in params.values():
            p.mul_(per_model(factor.to(p.dtype), p))
