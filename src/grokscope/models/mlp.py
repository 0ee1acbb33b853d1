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

Training (no activation cache) with ReLU runs the hidden layer of the table inputs as one autograd
node (`_TableReLU`): the bias is folded into the first table (n rows, not B), the ReLU is applied in
place, and the backward is one masking pass plus two row index-adds, with the bias gradient summed
over the n-row table gradient instead of over the batch. This cuts the passes over the [K, B, d_mlp]
activations from ~8 to 5 (the profile's elementwise share of the Swaroop step).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from grokscope.models.base import Params, Spec, StackedModel, flat_rows, gather_rows, to_numpy


class _TableReLU(torch.autograd.Function):
    """h = relu(T_a[a] + T_b[b] + bias), T [K, n, d], a/b flat row indices into [K*n] -> h [K*B, d]."""

    @staticmethod
    def forward(ctx, T_a: torch.Tensor, T_b: torch.Tensor, bias: torch.Tensor | None,
                a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        K, n, d = T_a.shape
        first = T_a if bias is None else T_a + bias.unsqueeze(1)  # [K, n, d]: bias once per row, not per pair
        h = first.reshape(K * n, d).index_select(0, a)
        h.add_(T_b.reshape(K * n, d).index_select(0, b)).clamp_min_(0.0)
        ctx.save_for_backward(h, a, b)
        ctx.shape, ctx.has_bias = (K, n, d), bias is not None
        return h

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, a, b = ctx.saved_tensors
        K, n, d = ctx.shape
        g = torch.ops.aten.threshold_backward(grad, h, 0.0)  # grad where h > 0 (⇔ pre > 0)
        zeros = lambda: torch.zeros(K * n, d, dtype=g.dtype, device=g.device)  # noqa: E731
        g_a = zeros().index_add_(0, a, g).view(K, n, d)
        g_b = zeros().index_add_(0, b, g).view(K, n, d)
        # every pair adds the bias once and its row of T_a once: d bias = sum over T_a's row grads
        return g_a, g_b, g_a.sum(1) if ctx.has_bias else None, None, None


_TRUNC2_STD = 0.87962566103423978  # std of a unit normal truncated at ±2 (haiku's VarianceScaling correction)


class MLP(StackedModel):
    @property
    def hook_names(self) -> tuple[str, ...]:
        """hook_embed (embedding inputs only): [K, B, 2, d_embed], the rows W_E[a], W_E[b];
        mlp.hook_pre / mlp.hook_post: [K, B, d_mlp]."""
        embed = ("hook_embed",) if self.has_embedding else ()
        return (*embed, "mlp.hook_pre", "mlp.hook_post")

    @property
    def report_panels(self) -> tuple[str, ...]:
        """The embedding circle only where there is an embedding W_E."""
        return ("clock", *StackedModel.report_panels) if self.has_embedding else StackedModel.report_panels

    def config_fields(self) -> tuple[str, ...]:
        return tuple(f for f in super().config_fields() if f != "d_embed" or self.has_embedding)

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
            # N(0, 1/fan_in). With model.init = "truncated" (haiku's form) every draw is cut at ±2 std;
            # VarianceScaling divides its std by 0.8796 (the std of a unit normal cut at ±2) so W_E keeps
            # variance 2/n, while hk.Linear's TruncatedNormal does not (its variance is x 0.774)
            e_std = (2.0 / n) ** 0.5 / (_TRUNC2_STD if c.init == "truncated" else 1.0)
            spec = {"W_E": ((n, c.d_embed), e_std, n), "W_in": ((c.d_embed, d), fan_in ** -0.5, fan_in)}
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
        if cache is None and self.cfg.act == "relu":
            hidden = self._fused_hidden(params, a, b)
        else:
            hidden = self._hidden(params, a, b, cache)
        if kind == "tied_embed":  # [K, B, d_mlp] @ ([K, d_mlp, d_embed] @ [K, d_embed, n])
            logits = torch.bmm(hidden, torch.bmm(params["W_out"], params["W_E"].transpose(1, 2)))
            return logits + params["b_out"].unsqueeze(1) if "b_out" in params else logits
        if "b_out" in params:
            return torch.baddbmm(params["b_out"].unsqueeze(1), hidden, params["W_out"])
        return torch.bmm(hidden, params["W_out"])

    def _tables(self, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """Each operand's input-row table [K, n, d_mlp] (re-associated through the embedding)."""
        kind = self.cfg.input
        if kind == "two_hot":
            return params["W_a"], params["W_b"]
        if kind == "shared":
            return params["W_in"], params["W_in"]
        if kind == "tied_embed":
            P = torch.bmm(params["W_E"], params["W_in"])  # [K, n, d_mlp]: each symbol's input row
            return P, P
        return torch.bmm(params["W_E"], params["W_in_a"]), torch.bmm(params["W_E"], params["W_in_b"])

    def _fused_hidden(self, params: Params, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        T_a, T_b = self._tables(params)
        K, n, _ = T_a.shape
        B = a.shape[-1]
        h = _TableReLU.apply(T_a, T_b, params.get("b_in"), flat_rows(a, K, n), flat_rows(b, K, n))
        return h.view(K, B, -1)

    def _hidden(self, params: Params, a: torch.Tensor, b: torch.Tensor, cache: dict | None) -> torch.Tensor:
        """The straightforward hidden layer (any activation; fills the cache)."""
        T_a, T_b = self._tables(params)
        pre = gather_rows(T_a, a) + gather_rows(T_b, b)  # [K, B, d_mlp]
        if "b_in" in params:
            pre = pre + params["b_in"].unsqueeze(1)
        hidden = self.act(pre)
        if cache is not None:
            cache["mlp.hook_pre"], cache["mlp.hook_post"] = pre, hidden
            if self.has_embedding:  # the fast path never forms W_E[a]; only a cache asks for it
                cache["hook_embed"] = torch.stack([gather_rows(params["W_E"], a), gather_rows(params["W_E"], b)], 2)
        return hidden
