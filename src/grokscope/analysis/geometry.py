"""The geometry of the operand embeddings E [n, d] (one row per residue): where the residues lie.

- `embedding_pca`: the top principal components of the centred embeddings, the share of the
  variance each holds, and the frequency each one oscillates at over the residues. A network that
  uses a frequency k puts the residues on a circle in the plane of two components (the "clock").
- `frequency_plane`: the centred embeddings projected on the plane of one frequency k, the span of
  Σ_x cos(2πkx/n)·E_x and Σ_x sin(2πkx/n)·E_x (orthonormalised), and the share of the variance
  that plane holds. Useful when the variance is spread over many frequencies and no two principal
  components hold a clean circle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from grokscope.analysis.neurons import dominant_frequency_phase

Array = np.ndarray


def embedding_pca(E: Array, n_components: int = 2) -> dict[str, Any]:
    """Top principal components of the centred embeddings E [n, d] -> {"coords" [n, k] (one point
    per residue, signs fixed so residue 0 lies at a non-negative coordinate on each axis),
    "var" [k] (fraction of the total variance), "freq" [k] (each component's dominant frequency
    over the residues; 0 when n ≤ 2)}."""
    E = np.asarray(E, dtype=np.float64)
    X = torch.from_numpy(E - E.mean(axis=0, keepdims=True))
    # eigh of the small [n, n] Gram matrix (torch) rather than numpy's SVD of [n, d]: same
    # components, and numpy's OpenBLAS crawled under thread contention (seconds per call)
    evals, evecs = (t.numpy() for t in torch.linalg.eigh(X @ X.T))
    by_size = np.argsort(-evals)
    top = by_size[:n_components]
    S = np.sqrt(np.clip(evals[by_size], 0, None))
    P = evecs[:, top] * S[:n_components]
    P = P * np.where(P[0] < 0, -1.0, 1.0)
    total = float((S**2).sum()) or 1.0
    freq = [int(dominant_frequency_phase(P[:, i])[0]) if len(P) > 2 else 0 for i in range(P.shape[1])]
    return {"coords": P, "var": (S[:n_components] ** 2 / total).tolist(), "freq": freq}


def frequency_plane(E: Array, k: int) -> dict[str, Any]:
    """The centred embeddings E [n, d] on the plane of frequency k -> {"x" [n], "y" [n], "k",
    "var" (the fraction of the total variance in that plane)}."""
    E = np.asarray(E, dtype=np.float64)
    n = len(E)
    X = E - E.mean(axis=0, keepdims=True)
    w = 2 * np.pi * k * np.arange(n) / n
    a, b = (np.cos(w) * X.T).sum(axis=1), (np.sin(w) * X.T).sum(axis=1)  # [d] each
    u = a / (np.linalg.norm(a) or 1.0)
    b = b - (b @ u) * u
    v = b / (np.linalg.norm(b) or 1.0)
    px, py = (X * u).sum(axis=1), (X * v).sum(axis=1)
    total = float((X**2).sum()) or 1.0
    return {"x": px, "y": py, "k": int(k), "var": float((px**2 + py**2).sum()) / total}
