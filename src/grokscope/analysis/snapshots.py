"""What one checkpoint looks like, as numbers: the data behind pictures of a model's weights
(the run report's checkpoint slider and Fourier heatmaps draw these; nothing here draws).

`snapshot(params, cfg, n, neurons, clock_k)` of one model (no K axis):
  waves       for each neuron i of `neurons`: `neurons.wave_fit` of W_a[:, i], W_b[:, i] and
              W_out[i] (the weights, their dominant cosine and the square-wave levels)
  pca         `geometry.embedding_pca` of the operand embeddings (top 2 components)
  plane       `geometry.frequency_plane` of the embeddings at frequency clock_k
  spec_embed  per-frequency norms of the embeddings (`fourier.freq_norms`, residue axis)
  spec_WL     per-frequency norms of W_L (logit axis)
  phase       per neuron: s = φ_a + φ_b (mod 2π), o = φ_out, good = structured with agreeing
              frequencies (`neurons.neuron_table`, `analyze_neurons`' rule), and n_good
`fourier_heatmaps(params, cfg, n)`: W_E, W_a, W_b and W_L in the Fourier basis, neurons sorted by
dominant frequency. `slider_choices(params, cfg, n)`: the neurons and clock frequency to follow
through a run (chosen on the final checkpoint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import fourier_1d, fourier_basis, freq_norms, model_key_frequencies
from grokscope.analysis.geometry import embedding_pca, frequency_plane
from grokscope.analysis.neurons import (
    N_NEURONS_SHOWN,
    default_thresholds,
    frequency_order,
    neuron_table,
    readable_neurons,
    wave_fit,
)
from grokscope.analysis.views import (
    embedding_matrix,
    has_embedding,
    neuron_input_weights,
    neuron_output_weights,
)
from grokscope.config import ModelConfig


def slider_choices(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int,
                   n_show: int = N_NEURONS_SHOWN) -> tuple[list[int], int]:
    """(neurons, clock_k) of a final checkpoint: `readable_neurons` of its neuron table, and the
    strongest frequency of its embeddings (1 when there is none)."""
    neurons = readable_neurons(_neuron_table(params, cfg, n), n_show)
    keys = model_key_frequencies(params, cfg, n, source="embed", max_keys=1)
    return neurons, (keys[0] if keys else 1)


def snapshot(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int, neurons: Sequence[int],
             clock_k: int = 1) -> dict[str, Any]:
    """The numbers of one checkpoint's pictures (module docstring), as numpy arrays and floats."""
    W_a, W_b = neuron_input_weights(params, cfg, n)
    W_out = neuron_output_weights(params, cfg)
    E = embedding_matrix(params, cfg, n)
    t = neuron_table(W_a, W_b, W_out, *default_thresholds(n))
    good = (t["kind"] == "structured") & t["freq_agree"]
    return {
        "waves": [[wave_fit(W_a[:, i]), wave_fit(W_b[:, i]), wave_fit(W_out[i])] for i in neurons],
        "pca": embedding_pca(E, 2),
        "plane": frequency_plane(E, clock_k),
        "spec_embed": freq_norms(E, axis=0),
        "spec_WL": freq_norms(W_out, axis=1),
        "phase": {"s": t["phi_sum"], "o": t["phi_out"], "good": good, "n_good": int(good.sum())},
    }


def _neuron_table(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> dict[str, Any]:
    W_a, W_b = neuron_input_weights(params, cfg, n)
    return neuron_table(W_a, W_b, neuron_output_weights(params, cfg), *default_thresholds(n))


def fourier_heatmaps(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> dict[str, Any]:
    """The weights in the Fourier basis -> {"names" (basis rows), "order" (neurons by the dominant
    frequency of W_a), "W_a", "W_b" [n, d_mlp] (columns in that order), "W_L" [n_out, d_mlp],
    "shared_inputs" (W_a and W_b are one matrix), and "W_E" [n, d] for a family with an embedding}."""
    _, names = fourier_basis(n)
    W_a, W_b = neuron_input_weights(params, cfg, n)
    W_L = neuron_output_weights(params, cfg)
    order = frequency_order(W_a, axis=0)
    out: dict[str, Any] = {"names": names, "order": order, "W_a": fourier_1d(W_a, axis=0)[:, order],
                           "W_b": fourier_1d(W_b, axis=0)[:, order], "W_L": fourier_1d(W_L, axis=1)[order].T,
                           "shared_inputs": bool(np.array_equal(W_a, W_b))}
    if has_embedding(cfg):
        out["W_E"] = fourier_1d(embedding_matrix(params, cfg, n), axis=0)
    return out
