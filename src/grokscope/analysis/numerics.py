"""Numerical-stability diagnostics (Prieto et al. 2025): softmax collapse, zero-loss terms and
naïve-loss-minimisation alignment.

- SC fraction: share of samples for which fl(Σ_j exp(z_j − max z)) == 1 exactly at the chosen
  precision — every non-maximal term has been absorbed, so the gradient of that sample is 0.
- zero-loss fraction: share of samples whose cross-entropy, computed at that precision, is 0.
- NLM alignment: cos(−∇_θ L, θ) over all parameters flattened; → 1 when the update only scales
  the weights (and with them the logits) without changing predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError
from grokscope.analysis.measures import Checkpoint, register
from grokscope.models import StackedModel
from grokscope.train.losses import per_model_loss

log = logging.getLogger(__name__)

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


def _dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise AnalysisError(f"precision must be one of {', '.join(DTYPES)}, got {name!r}")
    return DTYPES[name]


def softmax_collapse_fraction(logits: torch.Tensor, precision: str = "float32") -> float:
    """Fraction of rows of logits [B, C] with Σ_j exp(z_j − max z) == 1 at `precision`."""
    z = logits.detach().to(_dtype(precision))
    s = torch.exp(z - z.max(dim=-1, keepdim=True).values).sum(dim=-1)
    return float((s == 1).float().mean())


def zero_loss_fraction(logits: torch.Tensor, labels: torch.Tensor, precision: str = "float32") -> float:
    """Fraction of samples whose cross-entropy at `precision` is exactly 0."""
    z = logits.detach().to(_dtype(precision))
    loss = -torch.log_softmax(z, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return float((loss == 0).float().mean())


def nlm_alignment(
    model: StackedModel, params: Mapping[str, torch.Tensor], a: torch.Tensor, b: torch.Tensor,
    labels: torch.Tensor, loss: str = "ce", loss_dtype: str = "float32",
) -> float:
    """cos(−∇_θ L, θ) of a stack-of-one model on the batch (a, b, labels)."""
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    value = per_model_loss(model.forward(p, a, b), labels.unsqueeze(0), loss, loss_dtype).sum()
    grads = torch.autograd.grad(value, list(p.values()))
    g = torch.cat([x.reshape(-1).double() for x in grads])
    theta = torch.cat([x.detach().reshape(-1).double() for x in p.values()])
    denom = g.norm() * theta.norm()
    return float((-g @ theta) / denom) if denom > 0 else float("nan")


@torch.no_grad()
def _logits(model: StackedModel, params: Mapping[str, torch.Tensor], a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return model.forward(params, a, b)[0]


def numerics_measures(
    model: StackedModel, params: Mapping[str, torch.Tensor], a: np.ndarray, b: np.ndarray,
    labels: np.ndarray, precision: str = "float32", loss: str = "ce",
) -> dict[str, float]:
    """SC fraction, zero-loss fraction (both at `precision`) and NLM alignment on one split."""
    at, bt, yt = (torch.as_tensor(np.asarray(x)) for x in (a, b, labels))
    logits = _logits(model, params, at, bt)
    return {
        f"sc_fraction_{precision}": softmax_collapse_fraction(logits, precision),
        f"zero_loss_fraction_{precision}": zero_loss_fraction(logits, yt, precision),
        "nlm_alignment": nlm_alignment(model, params, at, bt, yt, loss,
                                       "float64" if precision == "float64" else "float32"),
    }


@register("numerics", rank=40)
def _numerics(ck: Checkpoint) -> dict[str, Any]:
    tr = ck.split.train_idx
    return numerics_measures(ck.model, ck.params, ck.task.a[tr], ck.task.b[tr], ck.split.train_labels,
                             "float32", ck.run.config.train.loss)
