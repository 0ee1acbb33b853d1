"""Idealized modular-addition MLPs (Swaroop 2026 §4; Gromov 2023), built from scratch or
extracted from a checkpoint, and scored on any set of pairs.

An idealized model is 2p → N → p with zero biases:
    W_a[j, i]   = f(2πν_i j/p − φ_a,i)
    W_b[j, i]   = f(2πν_i j/p − φ_b,i)
    W_out[i, c] = g(2πν_i c/p − φ_out,i)
    logits(a, b) = act(W_a[a] + W_b[b]) @ W_out
with f, g ∈ {cos, sq = sign∘cos} (variants cos_cos, sq_cos, sq_sq) and act = ReLU.

From scratch (Table 1): neuron i = 1..N has ν_i = i mod p, phases φ_a, φ_b ~ U[−π, π] and
φ_out = φ_a + φ_b. Extraction (§4.1): ν from W_a's dominant DFT bin, φ_a and φ_b read at ν, and
the *measured* φ_out (never φ_a + φ_b, which would be Table 1 on any weights); unit amplitude.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError, Array
from grokscope.analysis.measures import Checkpoint, register
from grokscope.analysis.neurons import dominant_frequency_phase
from grokscope.analysis.views import neuron_input_weights, neuron_output_weights
from grokscope.config import ModelConfig

log = logging.getLogger(__name__)

VARIANTS = {"cos_cos": ("cos", "cos"), "sq_cos": ("sq", "cos"), "sq_sq": ("sq", "sq")}
LABELS = {"cos_cos": "Cos→Cos", "sq_cos": "Sq→Cos", "sq_sq": "Sq→Sq"}

# Swaroop 2026 Table 1: mean accuracy over 40 seeds at p = 97 (sd where the paper gives one).
PAPER_TABLE1: dict[int, dict[str, float]] = {
    16: {"cos_cos": 0.042, "sq_cos": 0.074, "sq_sq": 0.046},
    64: {"cos_cos": 0.365, "sq_cos": 0.445, "sq_sq": 0.331},
    128: {"cos_cos": 0.748, "sq_cos": 0.797, "sq_sq": 0.651},
    256: {"cos_cos": 0.979, "sq_cos": 0.985, "sq_sq": 0.938},
    384: {"cos_cos": 0.9987, "sq_cos": 0.9992, "sq_sq": 0.9907},
    512: {"cos_cos": 0.9999, "sq_cos": 1.0000, "sq_sq": 0.9989},
}


def _wave(kind: str, theta: Array) -> Array:
    c = np.cos(theta)
    if kind == "cos":
        return c
    if kind == "sq":
        return np.where(c >= 0, 1.0, -1.0)
    raise AnalysisError(f"wave must be 'cos' or 'sq', got {kind!r}")


def ideal_weights(
    freqs: Array, phi_a: Array, phi_b: Array, phi_out: Array, p: int,
    variant: str = "sq_cos", amplitude: float = 1.0,
) -> dict[str, Array]:
    """Weights of an idealized model: W_a, W_b [p, N], W_out [N, p] (float64 numpy)."""
    if variant not in VARIANTS:
        raise AnalysisError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    f, g = VARIANTS[variant]
    freqs, phi_a, phi_b, phi_out = (np.asarray(v, dtype=np.float64) for v in (freqs, phi_a, phi_b, phi_out))
    theta = 2 * np.pi * np.outer(np.arange(p), freqs) / p  # [p, N]: 2πν_i j/p
    return {
        "W_a": amplitude * _wave(f, theta - phi_a),
        "W_b": amplitude * _wave(f, theta - phi_b),
        "W_out": amplitude * _wave(g, theta - phi_out).T,
    }


def random_idealized(N: int, p: int, variant: str = "sq_cos", seed: int = 0) -> dict[str, Array]:
    """Swaroop's from-scratch model: ν_i = i mod p for i = 1..N, φ_a, φ_b ~ U[−π, π],
    φ_out = φ_a + φ_b."""
    rng = np.random.default_rng(seed)
    freqs = np.arange(1, N + 1) % p
    phi_a, phi_b = rng.uniform(-np.pi, np.pi, N), rng.uniform(-np.pi, np.pi, N)
    return ideal_weights(freqs, phi_a, phi_b, phi_a + phi_b, p, variant)


def gromov_model(N: int, p: int, seed: int = 0) -> dict[str, Array]:
    """Gromov's analytic solution for the quadratic-activation MLP (use act='quadratic'):
    U_ki = A cos(2πσ_k i/p + φ^u_k), V_kj = A cos(2πσ_k j/p + φ^v_k),
    W_qk = A cos(−2πσ_k q/p − φ^u_k − φ^v_k), A = (2/N)^(−1/3), with σ cycling through a random
    permutation of the frequencies 1..p−1 (so every frequency is used about equally) and random
    phases. Σ_k ½cos(2πσ_k(a+b−q)/p) is then ∝ a modular delta, with O(1/√N) corrections."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(np.arange(1, p))
    sigma = perm[np.arange(N) % (p - 1)].astype(np.float64)
    phi_u, phi_v = rng.uniform(-np.pi, np.pi, N), rng.uniform(-np.pi, np.pi, N)
    A = (2.0 / N) ** (-1.0 / 3.0)
    theta = 2 * np.pi * np.outer(np.arange(p), sigma) / p  # [p, N]
    return {"W_a": A * np.cos(theta + phi_u), "W_b": A * np.cos(theta + phi_v),
            "W_out": A * np.cos(-theta - phi_u - phi_v).T}


