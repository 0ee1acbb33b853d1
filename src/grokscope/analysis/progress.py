"""Nanda et al. 2023 progress measures: restricted loss, excluded loss, Gini sparsity, Σθ².

Logits are taken on the full (a, b) grid as L [p, p, C]. For a key frequency k the two "sum"
directions over (a, b) are, with the orthonormal basis rows cos_k, sin_k of `fourier.py`,

    u_k = (cos_k ⊗ cos_k − sin_k ⊗ sin_k)/√2 = (√2/p)·cos(w_k(a+b))
    v_k = (sin_k ⊗ cos_k + cos_k ⊗ sin_k)/√2 = (√2/p)·sin(w_k(a+b))      (w_k = 2πk/p)

both unit vectors in R^{p×p}. proj_k(L) = u_k ⊗ ⟨u_k, L⟩ + v_k ⊗ ⟨v_k, L⟩ (per class c).

- restricted logits = per-class mean of L (the constant term, "bias correction") + Σ_keys proj_k(L)
- excluded logits   = L − Σ_keys proj_k(L)
Losses are float64 cross-entropy on a split: 'train' uses the labels the model was trained on
(noisy where corrupted), 'test' and 'all' the clean answers. Which split each number is on is
in its name (`restricted_loss_test`, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import (
    AnalysisError,
    Array,
    embedding_freq_norms,
    fourier_basis,
    key_frequencies,
    unembed_freq_norms,
)
from grokscope.analysis.measures import Checkpoint, register
from grokscope.analysis.views import unstack
from grokscope.config import ModelConfig
from grokscope.models import StackedModel, to_numpy
from grokscope.tasks import Split, Task

log = logging.getLogger(__name__)

SPLITS = ("train", "test", "all")


@torch.no_grad()
def grid_logits(model: StackedModel, params: Mapping[str, torch.Tensor], task: Task, k: int = 0) -> Array:
    """Logits of model k of a stack on every pair -> [n, n, n_out] float64 (needs a full grid)."""
    if not task.full_grid:
        raise AnalysisError("progress measures need the full (a, b) grid (symmetric/domain-restricted task)")
    one = {name: t[k : k + 1] for name, t in params.items()}
    a, b = torch.from_numpy(task.a), torch.from_numpy(task.b)
    device = next(iter(one.values())).device
    logits = model.forward(one, a.to(device), b.to(device))[0]  # [n*n, n_out], row-major over (a, b)
    return to_numpy(logits).reshape(task.n, task.n, -1)


def sum_directions(p: int, k: int) -> tuple[Array, Array]:
    """(u_k, v_k): unit [p, p] grids of cos(w_k(a+b)) and sin(w_k(a+b))."""
    B, _ = fourier_basis(p)
    cos_k, sin_k = B[2 * k - 1], B[2 * k]
    u = (np.outer(cos_k, cos_k) - np.outer(sin_k, sin_k)) / np.sqrt(2)
    v = (np.outer(sin_k, cos_k) + np.outer(cos_k, sin_k)) / np.sqrt(2)
    return u, v


def sum_projection(L: Array, keys: Iterable[int]) -> Array:
    """Σ_k proj onto u_k, v_k of logits L [p, p, C] -> [p, p, C].

    The u_k, v_k are orthonormal, so all keys project at once: two matmuls through the stacked
    directions D [2K, p*p] instead of a Python loop over keys.
    """
    L = np.asarray(L, dtype=np.float64)
    p, C = L.shape[0], L.shape[-1]
    keys = list(keys)
    if not keys:
        return np.zeros_like(L)
    D = np.stack([d for k in keys for d in sum_directions(p, k)]).reshape(2 * len(keys), p * p)
    coef = D @ L.reshape(p * p, C)  # [2K, C]: component of every class along every direction
    return (D.T @ coef).reshape(p, p, C)


def restricted_logits(L: Array, keys: Iterable[int]) -> Array:
    """Per-class mean (constant term) plus the key-frequency sum components of L [p, p, C]."""
    L = np.asarray(L, dtype=np.float64)
    return L.mean(axis=(0, 1), keepdims=True) + sum_projection(L, keys)


def excluded_logits(L: Array, keys: Iterable[int]) -> Array:
    """L [p, p, C] minus its key-frequency sum components."""
    L = np.asarray(L, dtype=np.float64)
    return L - sum_projection(L, keys)


def cross_entropy(logits: Array, labels: Array) -> float:
    """Mean float64 cross-entropy of logits [N, C] against labels [N]."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def accuracy(logits: Array, labels: Array) -> float:
    return float((np.asarray(logits).argmax(axis=1) == labels).mean())


def split_indices(task: Task, split: Split, which: str) -> tuple[Array, Array]:
    """(indices into the task's pairs, labels) for 'train' (trained-on labels), 'test', 'all'."""
    if which == "train":
        return split.train_idx, split.train_labels
    if which == "test":
        return split.test_idx, task.c[split.test_idx]
    if which == "all":
        return np.arange(task.n_pairs), task.c
    raise AnalysisError(f"split must be one of {', '.join(SPLITS)}, got {which!r}")


