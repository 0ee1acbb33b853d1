"""Grokfast (Lee et al. 2024): amplify the slow component of the gradient, on any optimizer.

EMA (optim.grokfast = "ema"), per model α = optim.grokfast_alpha, λ = optim.grokfast_lamb:
    ema_t = α · ema_{t-1} + (1 − α) · g_t      (ema_0 = g_0, as the reference code)
    g_t  <- g_t + λ · ema_t
MA (optim.grokfast = "ma"), window w = optim.grokfast_window (one per stack: it sets the buffer's
shape), per model λ:
    g_t  <- g_t + λ · mean(g_{t-w+1} .. g_t)   once w gradients are in; unchanged before (warm-up,
                                                the reference code's default)
λ = 0 leaves g unchanged exactly.
"""

from __future__ import annotations

import torch

from grokscope.train.optim import per_model
from grokscope.train.transforms import GradientTransform, register


@register
class GrokfastEMA(GradientTransform):
    name = "grokfast_ema"
    per_model_fields = ("optim.grokfast_alpha", "optim.grokfast_lamb")

    @staticmethod
    def active(cfg) -> bool:
        return cfg.optim.grokfast == "ema" and cfg.optim.grokfast_lamb > 0

    def __init__(self, cfgs, params):
        super().__init__(cfgs, params)
        self.state = {"ema": {k: torch.zeros_like(p) for k, p in params.items()}}

    @torch.no_grad()
    def __call__(self, grads, step, params=None):
        for name, g in grads.items():
            ema = self.state["ema"][name]
            alpha = per_model(self.hyper["grokfast_alpha"], g)
            if step == 0:
                ema.copy_(g)
            else:
                ema.mul_(alpha).add_((1 - alpha) * g)
            g.add_(per_model(self.hyper["grokfast_lamb"], g) * ema)


@register
class GrokfastMA(GradientTransform):
    name = "grokfast_ma"
    per_model_fields = ("optim.grokfast_lamb",)

    @staticmethod
    def active(cfg) -> bool:
        return cfg.optim.grokfast == "ma" and cfg.optim.grokfast_lamb > 0

    def __init__(self, cfgs, params):
        super().__init__(cfgs, params)
        self.window = cfgs[0].optim.grokfast_window  # in the stack key: equal across the stack
        # a ring of the last w gradients, [K, w, ...]; gradient t sits in slot t mod w
        self.state = {"ring": {k: p.new_zeros(p.shape[0], self.window, *p.shape[1:])
                               for k, p in params.items()}}

    @torch.no_grad()
    def __call__(self, grads, step, params=None):
        w = self.window
        for name, g in grads.items():
            ring = self.state["ring"][name]
            ring[:, step % w].copy_(g)
            if step + 1 >= w:  # warm-up: the window is full
                g.add_(per_model(self.hyper["grokfast_lamb"], g) * (ring.sum(dim=1) / w))
