"""Losses over stacked logits [K, B, C]: per-model training losses and per-pair evaluation losses.

Training loss of a model with output scale α (Kumar et al. 2023; α = 1 is plain training):
    L_train = L(α · logits) / α²
so large α keeps the model near its linearisation (lazy) with the same effective step size.
L is softmax cross-entropy (in float16, float32 or float64), StableMax cross-entropy (Prieto et
al. 2025, always float64) or the MSE against one-hot targets. Evaluation reports L(α · logits),
the loss of what the model predicts, without the 1/α² factor.
"""

from __future__ import annotations

import math

import torch

from grokscope.config import CHOICES, TrainConfig

DTYPES = {name: getattr(torch, name) for name in CHOICES["train.loss_dtype"]}  # the names config accepts


def exp_below_max(shifted: torch.Tensor) -> torch.Tensor:
    """exp of logits minus their max (all <= 0), in place, with arguments clamped just above the
    underflow to subnormals: exp's results below the smallest normal float take a slow path (13×
    slower per element, measured on AVX2), which memorised models with large logit gaps hit on most
    logits. Each clamped term becomes e^(ln tiny + 1) ≈ 3e-38 (float32) instead of a smaller
    number, in sums that are >= 1."""
    floor = math.log(torch.finfo(shifted.dtype).tiny) + 1.0
    return shifted.clamp_(min=floor).exp_()


def stablemax_s(x: torch.Tensor) -> torch.Tensor:
    """s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0 (continuous, C¹ at 0, always > 0)."""
    # each branch sees only its own half-line, so the unselected branch has no inf/nan gradient
    return torch.where(x >= 0, x.clamp(min=0) + 1, 1 / (1 - x.clamp(max=0)))


def log_stablemax(logits: torch.Tensor) -> torch.Tensor:
    """log(s(x_i) / Σ_j s(x_j)) over the last axis, computed in float64."""
    s = stablemax_s(logits.double())
    return s.log() - s.sum(dim=-1, keepdim=True).log()


