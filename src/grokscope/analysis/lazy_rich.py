"""Lazy vs rich training (Kumar et al. 2023): NTK–target alignment and effective rank.

- NTK–target alignment: centred kernel alignment (CKA) between the empirical neural tangent
  kernel Θ = J Jᵀ of the logits on a subset of n training pairs (J: [n·C, P], every logit of every
  pair against every parameter) and the target kernel y yᵀ (y: the one-hot labels flattened to
  n·C):  CKA = ⟨HΘH, HTH⟩ / (‖HΘH‖_F ‖HTH‖_F),  H = I − 11ᵀ/(n·C).
  At initialisation it says how well the lazy (kernel) regime fits the task: low alignment plus a
  large output scale α (`train.out_scale`) is Kumar et al.'s recipe for a long grokking delay.
  Computed at any checkpoint, its rise tracks feature learning. The Jacobian is exact, so n is
  capped to keep J within `MAX_JACOBIAN` float64 numbers.
- Effective rank (Roy & Vetterli 2007): exp(entropy of σ_i / Σσ) of a weight matrix, for the
  hidden neurons' input weights (operand a and b rows stacked) and their output weights W_L.
  Rich (feature-learning) training lowers it from the near-full rank of a random init.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from grokscope.analysis.measures import Checkpoint, register
from grokscope.models import StackedModel

MAX_JACOBIAN = 1 << 24  # float64 entries of J (128 MB)


def effective_rank(W: np.ndarray | torch.Tensor) -> float:
    """exp(H(p)) with p_i = σ_i / Σ_j σ_j over the singular values of a 2-D matrix (0 for W = 0)."""
    s = torch.linalg.svdvals(torch.as_tensor(np.asarray(W), dtype=torch.float64))
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def centered_kernel_alignment(K1: torch.Tensor, K2: torch.Tensor) -> float:
    """⟨HK1H, HK2H⟩ / (‖HK1H‖ ‖HK2H‖) for two symmetric [m, m] kernels (nan if one is constant)."""
    def center(K: torch.Tensor) -> torch.Tensor:
        K = K.double()
        return K - K.mean(0, keepdim=True) - K.mean(1, keepdim=True) + K.mean()

    c1, c2 = center(K1), center(K2)
    denom = c1.norm() * c2.norm()
    return float((c1 * c2).sum() / denom) if denom > 0 else float("nan")


def logit_jacobian(model: StackedModel, params: Mapping[str, torch.Tensor], a: torch.Tensor,
                   b: torch.Tensor, rows_per_pass: int | None = None) -> torch.Tensor:
    """J [n·C, P] (float64): every logit of each pair (a_i, b_i) against every parameter of a
    stack-of-one model (params [1, ...]).

    Rows come in chunks through the ensemble axis: the model is replicated m times as a stack and
    replica r back-propagates only logit row r, so one backward yields m rows of J (the models'
    custom autograd functions rule out torch.func's vmap)."""
    base = {k: v.detach().double() for k, v in params.items()}
    n_params = sum(v[0].numel() for v in base.values())
    with torch.no_grad():
        n_rows = model.forward(base, a, b)[0].numel()
    m = rows_per_pass or max(1, min(n_rows, (1 << 22) // max(1, n_params)))  # replicas: 32 MB of weights
    rows = []
    for lo in range(0, n_rows, m):
        idx = torch.arange(lo, min(lo + m, n_rows))
        rep = {k: v.expand(len(idx), *v.shape[1:]).clone().requires_grad_(True) for k, v in base.items()}
        logits = model.forward(rep, a, b).reshape(len(idx), -1)  # [m, n·C]
        picked = logits[torch.arange(len(idx)), idx].sum()
        grads = torch.autograd.grad(picked, list(rep.values()), allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(v)).reshape(len(idx), -1)
                               for g, v in zip(grads, rep.values())], dim=1))
    return torch.cat(rows)


def ntk_target_alignment(model: StackedModel, params: Mapping[str, torch.Tensor], a: np.ndarray,
                         b: np.ndarray, labels: np.ndarray, max_pairs: int = 64, seed: int = 0) -> dict[str, float]:
    """CKA between the empirical NTK of the logits and the one-hot target kernel on at most
    `max_pairs` of the given pairs (a seeded random subset; fewer if J would exceed MAX_JACOBIAN)."""
    n_params = sum(v[0].numel() for v in params.values())
    cap = max(2, MAX_JACOBIAN // max(1, n_params * model.n_out))
    n = min(len(a), max_pairs, cap)
    pick = np.sort(np.random.default_rng(seed).choice(len(a), size=n, replace=False))
    at, bt = (torch.as_tensor(np.asarray(x)[pick]) for x in (a, b))
    J = logit_jacobian(model, params, at, bt)
    y = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(labels)[pick]), model.n_out).double().reshape(-1, 1)
    return {"ntk_target_cka": centered_kernel_alignment(J @ J.T, y @ y.T), "ntk_pairs": float(n)}


def hidden_effective_ranks(model: StackedModel, params: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Effective rank of the hidden neurons' input weights ([2n, d_mlp]: a rows over b rows) and of
    their output weights W_L ([d_mlp, n_out])."""
    wa, wb = model.neuron_input_weights(params)
    return {"erank_in": effective_rank(np.concatenate([wa, wb], axis=0)),
            "erank_out": effective_rank(model.neuron_output_weights(params))}


@register("lazy_rich", rank=60)
def _lazy_rich(ck: Checkpoint) -> dict[str, Any]:
    tr = ck.split.train_idx
    return {**ntk_target_alignment(ck.model, ck.params, ck.task.a[tr], ck.task.b[tr], ck.split.train_labels),
            **hidden_effective_ranks(ck.model, ck.params)}
