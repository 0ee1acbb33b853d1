"""Helpers for tensors with a leading model axis: one row-select for every piece of per-model
state, flat names for saving it, and the chunking of a stack into slices of models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from grokscope.keys import (
    flatten,  # {"a": {"b": t}} -> {"a.b": t}: safetensors names
    get_key,
    split_key,
)

Tree = dict[str, Any]  # nested dicts whose leaves are tensors [K, ...]


def select_rows(tree: Tree, rows: torch.Tensor) -> Tree:
    """The same tree with every leaf cut to the models at `rows` (finished models leave a stack)."""
    return {k: select_rows(v, rows) if isinstance(v, dict) else v[rows] for k, v in tree.items()}


@torch.no_grad()
def total_norm(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """[K] L2 norm of each model's weights over all its tensors (float64): the `weight_norm` metric."""
    return sum(p.detach().double().square().flatten(1).sum(1) for p in params.values()).sqrt()


def load_flat(tree: Tree, flat: dict[str, torch.Tensor], prefix: str = "") -> None:
    """Copy `flat` (as written by `flatten`) into the tree's tensors, in place."""
    for k, v in tree.items():
        if isinstance(v, dict):
            load_flat(v, flat, f"{prefix}{k}.")
        else:
            v.copy_(flat[f"{prefix}{k}"])


class PerModelState:
    """Per-model hyperparameters (`hyper`, each [K]) and state tensors (`state`, each [K, ...]) that
    follow the stack: cut to the remaining models, saved flat for resume, loaded back in place.
    Shared by the optimizer and the gradient transforms, which declare their per-model
    hyperparameters the same way: `per_model_fields`, the dotted config keys that may differ
    between the models of one stack (`hyper` holds them, named by their last part)."""

    per_model_fields: tuple[str, ...] = ()
    hyper: Tree
    state: Tree

    def init_hyper(self, cfgs: Any, dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        """`hyper` from each model's config: {"lr": [K], ...} for per_model_fields ("optim.lr", ...)."""
        self.hyper = {split_key(key)[-1]: torch.tensor([float(get_key(c, key)) for c in cfgs], dtype=dtype, device=device)
                      for key in self.per_model_fields}

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the models at `rows` (when finished models leave an ensemble)."""
        self.hyper, self.state = select_rows(self.hyper, rows), select_rows(self.state, rows)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Flat name -> tensor view of the state (for safetensors)."""
        return flatten(self.state)

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        load_flat(self.state, tensors)


def row_chunks(n_rows: int, per_row: int, budget: int) -> Iterator[slice]:
    """Slices of at most max(1, budget // per_row) consecutive rows covering 0..n_rows-1.

    Used to bound the memory (and keep in cache) of [rows, ...] intermediates: models in a stack
    are independent, so any split gives the same per-model results."""
    step = max(1, budget // max(1, per_row))
    for lo in range(0, n_rows, step):
        yield slice(lo, min(lo + step, n_rows))
