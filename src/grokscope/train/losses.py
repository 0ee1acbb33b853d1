"""Per-model losses and accuracies over stacked logits [K, B, C]."""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def per_model_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str, dtype: str) -> torch.Tensor:
    """Mean loss of each model over its batch -> [K].

    kind = "ce": cross-entropy; with dtype "float64" the log-softmax runs in float64 (Nanda), so
    losses near 1e-7 do not underflow. kind = "mse": mean squared error against one-hot targets,
    averaged over batch and classes (Doshi et al.).
    """
    logits = logits.to(DTYPES[dtype])
    if kind == "mse":
        target = torch.nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)
        return (logits - target).square().mean(dim=(1, 2))
    logp = logits.log_softmax(dim=-1)
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(dim=1)


def per_model_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Fraction of argmax hits per model -> [K]."""
    return (logits.argmax(dim=-1) == labels).float().mean(dim=1)
