"""Clock versus pizza (Zhong et al. 2023): gradient symmetricity, distance irrelevance,
circularity, and logit fraction of variance explained by clock / pizza templates.

- gradient symmetricity: mean over sampled triples (a, b, c), a ≠ b, of cos(∂Q_c/∂E_a, ∂Q_c/∂E_b),
  Q_c the logit of class c and E_a, E_b the input embeddings of the two operands (transformer and
  embed_concat: rows of W_E; two_hot: W_a[a] and W_b[b]; shared: W_in rows). Pizza ≈ 1.
- distance irrelevance: L[s, d] = correct-class logit at s = a+b, d = a−b (mod p);
  DI = mean_d std_s L[·, d] / std(L). Clock ≈ 1 (no dependence on a−b), pizza lower.
- circularity: for each of the top 4 principal components of the (centred) operand embeddings,
  the largest fraction of its power at one frequency (one-sided DFT, DC excluded); averaged.
- logit FVE: least-squares fit of the logits, centred over classes, by one template per key
  frequency — clock cos(w_k(a+b−c)), pizza |cos(w_k(a−b)/2)|·cos(w_k(a+b−c)) — FVE = 1 − RSS/TSS.
- families: `classify_run` reads one set of measures (clock / pizza / other / none);
  `classify_trajectory` reads the medians over the checkpoints after the run generalised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError, Array, key_frequencies, unembed_freq_norms
from grokscope.analysis.measures import Checkpoint, register
from grokscope.analysis.progress import grid_logits
from grokscope.analysis.views import embedding_matrix, unstack
from grokscope.models import StackedModel
from grokscope.tasks import Task

log = logging.getLogger(__name__)


def gradient_symmetricity(
    model: StackedModel, params: Mapping[str, torch.Tensor], n: int, n_samples: int = 100, seed: int = 0
) -> float:
    """Mean cos(∂Q_c/∂E_a, ∂Q_c/∂E_b) over `n_samples` random triples with a ≠ b (fixed seed)."""
    rng = np.random.default_rng(seed)
    name_a, name_b = model.input_tables
    pairs = np.array([rng.choice(n, size=2, replace=False) for _ in range(n_samples)])  # a ≠ b
    a, b = torch.as_tensor(pairs[:, 0]), torch.as_tensor(pairs[:, 1])
    c = torch.as_tensor(rng.integers(model.n_out, size=n_samples))
    # One sample per ensemble member: replicate the model n_samples times along K, so a single
    # backward pass gives every sample its own gradient (no cross-talk through shared rows).
    names = {name_a, name_b}
    rep = {k: v.detach()[:1].expand(n_samples, *v.shape[1:]).clone().requires_grad_(k in names)
           for k, v in params.items()}
    logits = model.forward(rep, a.unsqueeze(1), b.unsqueeze(1))[:, 0]  # [n_samples, n_out]
    q = logits.gather(1, c.unsqueeze(1)).sum()
    grads = torch.autograd.grad(q, [rep[name] for name in sorted(names)])
    by_name = dict(zip(sorted(names), grads))
    idx = torch.arange(n_samples)
    g_a, g_b = by_name[name_a][idx, a], by_name[name_b][idx, b]  # [n_samples, d]
    denom = g_a.norm(dim=1) * g_b.norm(dim=1)
    sims = torch.where(denom > 0, (g_a * g_b).sum(dim=1) / denom.clamp_min(1e-30), torch.zeros_like(denom))
    return float(sims.double().mean())


def distance_irrelevance(L: Array) -> float:
    """Zhong's DI from grid logits L [p, p, p] of (a + b) mod p."""
    p = L.shape[0]
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    correct = L[a, b, (a + b) % p]  # [p, p] correct-class logit
    M = np.empty((p, p))
    M[(a + b) % p, (a - b) % p] = correct  # (a, b) -> (s, d) is a bijection for odd p
    total = correct.std()
    return float(M.std(axis=0).mean() / total) if total > 0 else float("nan")


