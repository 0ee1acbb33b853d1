"""One-hidden-layer MLPs on two operands (Swaroop, Gromov/Doshi, PAIR).

input = two_hot:      h = act(W_a[a] + W_b[b] + b_in)        (one-hot(a) ⊕ one-hot(b) @ [W_a; W_b])
input = embed_concat: h = act(W_E[a] @ W_in_a + W_E[b] @ W_in_b + b_in)
input = shared:       h = act(W_in[a] + W_in[b] + b_in)       (PAIR's formula: one W_in for both operands)
logits = h @ W_out + b_out

input = tied_embed:   h = act((W_E[a] + W_E[b]) @ W_in + b_in), logits = h @ W_out @ W_Eᵀ + b_out
                      (the PAIR notebook's main model: the embedding is also the unembedding, so
                      W_out maps d_mlp -> d_embed and n_out must equal n)

The inputs are one-hot over n symbols, so products with the embedding are re-associated and
computed once per step on the n-row table instead of once per pair (B = n_train rows):
  embed_concat  W_E[a] @ W_in_a = (W_E @ W_in_a)[a]                 n·d_embed·d_mlp, not B·d_embed·d_mlp
  tied_embed    (W_E[a] + W_E[b]) @ W_in = P[a] + P[b], P = W_E @ W_in
                h @ W_out @ W_Eᵀ = h @ Q, Q = W_out @ W_Eᵀ [d_mlp, n]   d_mlp·d_embed·n + B·d_mlp·n,
                                                                    not B·d_mlp·d_embed + B·d_embed·n
The values are those of the straightforward order up to float rounding (tested in float64).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from grokscope.models.base import Params, Spec, StackedModel, gather_rows, to_numpy


class MLP(StackedModel):
    hook_names = ("mlp.hook_pre", "mlp.hook_post")

    # ------------------------------------------------------------------ views
    def describe(self) -> str:
        c = self.cfg
        return f"MLP {c.input} d_mlp={c.d_mlp} {c.act}"

    @property
    def has_embedding(self) -> bool:
        return self.cfg.input in ("embed_concat", "tied_embed")

    @property
    def input_tables(self) -> tuple[str, str]:
        return {"two_hot": ("W_a", "W_b"), "shared": ("W_in", "W_in")}.get(self.cfg.input, ("W_E", "W_E"))

    def embedding(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        """two_hot: [W_a | W_b]; shared: W_in; embed_concat and tied_embed: W_E."""
        if self.cfg.input == "two_hot":
            return np.concatenate([to_numpy(params["W_a"]), to_numpy(params["W_b"])], axis=1)
        return to_numpy(params["W_in" if self.cfg.input == "shared" else "W_E"])

    def neuron_input_weights(self, params: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """Exact: the hidden pre-activation is W_a[a] + W_b[b] (+ b_in) for every input kind."""
        kind = self.cfg.input
        if kind == "two_hot":
            return to_numpy(params["W_a"]), to_numpy(params["W_b"])
        if kind == "shared":
            w = to_numpy(params["W_in"])
            return w, w
        E = to_numpy(params["W_E"])
        if kind == "tied_embed":
            w = E @ to_numpy(params["W_in"])
            return w, w
        return E @ to_numpy(params["W_in_a"]), E @ to_numpy(params["W_in_b"])

    @property
    def neuron_labels(self) -> tuple[str, str, str]:
        return {"two_hot": ("W_a", "W_b", "W_out"), "shared": ("W_in", "W_in", "W_out"),
                "embed_concat": ("W_E·W_in_a", "W_E·W_in_b", "W_out"),
                "tied_embed": ("W_E·W_in", "W_E·W_in", "W_out·W_Eᵀ")}[self.cfg.input]

    @property
    def W_L_formula(self) -> str:
        return "W_out W_Eᵀ" if self.cfg.input == "tied_embed" else "W_out"

    def neuron_output_weights(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        if self.cfg.input == "tied_embed":
            return to_numpy(params["W_out"]) @ to_numpy(params["W_E"]).T
        return to_numpy(params["W_out"])

    def neuron_slices(self) -> tuple[list[str], list[str], list[str]]:
        cols = [n for n in ("W_a", "W_b", "W_in", "W_in_a", "W_in_b") if n in self.spec()]
        return cols, ["W_out"], ["b_in"] if self.cfg.bias else []

    # ---------------------------------------------------------------- compute
    def spec(self) -> Spec:
        c, n, d = self.cfg, self.n, self.cfg.d_mlp
        bias = c.bias
        if c.input == "two_hot":
            fan_in = 2 * n  # the dense layer this replaces takes 2n inputs
            spec: Spec = {"W_a": ((n, d), None, fan_in), "W_b": ((n, d), None, fan_in)}
        elif c.input == "shared":
            fan_in = n
            spec = {"W_in": ((n, d), None, fan_in)}
        elif c.input == "tied_embed":
            fan_in = c.d_embed
            # the PAIR notebook's (haiku) init: W_E variance scaling 2 over fan-in n, linear maps
            # N(0, 1/fan_in) (haiku's truncated normal, untruncated here)
            spec = {"W_E": ((n, c.d_embed), (2.0 / n) ** 0.5, n), "W_in": ((c.d_embed, d), fan_in ** -0.5, fan_in)}
        else:
            fan_in = 2 * c.d_embed
            spec = {
                "W_E": ((n, c.d_embed), 1.0, n),  # nn.Embedding's N(0, 1)
                "W_in_a": ((c.d_embed, d), None, fan_in),
                "W_in_b": ((c.d_embed, d), None, fan_in),
            }
        if bias:
            spec["b_in"] = ((d,), None, fan_in)
        if c.input == "tied_embed":
            spec["W_out"] = ((d, c.d_embed), d ** -0.5, d)
        else:
            spec["W_out"] = ((d, self.n_out), None, d)
        if bias:
            spec["b_out"] = ((self.n_out,), None, d)
        return spec

    def forward(
        self, params: Params, a: torch.Tensor, b: torch.Tensor, cache: dict | None = None
    ) -> torch.Tensor:
        """a, b: [K, B] or [B] operand indices -> logits [K, B, n_out]."""
        kind = self.cfg.input
        if kind == "two_hot":
            pre = gather_rows(params["W_a"], a) + gather_rows(params["W_b"], b)  # [K, B, d_mlp]
        elif kind == "shared":
            pre = gather_rows(params["W_in"], a) + gather_rows(params["W_in"], b)
        elif kind == "tied_embed":
            P = torch.bmm(params["W_E"], params["W_in"])  # [K, n, d_mlp]: each symbol's input row
            pre = gather_rows(P, a) + gather_rows(P, b)
        else:  # embed_concat
            pre = (gather_rows(torch.bmm(params["W_E"], params["W_in_a"]), a)  # [K, n, d_mlp] tables
                   + gather_rows(torch.bmm(params["W_E"], params["W_in_b"]), b))
        if "b_in" in params:
            pre = pre + params["b_in"].unsqueeze(1)
        hidden = self.act(pre)
        if cache is not None:
            cache["mlp.hook_pre"], cache["mlp.hook_post"] = pre, hidden
        if kind == "tied_embed":  # [K, B, d_mlp] @ ([K, d_mlp, d_embed] @ [K, d_embed, n])
            logits = torch.bmm(hidden, torch.bmm(params["W_out"], params["W_E"].transpose(1, 2)))
            return logits + params["b_out"].unsqueeze(1) if "b_out" in params else logits
        if "b_out" in params:
            return torch.baddbmm(params["b_out"].unsqueeze(1), hidden, params["W_out"])
        return torch.bmm(hidden, params["W_out"])
