"""Fourier analysis over Z_p: an orthonormal real basis, 1-D/2-D transforms, per-frequency norms
and key frequencies, of any array and of a model's embeddings and W_L (read through `views`).

Basis (Nanda et al. 2023): row 0 is the constant 1/sqrt(p); then for k = 1..(p-1)//2 the rows
cos_k(x) = cos(2πkx/p)·sqrt(2/p) and sin_k(x) = sin(2πkx/p)·sqrt(2/p); for even p a last row
cos_{p/2}(x) = (-1)^x / sqrt(p). The p×p matrix B is orthogonal (B Bᵀ = I), so `B @ x` is the
orthonormal transform of a vector x indexed by residue and `B.T @ X` inverts it.

Conventions shared by the analysis package: functions take plain tensors / numpy arrays of one
model (no ensemble axis K); `views.unstack(params, k)` takes model k out of a stacked dict.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

import numpy as np
import torch

from grokscope.analysis.views import embedding_matrix, neuron_output_weights
from grokscope.config import ModelConfig
from grokscope.errors import GrokscopeError
from grokscope.models import to_numpy

log = logging.getLogger(__name__)

Array = np.ndarray


class AnalysisError(GrokscopeError):
    """An analysis cannot be computed for this model, task or input."""


# ---------------------------------------------------------------- the basis


def n_freqs(p: int) -> int:
    """Number of non-constant frequencies: (p-1)//2 for odd p, p//2 for even p."""
    return p // 2


def fourier_basis(p: int) -> tuple[Array, list[str]]:
    """The orthonormal real Fourier basis over Z_p -> (B [p, p], row names).

    Row names are 'const', 'cos1', 'sin1', 'cos2', ... (and 'cos{p/2}' last for even p).
    B is cached and read-only (analysis asks for it thousands of times per run).
    """
    B, names = _fourier_basis(p)
    return B, list(names)


@functools.lru_cache(maxsize=32)
def _fourier_basis(p: int) -> tuple[Array, tuple[str, ...]]:
    if p < 2:
        raise AnalysisError(f"Fourier basis needs p >= 2, got {p}")
    x = np.arange(p)
    rows, names = [np.full(p, 1.0 / np.sqrt(p))], ["const"]
    for k in range(1, (p - 1) // 2 + 1):
        w = 2 * np.pi * k * x / p
        rows += [np.cos(w) * np.sqrt(2.0 / p), np.sin(w) * np.sqrt(2.0 / p)]
        names += [f"cos{k}", f"sin{k}"]
    if p % 2 == 0:
        rows.append(np.cos(np.pi * x) / np.sqrt(p))
        names.append(f"cos{p // 2}")
    B = np.stack(rows)
    B.setflags(write=False)
    return B, tuple(names)


def freq_rows(p: int, k: int) -> list[int]:
    """Rows of the basis that belong to frequency k (k = 0 is the constant)."""
    if k == 0:
        return [0]
    if p % 2 == 0 and k == p // 2:
        return [p - 1]
    return [2 * k - 1, 2 * k]


def fourier_1d(x: Array | torch.Tensor, axis: int = 0) -> Array:
    """Orthonormal transform of `x` along `axis` (length p) -> same shape, basis order."""
    x = to_numpy(x)
    B, _ = fourier_basis(x.shape[axis])
    return np.moveaxis(np.tensordot(B, np.moveaxis(x, axis, 0), axes=1), 0, axis)


def inverse_fourier_1d(X: Array, axis: int = 0) -> Array:
    """Inverse of `fourier_1d` (Bᵀ along `axis`)."""
    X = to_numpy(X)
    B, _ = fourier_basis(X.shape[axis])
    return np.moveaxis(np.tensordot(B.T, np.moveaxis(X, axis, 0), axes=1), 0, axis)


def fourier_2d(x: Array | torch.Tensor) -> Array:
    """Transform along the first two axes of x [p, p, ...] (the (a, b) grid)."""
    return fourier_1d(fourier_1d(x, axis=0), axis=1)


def inverse_fourier_2d(X: Array) -> Array:
    return inverse_fourier_1d(inverse_fourier_1d(X, axis=0), axis=1)


def freq_norms(x: Array | torch.Tensor, axis: int = 0, include_const: bool = False) -> Array:
    """Per-frequency norm of x along `axis` (length p): c_k = ‖(B x)_{cos_k, sin_k}‖ over all
    other axes -> [p//2] for k = 1..p//2 (or [p//2 + 1] with the constant first).

    Computed with an FFT rather than the p × p basis product (same numbers, tested; a matrix
    product crawled under BLAS thread contention): the energy of the orthonormal (cos_k, sin_k)
    pair is (2/p)|X_k|², that of the constant and of the Nyquist row of even p is (1/p)|X_k|²."""
    x = np.moveaxis(np.asarray(to_numpy(x), dtype=np.float64), axis, 0)
    p = x.shape[0]
    X = np.fft.rfft(x, axis=0)  # [p//2 + 1, ...]: k = 0..p//2
    energy = (np.abs(X) ** 2).reshape(len(X), -1).sum(axis=1) * (2.0 / p)
    energy[0] /= 2
    if p % 2 == 0:
        energy[-1] /= 2
    return np.sqrt(energy if include_const else energy[1:])


def key_frequencies(norms: Array, threshold: float = 0.25, max_keys: int | None = None) -> list[int]:
    """Key frequencies from per-frequency norms (index 0 = frequency 1).

    Rule: keep every k whose norm is >= `threshold` × the largest norm (the TransformerLens demo
    uses max/4, our default), largest first, at most `max_keys`.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.size == 0 or not np.isfinite(norms).all() or norms.max() <= 0:
        return []
    order = np.argsort(-norms, kind="stable")
    keys = [int(i) + 1 for i in order if norms[i] >= threshold * norms.max()]
    return keys[:max_keys] if max_keys else keys


# ---------------------------------------------------------------- spectra of a model's weights


def embedding_freq_norms(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> Array:
    """Per-frequency norms of the operand embeddings (Fourier over the residue axis) -> [n//2]."""
    return freq_norms(embedding_matrix(params, cfg, n), axis=0)


def unembed_freq_norms(params: Mapping[str, torch.Tensor], cfg: ModelConfig) -> Array:
    """Per-frequency norms of W_L along the logit axis -> [n_out//2]."""
    return freq_norms(neuron_output_weights(params, cfg), axis=1)


def model_key_frequencies(
    params: Mapping[str, torch.Tensor],
    cfg: ModelConfig,
    n: int,
    source: str = "W_L",
    threshold: float = 0.25,
    max_keys: int | None = None,
) -> list[int]:
    """Key frequencies of one model: `key_frequencies` on the norms of W_L (Nanda App. C.2,
    default) or of the embedding (`source='embed'`)."""
    if source == "W_L":
        norms = unembed_freq_norms(params, cfg)
    elif source == "embed":
        norms = embedding_freq_norms(params, cfg, n)
    else:
        raise AnalysisError(f"key-frequency source must be 'W_L' or 'embed', got {source!r}")
    return key_frequencies(norms, threshold, max_keys)
