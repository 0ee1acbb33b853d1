"""Cumulative neuron pruning ordered by IPR (Doshi et al. 2024), with a random-order control.

A pruned neuron has its input weights (W_a/W_b rows' column i, W_in column i, or the
transformer's mlp.W_in column i), its b_in entry and its W_out row zeroed on a copy; nothing is
retrained. After each step accuracy is measured on train (the trained-on labels), test,
corrupted-train (against the corrupted labels: memorisation) and clean-train (uncorrupted pairs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError
from grokscope.analysis.neurons import model_neuron_ipr
from grokscope.analysis.views import unstack
from grokscope.models import StackedModel
from grokscope.tasks import Split, Task

log = logging.getLogger(__name__)

ORDERS = ("low_ipr", "high_ipr", "random")


def prune_neurons(
    params: Mapping[str, torch.Tensor], model: StackedModel, neurons: Sequence[int]
) -> dict[str, torch.Tensor]:
    """Copy of stacked params [K, ...] with the given (last-layer) hidden neurons zeroed."""
    idx = torch.as_tensor(list(neurons), dtype=torch.long)
    out = {k: v.detach().clone() for k, v in params.items()}
    cols, rows, biases = model.neuron_slices()
    for name in cols:
        out[name][..., idx] = 0.0  # [K, in, d_mlp]: neuron is the last axis
    for name in rows:
        out[name][:, idx, :] = 0.0  # [K, d_mlp, out]
    for name in biases:
        out[name][:, idx] = 0.0
    return out


def prune_order(ipr_values: np.ndarray, order: str, seed: int = 0) -> np.ndarray:
    """Neuron indices in pruning order: 'low_ipr' first, 'high_ipr' first, or 'random'."""
    if order == "low_ipr":
        return np.argsort(ipr_values, kind="stable")
    if order == "high_ipr":
        return np.argsort(-ipr_values, kind="stable")
    if order == "random":
        return np.random.default_rng(seed).permutation(len(ipr_values))
    raise AnalysisError(f"pruning order must be one of {', '.join(ORDERS)}, got {order!r}")


@torch.no_grad()
def _accuracies(model: StackedModel, params: Mapping[str, torch.Tensor], task: Task, split: Split) -> dict[str, float]:
    a, b = torch.from_numpy(task.a), torch.from_numpy(task.b)
    pred = model.forward(params, a, b)[0].argmax(dim=-1).numpy()  # [N] over all pairs
    tr, te = pred[split.train_idx], pred[split.test_idx]
    hit_tr = tr == split.train_labels
    mean = lambda m: float(m.mean()) if m.size else float("nan")
    return {
        "train_acc": mean(hit_tr), "test_acc": mean(te == task.c[split.test_idx]),
        "corrupted_acc": mean(hit_tr[split.corrupted]), "clean_train_acc": mean(hit_tr[~split.corrupted]),
    }


def pruning_curve(
    model: StackedModel, params: Mapping[str, torch.Tensor], task: Task, split: Split,
    order: str = "low_ipr", n_steps: int = 20, seed: int = 0, ipr_convention: str = "rfft",
) -> list[dict[str, Any]]:
    """Accuracies after pruning 0, ..., d_mlp neurons cumulatively in `order` (n_steps + 1 rows,
    evenly spaced in the number pruned) for a stack-of-one `params`."""
    ipr_values = model_neuron_ipr(unstack(params), model.cfg, task.n, ipr_convention)
    ranking = prune_order(ipr_values, order, seed)
    d = len(ranking)
    counts = sorted(set(np.linspace(0, d, n_steps + 1).round().astype(int).tolist()))
    rows = []
    for count in counts:
        pruned = prune_neurons(params, model, ranking[:count]) if count else params
        rows.append({"order": order, "n_pruned": count, "frac_pruned": count / d,
                     **_accuracies(model, pruned, task, split)})
    return rows
