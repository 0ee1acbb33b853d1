"""MLPs on dense input vectors (parity bits, digit pixels, teacher inputs), stacked on a leading K axis.

h_0 = x                                                  x [K, B, n_in] (or [B, n_in], shared)
h_i = act(h_{i-1} @ hidden.{i}.W + hidden.{i}.b)         i = 0 .. n_layers - 1, width d_mlp
logits = h_last @ W_out + b_out                          n_layers = 0: a linear model

TransformerLens-style names: the first layer is W_in / b_in, further hidden layers hidden.{i}.W,
the readout W_out / b_out. The default init is PyTorch's nn.Linear one (U(±1/sqrt(fan_in)) for
weights and biases), times model.init_scale (Omnigrok's large init).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from grokscope.models.base import Params, Spec, StackedModel, to_numpy


class DenseMLP(StackedModel):
    hook_names = ("mlp.hook_post",)  # the last hidden layer
    measures: tuple[str, ...] = ("init_distance", "sparse_neurons")  # the pair-grid ones (Fourier, …) do not apply
    report_panels = ()

    def _layers(self) -> list[tuple[str, str, int, int]]:
        """(weight name, bias name, fan_in, fan_out) of each layer, input to readout."""
        c, d = self.cfg, self.cfg.d_mlp
        widths = [self.n] + [d] * c.n_layers + [self.n_out]
        names = ["W_in"] + [f"hidden.{i}.W" for i in range(1, c.n_layers)] + ["W_out"]
        if c.n_layers == 0:
            names = ["W_out"]
        return [(w, w[:-1] + "b" if w.startswith("hidden") else "b" + w[1:], widths[i], widths[i + 1])
                for i, w in enumerate(names)]

    def spec(self) -> Spec:
        spec: Spec = {}
        for w, b, fan_in, fan_out in self._layers():
            spec[w] = ((fan_in, fan_out), None, fan_in)
            if self.cfg.bias:
                spec[b] = ((fan_out,), None, fan_in)
        return spec

    def forward(self, params: Params, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:  # type: ignore[override]
        """x: [K, B, n_in] or [B, n_in] -> logits (or predictions) [K, B, n_out]."""
        h = x.to(params["W_out"].dtype)
        layers = self._layers()
        for i, (w, b, *_) in enumerate(layers):
            h = torch.matmul(h, params[w])  # [K, B, fan_out] (a shared x broadcasts over K)
            if b in params:
                h = h + params[b].unsqueeze(1)
            if i < len(layers) - 1:
                h = self.act(h)
                if cache is not None:
                    cache["mlp.hook_post"] = h  # the last hidden layer's, in the end
        return h

    # ------------------------------------------------------------------ views
    def describe(self) -> str:
        c = self.cfg
        if c.n_layers == 0:
            return f"linear {self.n} → {self.n_out}"
        return f"MLP {self.n} → {c.n_layers}×{c.d_mlp} {c.act} → {self.n_out}"

    def neuron_input_weights(self, params: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """The first hidden layer's weights [n_in, d_mlp] (twice: dense inputs have no second operand)."""
        w = to_numpy(params[self._layers()[0][0]])
        return w, w

    def neuron_output_weights(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        return to_numpy(params["W_out"])

    def neuron_slices(self) -> tuple[list[str], list[str], list[str]]:
        layers = self._layers()
        if len(layers) == 1:
            return [], [], []
        w, b, *_ = layers[-2]
        return [w], ["W_out"], [b] if self.cfg.bias else []
