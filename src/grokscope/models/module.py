"""One model of a stack as a plain `torch.nn.Module`: call it on the task's inputs, no K axis anywhere.

    m = run.model("final")          # or ModelModule(family, params)
    logits = m(a, b)                # a, b: int tensors [B] -> [B, n_out] (a dense task's model: m(x), x [B, n_in])
    logits, cache = m.run_with_cache(a, b, names=["mlp.hook_post"])   # activations [B, ...]

The parameters are `nn.Parameter`s under the family's own (TransformerLens) names, so
`m.state_dict()` keys are `W_E`, `blocks.0.attn.W_Q`, ... and the module trains with any torch
optimizer. `m.params()` gives them back stacked (K = 1) for the family's views and analysis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from grokscope.models.base import Params, StackedModel


class ModelModule(nn.Module):
    """A `StackedModel` family with ONE model's parameters held as `nn.Parameter`s."""

    def __init__(self, family: StackedModel, params: Mapping[str, torch.Tensor]):
        """`params`: one model's weights, either stacked with K = 1 (`Run.params`) or without a K axis."""
        super().__init__()
        self.family = family
        spec = family.spec()
        self._names = list(spec)
        for name in self._names:
            t = params[name].detach()
            if t.dim() == len(spec[name][0]) + 1:  # stacked: take the only model
                if t.shape[0] != 1:
                    raise ValueError(f"{name} holds {t.shape[0]} models; pick one (params[k:k+1])")
                t = t[0]
            self._register(name, nn.Parameter(t.clone()))

    def _register(self, name: str, p: nn.Parameter) -> None:
        # nn.Module names may not contain '.': nest empty modules so state_dict keys are our names
        *path, leaf = name.split(".")
        mod: nn.Module = self
        for part in path:
            if not hasattr(mod, part):
                mod.add_module(part, nn.Module())
            mod = getattr(mod, part)
        mod.register_parameter(leaf, p)

    def params(self) -> Params:
        """The weights stacked with a leading axis of 1 (views in the autograd graph of this module)."""
        return {name: self.get_parameter(name).unsqueeze(0) for name in self._names}

    @property
    def hook_names(self) -> tuple[str, ...]:
        return self.family.hook_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Logits [B, n_out] for the task's inputs: operand indices a, b [B], or vectors x [B, n_in]."""
        return self.family.forward(self.params(), *map(torch.as_tensor, inputs))[0]

    def run_with_cache(
        self, *inputs: torch.Tensor, names: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(logits [B, n_out], {hook name: activation [B, ...]}); see `StackedModel.run_with_cache`."""
        logits, cache = self.family.run_with_cache(self.params(), *map(torch.as_tensor, inputs), names=names)
        return logits[0], {name: t[0] for name, t in cache.items()}

    def extra_repr(self) -> str:
        return self.family.describe()
