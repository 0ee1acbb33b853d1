"""Grokfast-EMA (Lee et al. 2024): amplify the slow component of the gradient.

    ema_t = α · ema_{t-1} + (1 − α) · g_t      (ema_0 = g_0, as the reference code)
    g_t  <- g_t + λ · ema_t

α = optim.grokfast_alpha, λ = optim.grokfast_lamb, per model; λ = 0 leaves g unchanged exactly.
"""

from __future__ import annotations

import torch

from grokscope.train.optim import per_model
from grokscope.train.transforms import GradientTransform, register


@register
class GrokfastEMA(GradientTransform):
    name = "grokfast_ema"
    per_model_fields = (("optim", "grokfast_alpha"), ("optim", "grokfast_lamb"))

    @staticmethod
    def active(cfg) -> bool:
        return cfg.optim.grokfast_lamb > 0

    def __init__(self, cfgs, params):
        super().__init__(cfgs, params)
        self.state = {"ema": {k: torch.zeros_like(p) for k, p in params.items()}}

    @torch.no_grad()
    def __call__(self, grads, step):
        for name, g in grads.items():
            ema = self.state["ema"][name]
            alpha = per_model(self.hyper["grokfast_alpha"], g)
            if step == 0:
                ema.copy_(g)
            else:
                ema.mul_(alpha).add_((1 - alpha) * g)
            g.add_(per_model(self.hyper["grokfast_lamb"], g) * ema)
