"""Hidden progress (Barak et al. 2022; Merrill, Tsilivis, Shukla 2023): what moves inside a network
while its test accuracy still sits at chance.

- `init_distance` (every task): ‖w_t − w_0‖ per parameter tensor and over all of them (L2, plus
  the total L1 and the L2 relative to ‖w_0‖), with w_0 the run's first checkpoint (step 0: the
  checkpoint schedule always holds it). Barak et al. read hidden progress off this distance.
- `sparse_neurons` (parity): per hidden neuron j of the first layer, r_j = ‖W_in[R, j]‖ over the
  task's relevant bits R (`task.meta["relevant"]`) and o_j = ‖W_in[R̄, j]‖ over the others.
      rel_share        Σ_j r_j² / Σ_j (r_j² + o_j²): share of the first-layer squared norm on R
                       (≈ k/n for an isotropic init, 1 for a network that reads only R)
      rel_enrichment   rel_share / (k/n): 1 at random, n/k at most
      top_rel_norm     mean r_j of the `top` neurons with the largest r_j
      rest_rel_norm    mean r_j of the other neurons;  top_rest_ratio = the quotient
      top_norm_share   share of Σ_j ‖W_in[:, j]‖² held by the `top` neurons of largest total norm
                       (Merrill et al.'s few neurons that grow while the rest decay)
      n_sparse_neurons neurons with r_j > o_j (their input weights sit mostly on R; at an
                       isotropic init r_j² ~ (k/n)‖w_j‖², so almost none)
  `top` = 2^k neurons by default: a k-sparse parity is a sum of at most k + 1 ReLUs of x_R's sum,
  so the sparse circuit holds a handful of neurons, not a fraction of the layer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.measures import Checkpoint, register
from grokscope.models.base import to_numpy

log = logging.getLogger(__name__)


def distance_from_init(params: Mapping[str, torch.Tensor], init: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """‖w − w_0‖ of each tensor (`dist_init_<name>`), the L2 and L1 totals over all of them and the
    total relative to ‖w_0‖ (`dist_init_rel`; nan for an all-zero w_0). Tensors of any shape; the
    names must match."""
    if set(params) != set(init):
        raise ValueError(f"parameter names differ: {sorted(set(params) ^ set(init))}")
    out: dict[str, float] = {}
    sq = l1 = sq0 = 0.0
    for name in params:
        d = to_numpy(params[name]) - to_numpy(init[name])
        s = float(np.square(d).sum())
        out[f"dist_init_{name}"] = s**0.5
        sq, l1, sq0 = sq + s, l1 + float(np.abs(d).sum()), sq0 + float(np.square(to_numpy(init[name])).sum())
    out["dist_init"] = sq**0.5
    out["dist_init_l1"] = l1
    out["dist_init_rel"] = sq**0.5 / sq0**0.5 if sq0 > 0 else float("nan")
    return out


def sparse_neuron_stats(w_in: np.ndarray, relevant: Sequence[int], top: int | None = None) -> dict[str, float]:
    """The relevant-bit picture of a first layer w_in [n_in, d_mlp] (see the module docstring);
    `top` neurons (default 2^k, at most d_mlp − 1)."""
    w = np.asarray(w_in, dtype=np.float64)
    n_in, d = w.shape
    rel = np.zeros(n_in, dtype=bool)
    rel[list(relevant)] = True
    k = int(rel.sum())
    if not 0 < k < n_in:
        raise ValueError(f"need 1..{n_in - 1} relevant inputs, got {k}")
    top = min(top if top is not None else 2**k, d - 1)
    r2, o2 = np.square(w[rel]).sum(axis=0), np.square(w[~rel]).sum(axis=0)  # [d_mlp] each
    r = np.sqrt(r2)
    total = float(r2.sum() + o2.sum())
    share = float(r2.sum()) / total if total > 0 else float("nan")
    order = np.argsort(r)[::-1]  # largest relevant norm first
    top_r, rest_r = float(r[order[:top]].mean()), float(r[order[top:]].mean())
    norms2 = np.sort(r2 + o2)[::-1]
    return {
        "rel_share": share,
        "rel_enrichment": share / (k / n_in),
        "top_rel_norm": top_r,
        "rest_rel_norm": rest_r,
        "top_rest_ratio": top_r / rest_r if rest_r > 0 else float("inf"),
        "top_norm_share": float(norms2[:top].sum()) / total if total > 0 else float("nan"),
        "n_sparse_neurons": float((r2 > o2).sum()),
    }


def _init_params(ck: Checkpoint) -> dict[str, torch.Tensor]:
    """w_0: the run's first checkpoint (step 0 unless that file was removed: then a warning)."""
    first = ck.run.checkpoint_steps()[0]
    if first != 0:
        log.warning("%s has no step-0 checkpoint; distances are from step %d", ck.run.path, first)
    return ck.run.params(first)


@register("init_distance", rank=70, tasks=None)
def _init_distance(ck: Checkpoint) -> dict[str, Any]:
    return distance_from_init(ck.params, _init_params(ck))


@register("sparse_neurons", rank=71, tasks=("parity",))
def _sparse_neurons(ck: Checkpoint) -> dict[str, Any]:
    w_in, _ = ck.model.neuron_input_weights(ck.one)
    return sparse_neuron_stats(w_in, ck.task.meta["relevant"])


__all__ = ["distance_from_init", "sparse_neuron_stats"]