def circularity(E: Array, n_components: int = 4) -> float:
    """Mean over the top principal components of E [p, d] of the largest single-frequency power
    fraction (1 = each component is a pure sinusoid over the residues)."""
    E = np.asarray(E, dtype=np.float64)
    E = E - E.mean(axis=0, keepdims=True)
    U, S, _ = np.linalg.svd(E, full_matrices=False)
    scores = []
    for i in range(min(n_components, len(S))):
        x = U[:, i] * S[i]  # projection of each residue on component i
        power = np.abs(np.fft.rfft(x))[1:] ** 2
        scores.append(float(np.clip(power.max() / power.sum(), 0, 1)) if power.sum() > 0 else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def template_fve(L: Array, keys: Sequence[int], kind: str = "clock") -> float:
    """FVE of logits L [p, p, p] (centred over classes) by one template per key frequency."""
    p = L.shape[0]
    if not keys:
        return float("nan")
    a, b, c = np.meshgrid(np.arange(p), np.arange(p), np.arange(p), indexing="ij")
    Y = (L - L.mean(axis=2, keepdims=True)).ravel()
    cols = []
    for k in keys:
        w = 2 * np.pi * k / p
        t = np.cos(w * (a + b - c))
        if kind == "pizza":
            t = np.abs(np.cos(w * (a - b) / 2)) * t
        elif kind != "clock":
            raise AnalysisError(f"template must be 'clock' or 'pizza', got {kind!r}")
        cols.append((t - t.mean(axis=2, keepdims=True)).ravel())
    X = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
    tss = (Y**2).sum()
    return float(1 - ((Y - X @ coef) ** 2).sum() / tss) if tss > 0 else float("nan")


def classify_algorithm(
    gradient_sym: float, dist_irrelevance: float, di_clock: float = 0.8, gs_pizza: float = 0.9
) -> str:
    """'clock' if DI ≥ di_clock; 'pizza' if DI < di_clock and gradient symmetricity ≥ gs_pizza;
    otherwise 'mixed'. Thresholds are ours (Zhong et al. show the two clusters, not cut-offs)."""
    if dist_irrelevance >= di_clock:
        return "clock"
    if gradient_sym >= gs_pizza:
        return "pizza"
    return "mixed"


FAMILY_MIN_TEST_ACC = 0.9  # Liu's "generalised" threshold
FAMILY_MIN_CIRCULARITY = 0.6  # below this the embedding has no clean circle (Zhong's "non-circular")


def classify_run(
    measures: Mapping[str, Any], test_acc: float, min_test_acc: float = FAMILY_MIN_TEST_ACC,
    min_circularity: float = FAMILY_MIN_CIRCULARITY, di_clock: float = 0.8, gs_pizza: float = 0.9,
) -> str:
    """One trained run as 'clock', 'pizza', 'other' or 'none' (test accuracy below `min_test_acc`:
    no algorithm found). Both of an algorithm's signatures must hold, on a circular embedding
    (circularity ≥ `min_circularity`): clock = distance-irrelevant (DI ≥ `di_clock`) *and*
    asymmetric gradients (symmetricity < `gs_pizza`); pizza = DI < `di_clock` and symmetricity ≥
    `gs_pizza`. Everything else that generalised (mixed, one signature only, no circle) is 'other'.
    Unlike `classify_algorithm`, a distance-irrelevant model with symmetric gradients is not a clock:
    uniform attention (rate 0) makes the symmetricity 1 by construction, and such a model cannot
    multiply E_a by E_b as the clock does. Thresholds are ours; Zhong et al. draw regions, not cut-offs."""
    if not test_acc >= min_test_acc:  # NaN counts as not generalised
        return "none"
    if not measures["circularity"] >= min_circularity:
        return "other"
    distance_irrelevant = measures["distance_irrelevance"] >= di_clock
    symmetric = measures["gradient_symmetricity"] >= gs_pizza
    if distance_irrelevant != symmetric:
        return "clock" if distance_irrelevant else "pizza"
    return "other"


TRAJECTORY_KEYS = ("gradient_symmetricity", "distance_irrelevance", "circularity", "fve_clock", "fve_pizza")


def median_measures(points: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The median of each measure (`TRAJECTORY_KEYS`) over a run's checkpoints (NaN when there are none)."""
    return {k: float(np.median([p[k] for p in points])) if points else float("nan") for k in TRAJECTORY_KEYS}


def classify_trajectory(
    points: Sequence[Mapping[str, Any]], test_acc: float, min_test_acc: float = FAMILY_MIN_TEST_ACC,
    min_circularity: float = FAMILY_MIN_CIRCULARITY, di_clock: float = 0.8, gs_pizza: float = 0.9,
) -> str:
    """One run's family (`classify_run`) from the medians of its measures over `points`: the checkpoints
    after it generalised (from the first evaluation at test accuracy ≥ `min_test_acc` to the end), so a
    measure that swings from one checkpoint to the next (a rate-0 model's DI) does not decide alone.
    'none' when the run never generalised or ends below `min_test_acc`."""
    if not points:
        return "none"
    return classify_run(median_measures(points), test_acc, min_test_acc, min_circularity, di_clock, gs_pizza)


def algorithm_measures(
    model: StackedModel, params: Mapping[str, torch.Tensor], task: Task,
    keys: Sequence[int] | None = None, key_threshold: float = 0.25, n_samples: int = 100,
) -> dict[str, Any]:
    """All clock/pizza measures of a stack-of-one `params` on an (a + b) mod p task."""
    if model.n_out != task.n:
        raise AnalysisError("clock/pizza measures need n_out == p")
    one = unstack(params)
    if keys is None:
        keys = key_frequencies(unembed_freq_norms(one, model.cfg), key_threshold)
    L = grid_logits(model, params, task)
    out = {
        "gradient_symmetricity": gradient_symmetricity(model, params, task.n, n_samples),
        "distance_irrelevance": distance_irrelevance(L),
        "circularity": circularity(embedding_matrix(one, model.cfg, task.n)),
        "fve_clock": template_fve(L, keys, "clock"),
        "fve_pizza": template_fve(L, keys, "pizza"),
    }
    out["algorithm"] = classify_algorithm(out["gradient_symmetricity"], out["distance_irrelevance"])
    return out


@register("algorithms", rank=50, grid_only=True)
def _algorithms(ck: Checkpoint) -> dict[str, Any]:
    return algorithm_measures(ck.model, ck.params, ck.task, keys=ck.keys)
