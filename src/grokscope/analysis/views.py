"""One model's weights as the matrices analysis reads: a model out of a stack, and the family's
views of it (operand embeddings, each neuron's input and output weights).

The family of cfg.arch (`grokscope.models`) defines each view; these functions take one model's
params (no ensemble axis K: `unstack(params, k)` takes model k out of a stacked dict) and return
float64 numpy arrays indexed by residue where the axis is the operand or logit axis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from grokscope.config import ModelConfig
from grokscope.models import StackedModel, build_model

Array = np.ndarray


# ---------------------------------------------------------------- stacks


def unstack(params: Mapping[str, torch.Tensor], k: int = 0) -> dict[str, torch.Tensor]:
    """Model k of a stacked parameter dict, without the K axis (detached, on the CPU)."""
    return {name: t[k].detach().cpu() for name, t in params.items()}


def take_model(params: Mapping[str, torch.Tensor], k: int = 0) -> dict[str, torch.Tensor]:
    """Model k of a stack as a stack of one ([1, ...] tensors), ready for `model.forward`."""
    return {name: t[k : k + 1].detach() for name, t in params.items()}


# ---------------------------------------------------------------- weight views


def _view(cfg: ModelConfig, n: int | None = None) -> StackedModel:
    # n only matters for views over the operand axis (the transformer drops its '=' row)
    return build_model(cfg, n or 0, n_out=0)


def embedding_matrix(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> Array:
    """Operand embeddings as [n, d] (rows indexed by residue), no K axis."""
    return _view(cfg, n).embedding(params)


def neuron_input_weights(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int) -> tuple[Array, Array]:
    """Each analysed hidden neuron's direct weight on operand a and on b -> ([n, d_mlp], [n, d_mlp])."""
    return _view(cfg, n).neuron_input_weights(params)


def neuron_output_weights(params: Mapping[str, torch.Tensor], cfg: ModelConfig) -> Array:
    """W_L: each analysed (last-layer) neuron's effect on the logits -> [d_mlp, n_out]."""
    return _view(cfg).neuron_output_weights(params)


def has_embedding(cfg: ModelConfig) -> bool:
    """Whether the operands go through a learned embedding table W_E first."""
    return _view(cfg).has_embedding
