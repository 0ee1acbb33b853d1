"""MLPs with several hidden layers on the two-hot input (Prieto et al. 2025: [200, 200]).

h_0 = act(W_a[a] + W_b[b] + b_in)                      (the two-hot first layer, as a row gather)
h_i = act(h_{i-1} @ hidden.{i}.W + hidden.{i}.b)       i = 1 .. n_layers - 1, width d_mlp
logits = h_last @ W_out + b_out

Analysis views: the analysed neurons are the last hidden layer's (W_L = W_out is exact for them);
their input weights are the first layer's W_a, W_b, which are the same neurons only when
n_layers = 1, so the per-neuron measures (which pair the two) are not run for this family.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from grokscope.models.base import Params, Spec, StackedModel, gather_rows, to_numpy


class DeepMLP(StackedModel):
    hook_names = ("mlp.hook_post",)  # the last hidden layer
    measures = ("progress", "numerics")

    @property
    def report_panels(self) -> tuple[str, ...]:
        """Neuron waves and phase-sum pair input and output weights: one hidden layer only."""
        return StackedModel.report_panels if self.cfg.n_layers == 1 else ("spectrum", "fourier")

    def _last(self) -> str | None:
        n = self.cfg.n_layers
        return f"hidden.{n - 1}." if n > 1 else None

    def spec(self) -> Spec:
        c, n, d = self.cfg, self.n, self.cfg.d_mlp
        spec: Spec = {"W_a": ((n, d), None, 2 * n), "W_b": ((n, d), None, 2 * n)}
        if c.bias:
            spec["b_in"] = ((d,), None, 2 * n)
        for i in range(1, c.n_layers):
            spec[f"hidden.{i}.W"] = ((d, d), None, d)
            if c.bias:
                spec[f"hidden.{i}.b"] = ((d,), None, d)
        spec["W_out"] = ((d, self.n_out), None, d)
        if c.bias:
            spec["b_out"] = ((self.n_out,), None, d)
        return spec

    def forward(
        self, params: Params, a: torch.Tensor, b: torch.Tensor, cache: dict | None = None
    ) -> torch.Tensor:
        """a, b: [K, B] or [B] operand indices -> logits [K, B, n_out]."""
        pre = gather_rows(params["W_a"], a) + gather_rows(params["W_b"], b)  # [K, B, d_mlp]
        if "b_in" in params:
            pre = pre + params["b_in"].unsqueeze(1)
        h = self.act(pre)
        for i in range(1, self.cfg.n_layers):
            pre = torch.bmm(h, params[f"hidden.{i}.W"])  # [K, B, d_mlp]
            if f"hidden.{i}.b" in params:
                pre = pre + params[f"hidden.{i}.b"].unsqueeze(1)
            h = self.act(pre)
        if cache is not None:
            cache["mlp.hook_post"] = h
        logits = torch.bmm(h, params["W_out"])
        return logits + params["b_out"].unsqueeze(1) if "b_out" in params else logits

    # ------------------------------------------------------------------ views
    def describe(self) -> str:
        c = self.cfg
        return f"MLP {c.n_layers}×{c.d_mlp} {c.act}"

    @property
    def input_tables(self) -> tuple[str, str]:
        return "W_a", "W_b"

    def embedding(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        return np.concatenate([to_numpy(params["W_a"]), to_numpy(params["W_b"])], axis=1)

    def neuron_input_weights(self, params: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """The first hidden layer's weights on a and b (see the module docstring)."""
        return to_numpy(params["W_a"]), to_numpy(params["W_b"])

    def neuron_output_weights(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        return to_numpy(params["W_out"])

    def neuron_slices(self) -> tuple[list[str], list[str], list[str]]:
        last, bias = self._last(), self.cfg.bias
        if last is None:
            return ["W_a", "W_b"], ["W_out"], ["b_in"] if bias else []
        return [last + "W"], ["W_out"], [last + "b"] if bias else []