def idealized_logits(
    weights: Mapping[str, Array], a: Array, b: Array, act: str = "relu", chunk: int = 16384
) -> torch.Tensor:
    """Logits [B, p] of an idealized model on pairs (a, b)."""
    W_a, W_b, W_out = (torch.as_tensor(np.asarray(weights[k]), dtype=torch.float32) for k in ("W_a", "W_b", "W_out"))
    fn = {"relu": torch.relu, "quadratic": torch.square}[act]
    a, b = torch.as_tensor(np.asarray(a)), torch.as_tensor(np.asarray(b))
    out = [fn(W_a[a[i : i + chunk]] + W_b[b[i : i + chunk]]) @ W_out for i in range(0, len(a), chunk)]
    return torch.cat(out)


def idealized_accuracy(
    weights: Mapping[str, Array], a: Array | None = None, b: Array | None = None,
    c: Array | None = None, act: str = "relu",
) -> float:
    """Accuracy of an idealized model on (a + b) mod p; all p² pairs unless (a, b, c) given."""
    p = np.asarray(weights["W_a"]).shape[0]
    if a is None:
        a, b = (x.ravel() for x in np.meshgrid(np.arange(p), np.arange(p), indexing="ij"))
        c = (a + b) % p
    with torch.no_grad():
        pred = idealized_logits(weights, a, b, act).argmax(dim=1).numpy()
    return float((pred == np.asarray(c)).mean())


def extract_phases(
    params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int, phi_out_at: str = "nu"
) -> dict[str, Array]:
    """Per-neuron (ν, φ_a, φ_b, φ_out) of one model (no K axis) for §4.1 extraction.

    ν: W_a's dominant bin; φ_a, φ_b: read at ν; φ_out: read at ν ('nu', default) or at W_out's
    own dominant bin ('own' — then the neuron is rebuilt at ν with that bin's phase). Which one
    matches the paper is not stated; report both where it matters.
    """
    W_a, W_b = neuron_input_weights(params, cfg, n)
    W_out = neuron_output_weights(params, cfg)
    nu, phi_a, _ = dominant_frequency_phase(W_a, axis=0)
    _, phi_b, _ = dominant_frequency_phase(W_b, axis=0, at=nu)
    if phi_out_at == "nu":
        _, phi_out, _ = dominant_frequency_phase(W_out, axis=1, at=nu)
    elif phi_out_at == "own":
        _, phi_out, _ = dominant_frequency_phase(W_out, axis=1)
    else:
        raise AnalysisError(f"phi_out_at must be 'nu' or 'own', got {phi_out_at!r}")
    return {"nu": nu, "phi_a": phi_a, "phi_b": phi_b, "phi_out": phi_out}


def extract_idealized(
    params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int,
    variant: str = "sq_cos", phi_out_at: str = "nu",
) -> dict[str, Array]:
    """Idealized model rebuilt from a checkpoint (every neuron replaced, unit amplitude)."""
    ph = extract_phases(params, cfg, n, phi_out_at)
    return ideal_weights(ph["nu"], ph["phi_a"], ph["phi_b"], ph["phi_out"], n, variant)


def table1(
    Ns: Sequence[int] = (16, 64, 128, 256, 384, 512),
    variants: Sequence[str] = ("cos_cos", "sq_cos", "sq_sq"),
    seeds: int = 40, p: int = 97,
) -> list[dict[str, Any]]:
    """Our Table 1: mean and sd of all-pairs accuracy over `seeds` from-scratch models."""
    rows = []
    for N in Ns:
        for variant in variants:
            accs = np.array([idealized_accuracy(random_idealized(N, p, variant, seed)) for seed in range(seeds)])
            rows.append({"N": N, "variant": variant, "mean": float(accs.mean()),
                         "sd": float(accs.std(ddof=1)) if seeds > 1 else 0.0,
                         "paper": PAPER_TABLE1.get(N, {}).get(variant, math.nan) if p == 97 else math.nan})
            log.info("table1 N=%d %s: %.4f", N, variant, accs.mean())
    return rows


@register("idealized", rank=30, grid_only=True)
def _idealized(ck: Checkpoint) -> dict[str, Any]:
    test = ck.split.test_idx
    a, b, c = ck.task.a[test], ck.task.b[test], ck.task.c[test]
    out = {}
    for variant, at in (("sq_cos", "nu"), ("sq_cos", "own"), ("cos_cos", "nu")):
        w = extract_idealized(ck.one, ck.model.cfg, ck.task.n, variant, at)
        out[f"ideal_{variant}_test_{at}"] = idealized_accuracy(w, a, b, c)
    return out