def _flat(L: Array) -> Array:
    return L.reshape(-1, L.shape[-1])


def restricted_loss(L: Array, keys: Iterable[int], idx: Array, labels: Array) -> float:
    """Cross-entropy of the restricted logits on the pairs `idx` (flat row-major indices)."""
    return cross_entropy(_flat(restricted_logits(L, keys))[idx], labels)


def excluded_loss(L: Array, keys: Iterable[int], idx: Array, labels: Array) -> float:
    """Cross-entropy of the excluded logits (all keys removed at once) on the pairs `idx`."""
    return cross_entropy(_flat(excluded_logits(L, keys))[idx], labels)


def excluded_loss_per_frequency(L: Array, idx: Array, labels: Array) -> Array:
    """Excluded loss removing one frequency at a time, k = 1..p//2 -> [(p-1)//2]."""
    return np.array([excluded_loss(L, [k], idx, labels) for k in range(1, (L.shape[0] - 1) // 2 + 1)])


def gini(c: Array | Sequence[float]) -> float:
    """Hurley–Rickard Gini of a non-negative vector: 0 = evenly spread, → 1 = one entry.

    G = 1 − 2 Σ_i (c_(i)/‖c‖₁)(N − i + ½)/N over c sorted ascending (i = 1..N).
    """
    c = np.sort(np.abs(np.asarray(c, dtype=np.float64)))
    n, total = len(c), c.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(1 - 2 * np.sum((c / total) * (n - i + 0.5) / n))


def sum_sq_weights(params: Mapping[str, torch.Tensor]) -> float:
    """Σθ² over every parameter tensor given (one model, or a stack of one)."""
    return float(sum(to_numpy(t).__pow__(2).sum() for t in params.values()))


def fixed_keys(run: Any, key_threshold: float = 0.25) -> list[int]:
    """The key frequencies of a run's *final* checkpoint (W_L Fourier norms ≥ `key_threshold` × max),
    held fixed over the whole run: Nanda et al.'s excluded and restricted losses remove or keep the
    eventual algorithm's frequencies at every checkpoint (docs/papers/nanda2023.md), so the series of one run
    is comparable across steps. Both `grokscope analyze` and `reproduce nanda2023` use this."""
    return [int(k) for k in key_frequencies(unembed_freq_norms(unstack(run.params("final")), run.config.model),
                                            key_threshold)]


def progress_measures(
    model: StackedModel,
    params: Mapping[str, torch.Tensor],
    task: Task,
    split: Split,
    keys: Sequence[int] | None = None,
    key_threshold: float = 0.25,
    splits: Sequence[str] = SPLITS,
    per_frequency: bool = False,
) -> dict[str, Any]:
    """All progress measures of a stack-of-one `params` -> flat dict.

    `keys` default: key frequencies of W_L at `key_threshold` × max (see `fourier.key_frequencies`).
    Columns: key_freqs, restricted_loss_{split}, restricted_acc_{split}, excluded_loss_{split},
    excluded_acc_{split}, gini_embed, gini_W_L, sum_sq_weights (+ excluded_loss_max_train and
    excluded_loss_freqs_train when `per_frequency`).
    """
    one = unstack(params)
    cfg = model.cfg
    if keys is None:
        keys = key_frequencies(unembed_freq_norms(one, cfg), key_threshold)
    L = grid_logits(model, params, task)
    out: dict[str, Any] = {"key_freqs": list(keys)}
    R, E = _flat(restricted_logits(L, keys)), _flat(excluded_logits(L, keys))
    for which in splits:
        idx, labels = split_indices(task, split, which)
        out[f"restricted_loss_{which}"] = cross_entropy(R[idx], labels)
        out[f"restricted_acc_{which}"] = accuracy(R[idx], labels)
        out[f"excluded_loss_{which}"] = cross_entropy(E[idx], labels)
        out[f"excluded_acc_{which}"] = accuracy(E[idx], labels)
    if per_frequency:
        idx, labels = split_indices(task, split, "train")
        per = excluded_loss_per_frequency(L, idx, labels)
        out["excluded_loss_freqs_train"] = per.tolist()
        out["excluded_loss_max_train"] = float(per.max())
    out.update(weight_measures(one, cfg, task.n))
    return out


def weight_measures(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> dict[str, float]:
    """The progress measures read off the weights alone (no logits, any task): gini_embed and
    gini_W_L (Gini of the embedding's and W_L's per-frequency norms) and sum_sq_weights, for one
    model's params (no K axis). `progress_measures` reports these same numbers."""
    return {"gini_embed": gini(embedding_freq_norms(params, cfg, n)),
            "gini_W_L": gini(unembed_freq_norms(params, cfg)),
            "sum_sq_weights": sum_sq_weights(params)}


@register("progress", rank=10, grid_only=True)
def _progress(ck: Checkpoint) -> dict[str, Any]:
    pm = progress_measures(ck.model, ck.params, ck.task, ck.split, keys=ck.keys)
    pm["key_freqs"] = ",".join(str(k) for k in pm["key_freqs"])
    pm["n_key_freqs"] = len(ck.keys)
    return pm