class _SoftmaxCE(torch.autograd.Function):
    """Mean softmax cross-entropy of each model over its batch: logits [K, B, C], labels [K, B] -> [K].

    One fused node with the gradient written out, (softmax - one_hot) / B, from the exponentials
    the forward already computed: log_softmax's forward and backward each evaluate exp over every
    logit, and the gather's backward fills a zero [K, B, C] tensor; this pays for one exp pass
    (for the small PAIR models those passes were 40% of a step).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        top = logits.amax(dim=-1, keepdim=True)  # [K, B, 1]
        e = exp_below_max(logits - top)  # [K, B, C], unnormalised softmax
        s = e.sum(dim=-1)  # [K, B]
        # lse - z_y = log s + max - z_y
        loss = s.log() + (top.squeeze(-1) - logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1))
        ctx.save_for_backward(e, s, labels)
        return loss.mean(dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        e, s, labels = ctx.saved_tensors
        B = labels.shape[1]
        # (softmax − one_hot) · grad / B, written over the saved exponentials: for an ensemble the
        # logits are many MB and this node is memory-bound, so it does not allocate and fill a new
        # [K, B, C] tensor. The same operations in the same order as the out-of-place form: the
        # same float rounding (folding the two scalings into one pass was faster, but moved the fast
        # recipe's t_val99 by one evaluation). The graph's backward therefore runs once: a second
        # one (retain_graph) is refused by autograd's in-place check.
        g = e.div_(s.unsqueeze(-1))  # softmax
        g.scatter_add_(-1, labels.unsqueeze(-1), torch.full_like(labels, -1, dtype=g.dtype).unsqueeze(-1))
        return g.mul_((grad / B).view(-1, 1, 1)), None


def _pair_ce(logits: torch.Tensor, labels: torch.Tensor, dtype: str, probs: str) -> torch.Tensor:
    """Per-pair training cross-entropy [K, B] at the precision the config asks for."""
    if probs == "stablemax":
        logp = log_stablemax(logits)
    elif dtype == "float16":
        # float16 is asked for its rounding (Prieto's softmax collapse), so it applies even to wider logits
        logp = logits.half().log_softmax(dim=-1)
    else:  # logits already wider than `dtype` stay so (float64 equivalence tests)
        logp = logits.to(torch.promote_types(logits.dtype, DTYPES[dtype])).log_softmax(dim=-1)
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def per_model_loss(logits: torch.Tensor, labels: torch.Tensor, kind: str, dtype: str,
                   probs: str = "softmax", out_scale: float = 1.0) -> torch.Tensor:
    """Mean training loss of each model over its batch -> [K].

    kind = "ce": cross-entropy through softmax (log-softmax in `dtype`; "float64" keeps losses
    near 1e-7 from underflowing, Nanda) or StableMax (`probs`, float64). kind = "mse": mean squared
    error against one-hot targets (Doshi et al.) or real targets [K, B, n_out], averaged over batch
    and outputs. kind = "hinge": the multi-class hinge (`pair_hinge`), averaged over the batch. `out_scale` α
    multiplies the logits and divides the loss by α² (Kumar et al.).
    """
    if out_scale != 1.0:
        logits = logits * out_scale
    if kind == "mse":
        logits = logits.to(torch.promote_types(logits.dtype, DTYPES[dtype]))
        loss = (logits - _target(labels, logits)).square().mean(dim=(1, 2))
    elif kind == "hinge":
        loss = pair_hinge(logits.to(torch.promote_types(logits.dtype, DTYPES[dtype])), labels).mean(dim=1)
    elif probs == "softmax" and dtype != "float16":
        loss = _SoftmaxCE.apply(logits.to(torch.promote_types(logits.dtype, DTYPES[dtype])), labels)
    else:
        loss = _pair_ce(logits, labels, dtype, probs)
        # mean in at least float32 (a float16 mean over a large batch would lose the small losses)
        loss = loss.to(torch.promote_types(loss.dtype, torch.float32)).mean(dim=1)
    return loss / out_scale**2 if out_scale != 1.0 else loss


def pair_cross_entropy(
    logits: torch.Tensor, pred: torch.Tensor, labels: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, ...]:
    """Per-pair cross-entropy [K, N] (float64) for each label tensor, from float32 logits.

    loss = (max - z_y) + log1p(sum over j != argmax of exp(z_j - max)). Leaving the argmax term
    out of the sum keeps losses near 1e-7 exact without a float64 copy of the logits (Nanda's
    reason for float64), and one exp pass serves every label set.
    """
    top = logits.amax(dim=-1, keepdim=True)  # [K, N, 1]
    rest = exp_below_max(logits - top).scatter_(-1, pred.unsqueeze(-1), 0.0).sum(dim=-1)  # [K, N]
    log_tail = torch.log1p(rest.double())
    top = top.squeeze(-1)
    return tuple(
        (top - logits.gather(-1, y.unsqueeze(-1)).squeeze(-1)).double() + log_tail for y in labels
    )


def pair_stablemax_ce(logits: torch.Tensor, labels: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Per-pair StableMax cross-entropy [K, N] (float64) for each label tensor."""
    logp = log_stablemax(logits)
    return tuple(-logp.gather(-1, y.unsqueeze(-1)).squeeze(-1) for y in labels)


def _target(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """MSE targets: one-hot rows for class labels [K, B], the values themselves for a regression [K, B, n_out]."""
    if labels.is_floating_point():
        return labels.to(logits.dtype)
    return torch.nn.functional.one_hot(labels, logits.shape[-1]).to(logits.dtype)


def pair_mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-example mean squared error [K, N] (float64) against one-hot targets or real values."""
    return (logits - _target(labels, logits)).square().mean(dim=-1).double()


def pair_hinge(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-example multi-class hinge loss [K, N] (Crammer–Singer): max(0, 1 + max_{j≠y} z_j − z_y). With two
    classes it is the binary hinge max(0, 1 − y·f) on the margin f = z_1 − z_0, y = ±1 (Barak et al. 2022)."""
    z_y = logits.gather(-1, labels.unsqueeze(-1))  # [K, N, 1]
    others = logits.scatter(-1, labels.unsqueeze(-1), float("-inf")).amax(dim=-1)  # [K, N] best wrong class
    return (1 + others - z_y.squeeze(-1)).clamp(min=0)


def pair_losses(logits: torch.Tensor, pred: torch.Tensor, labels: tuple[torch.Tensor, ...],
                cfg: TrainConfig) -> tuple[torch.Tensor, ...]:
    """Evaluation: per-pair loss [K, N] (float64) of the loss `cfg` trains with, for each label
    tensor, at the model's output α · logits (`pred` is the argmax of the logits)."""
    if cfg.out_scale != 1.0:
        logits = logits * cfg.out_scale
    if cfg.loss == "mse":
        return tuple(pair_mse(logits, y) for y in labels)
    if cfg.loss == "hinge":
        return tuple(pair_hinge(logits, y).double() for y in labels)
    if cfg.probs == "stablemax":
        return pair_stablemax_ce(logits, labels)
    return pair_cross_entropy(logits, pred, labels)
