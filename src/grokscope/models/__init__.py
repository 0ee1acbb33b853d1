"""Model families with stacked (ensemble-first) parameters and TransformerLens names.

A family is a `StackedModel` subclass in its own module, named with its config fields in
`grokscope.config.FAMILIES`; `build_model` imports it from there.
"""

import importlib

from grokscope.config import FAMILIES, ModelConfig
from grokscope.models.base import Params, StackedModel, gather_rows, to_numpy


def model_class(arch: str) -> type[StackedModel]:
    """The StackedModel subclass of family `arch` (a name in the registry `grokscope.config.FAMILIES`)."""
    module, _, name = FAMILIES.get(arch).model.partition(":")
    return getattr(importlib.import_module(module), name)


def build_model(cfg: ModelConfig, n: int, n_out: int | None = None) -> StackedModel:
    """The model for `cfg` on operands 0..n-1 with `n_out` classes (default n)."""
    return model_class(cfg.arch)(cfg, n, n if n_out is None else n_out)


__all__ = ["Params", "StackedModel", "build_model", "gather_rows", "model_class", "to_numpy"]
