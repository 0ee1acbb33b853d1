"""⊥Grad (Prieto et al. 2025): update only along directions orthogonal to the weights.

For each parameter tensor of each model (flattened w, g):
    g⊥ = g − (w·g / w·w) w,      g <- g⊥ · ‖g‖ / ‖g⊥‖
so the step cannot grow the weights along themselves (Naïve Loss Minimisation, the route to
softmax collapse) while its size stays the gradient's. With optim.name adamw/sgd this is
⊥AdamW/⊥SGD. Per model: optim.ortho; a model with ortho off keeps its gradient exactly.
The 1e-30 guards are the reference code's (a zero tensor or a gradient along w).
"""

from __future__ import annotations

import torch

from grokscope.train.optim import per_model
from grokscope.train.transforms import GradientTransform, register

_TINY = 1e-30


def orthogonal_gradient(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """⊥Grad of `g` against `w`, both [K, ...]: per row, orthogonal to w with g's norm."""
    wf, gf = w.flatten(1), g.flatten(1)
    proj = (wf * gf).sum(1, keepdim=True) / ((wf * wf).sum(1, keepdim=True) + _TINY)
    orth = gf - proj * wf
    scale = gf.norm(dim=1, keepdim=True) / (orth.norm(dim=1, keepdim=True) + _TINY)
    return (orth * scale).view_as(g)


@register
class OrthoGrad(GradientTransform):
    name = "ortho"
    per_model_fields = ("optim.ortho",)

    @staticmethod
    def active(cfg) -> bool:
        return cfg.optim.ortho

    @torch.no_grad()
    def __call__(self, grads, step, params):
        for name, g in grads.items():
            on = per_model(self.hyper["ortho"], g) > 0
            g.copy_(torch.where(on, orthogonal_gradient(params[name], g), g))
