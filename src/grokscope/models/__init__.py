"""Model families with stacked (ensemble-first) parameters and TransformerLens names."""

from grokscope.config import ModelConfig
from grokscope.models.base import Params, StackedModel, gather_rows
from grokscope.models.mlp import MLP
from grokscope.models.transformer import Transformer


def build_model(cfg: ModelConfig, n: int, n_out: int | None = None) -> StackedModel:
    """The model for `cfg` on operands 0..n-1 with `n_out` classes (default n)."""
    cls = MLP if cfg.arch == "mlp" else Transformer
    return cls(cfg, n, n if n_out is None else n_out)


__all__ = ["MLP", "Params", "StackedModel", "Transformer", "build_model", "gather_rows"]
