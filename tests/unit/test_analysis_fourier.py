import numpy as np
import pytest
import torch

from grokscope.analysis.fourier import (
    fourier_1d,
    fourier_2d,
    fourier_basis,
    freq_norms,
    inverse_fourier_2d,
    key_frequencies,
    model_key_frequencies,
)
from grokscope.config import ModelConfig


@pytest.mark.parametrize("p", [7, 11, 12, 23])
def test_basis_is_orthonormal(p):
    B, names = fourier_basis(p)
    assert B.shape == (p, p) and len(names) == p
    np.testing.assert_allclose(B @ B.T, np.eye(p), atol=1e-12)
    assert names[:3] == ["const", "cos1", "sin1"]


def test_2d_transform_roundtrip_and_parseval():
    x = np.random.default_rng(0).normal(size=(11, 11, 3))
    X = fourier_2d(x)
    np.testing.assert_allclose(inverse_fourier_2d(X), x, atol=1e-12)
    np.testing.assert_allclose((X**2).sum(), (x**2).sum())


def test_pure_cosine_lands_in_its_row():
    p, k = 13, 4
    x = np.cos(2 * np.pi * k * np.arange(p) / p)
    X = fourier_1d(x)
    _, names = fourier_basis(p)
    assert names[int(np.abs(X).argmax())] == f"cos{k}"
    assert np.abs(X[np.arange(p) != 2 * k - 1]).max() < 1e-12


def test_planted_single_frequency_embedding_is_the_key_frequency():
    p, k, d = 23, 7, 16
    rng = np.random.default_rng(1)
    a = np.arange(p)
    E = np.outer(np.cos(2 * np.pi * k * a / p), rng.normal(size=d)) + np.outer(
        np.sin(2 * np.pi * k * a / p), rng.normal(size=d))
    E += 1e-3 * rng.normal(size=E.shape)
    norms = freq_norms(E, axis=0)
    assert norms.shape == ((p - 1) // 2,)
    assert key_frequencies(norms) == [k]


def test_model_key_frequencies_from_W_L_and_embed():
    p, d = 11, 8
    cfg = ModelConfig(arch="mlp", input="two_hot", d_mlp=d, bias=False)
    c = np.arange(p)
    W_out = np.outer(np.ones(d), np.cos(2 * np.pi * 3 * c / p))  # every neuron writes frequency 3
    W_a = np.outer(np.cos(2 * np.pi * 5 * c / p), np.ones(d))
    params = {"W_a": torch.tensor(W_a), "W_b": torch.tensor(W_a), "W_out": torch.tensor(W_out)}
    assert model_key_frequencies(params, cfg, p) == [3]
    assert model_key_frequencies(params, cfg, p, source="embed") == [5]



@pytest.mark.parametrize("p", [7, 8, 11, 97])
def test_freq_norms_are_the_norms_of_the_basis_projection(p):
    """`freq_norms` (an FFT) equals its definition: the norm of each (cos_k, sin_k) block of B x."""
    rng = np.random.default_rng(p)
    x = rng.normal(size=(p, 5))
    B, names = fourier_basis(p)
    X = B @ x
    want = [np.linalg.norm(X[[i for i, nm in enumerate(names) if nm in (f"cos{k}", f"sin{k}")]]) for k in range(1, p // 2 + 1)]
    np.testing.assert_allclose(freq_norms(x, axis=0), want, rtol=1e-10)
    np.testing.assert_allclose(freq_norms(x.T, axis=1), want, rtol=1e-10)
    const = np.linalg.norm(X[0])
    np.testing.assert_allclose(freq_norms(x, axis=0, include_const=True), [const, *want], rtol=1e-10)
