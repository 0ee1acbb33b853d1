"""Losses over stacked logits [K, B, C]: per-model training losses and per-pair evaluation losses."""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def per_model_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str, dtype: str) -> torch.Tensor:
    """Mean loss of each model over its batch -> [K].

    kind = "ce": cross-entropy; with dtype "float64" the log-softmax runs in float64 (Nanda), so
    losses near 1e-7 do not underflow. kind = "mse": mean squared error against one-hot targets,
    averaged over batch and classes (Doshi et al.). Logits already wider than `dtype` stay so.
    """
    logits = logits.to(torch.promote_types(logits.dtype, DTYPES[dtype]))
    if kind == "mse":
        target = torch.nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)
        return (logits - target).square().mean(dim=(1, 2))
    logp = logits.log_softmax(dim=-1)
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(dim=1)


def pair_cross_entropy(
    logits: torch.Tensor, pred: torch.Tensor, labels: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, ...]:
    """Per-pair cross-entropy [K, N] (float64) for each label tensor, from float32 logits.

    loss = (max - z_y) + log1p(sum over j != argmax of exp(z_j - max)). Leaving the argmax term
    out of the sum keeps losses near 1e-7 exact without a float64 copy of the logits (Nanda's
    reason for float64), and one exp pass serves every label set.
    """
    top = logits.amax(dim=-1, keepdim=True)  # [K, N, 1]
    rest = (logits - top).exp_().scatter_(-1, pred.unsqueeze(-1), 0.0).sum(dim=-1)  # [K, N]
    log_tail = torch.log1p(rest.double())
    top = top.squeeze(-1)
    return tuple(
        (top - logits.gather(-1, y.unsqueeze(-1)).squeeze(-1)).double() + log_tail for y in labels
    )


def pair_mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pair mean squared error against one-hot targets [K, N] (float64)."""
    target = torch.nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return (logits - target).square().mean(dim=-1).double()
