"""Decoder-only transformers on the tokens `a b =` (Nanda 2023, Power 2022, Zhong 2023).

The answer is read at the last position only, so the last layer computes queries, attention
output, MLP and unembedding at that position alone (keys/values still at every position): the
loss never looks at the other positions, so the dynamics are unchanged and the work is ~1/3.

`attention_rate` r blends the attention pattern: r * softmax + (1 - r) * uniform over the
positions a query may see (Zhong et al.: r = 1 clock, r = 0 pizza).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from grokscope.models.base import Params, Spec, StackedModel, gather_rows, to_numpy

N_CTX = 3  # a, b, =


class Transformer(StackedModel):
    measures = ("progress", "neurons", "numerics", "idealized", "algorithms")
    W_L_formula = "W_out W_U"
    neuron_labels = ("W_E·W_in (a)", "W_E·W_in (b)", "W_L")

    @property
    def hook_names(self) -> tuple[str, ...]:
        per_layer = [f"blocks.{i}.{h}" for i in range(self.cfg.n_layers)
                     for h in ("attn.hook_pattern", "mlp.hook_post")]
        return (*per_layer, "ln_final.hook_normalized")

    # ------------------------------------------------------------------ views
    def describe(self) -> str:
        c = self.cfg
        return f"transformer {c.n_layers}L d_model={c.d_model} {c.n_heads} heads"

    @property
    def has_embedding(self) -> bool:
        return True

    @property
    def input_tables(self) -> tuple[str, str]:
        return "W_E", "W_E"

    def embedding(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        """W_E without the '=' row."""
        return to_numpy(params["W_E"][: self.n])

    def neuron_input_weights(self, params: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """The direct path W_E[:n] @ W_in of layer 0: attention mixes a and b before the MLP, so this
        is an approximation, and a and b get the same view."""
        w = self.embedding(params) @ to_numpy(params["blocks.0.mlp.W_in"])
        return w, w

    def neuron_output_weights(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        """Nanda's W_L = W_out @ W_U of the last block."""
        last = self.cfg.n_layers - 1
        return to_numpy(params[f"blocks.{last}.mlp.W_out"]) @ to_numpy(params["W_U"])

    def neuron_slices(self) -> tuple[list[str], list[str], list[str]]:
        pre = f"blocks.{self.cfg.n_layers - 1}.mlp."
        return [pre + "W_in"], [pre + "W_out"], [pre + "b_in"]

    # ---------------------------------------------------------------- compute
    @property
    def d_head(self) -> int:
        return self.cfg.d_model // self.cfg.n_heads

    @property
    def d_vocab(self) -> int:
        return self.n + 1  # operands plus the '=' token

    def spec(self) -> Spec:
        c = self.cfg
        dm, dh, H, dmlp = c.d_model, self.d_head, c.n_heads, c.d_mlp
        s_model = 1.0 / math.sqrt(dm)
        spec: Spec = {
            "W_E": ((self.d_vocab, dm), s_model, dm),
            "W_pos": ((N_CTX, dm), s_model, dm),
        }
        for layer in range(c.n_layers):
            pre = f"blocks.{layer}."
            if c.layer_norm:
                spec[pre + "ln1.w"] = ((dm,), None, 1)
                spec[pre + "ln1.b"] = ((dm,), None, 1)
                spec[pre + "ln2.w"] = ((dm,), None, 1)
                spec[pre + "ln2.b"] = ((dm,), None, 1)
            spec[pre + "attn.W_Q"] = ((H, dm, dh), s_model, dm)
            spec[pre + "attn.W_K"] = ((H, dm, dh), s_model, dm)
            spec[pre + "attn.W_V"] = ((H, dm, dh), s_model, dm)
            spec[pre + "attn.W_O"] = ((H, dh, dm), s_model, dm)
            spec[pre + "mlp.W_in"] = ((dm, dmlp), s_model, dm)
            spec[pre + "mlp.b_in"] = ((dmlp,), 0.0, dm)
            spec[pre + "mlp.W_out"] = ((dmlp, dm), 1.0 / math.sqrt(dmlp), dmlp)
            spec[pre + "mlp.b_out"] = ((dm,), 0.0, dmlp)
        if c.layer_norm:
            spec["ln_final.w"] = ((dm,), None, 1)
            spec["ln_final.b"] = ((dm,), None, 1)
        spec["W_U"] = ((dm, self.n_out), 1.0 / math.sqrt(self.d_vocab), dm)
        return spec

    def _ln(self, params: Params, name: str, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.layer_norm:
            return x
        w = params[name + ".w"][:, None, None, :]  # [K, 1, 1, d_model]
        b = params[name + ".b"][:, None, None, :]
        return F.layer_norm(x, x.shape[-1:]) * w + b

    def forward(
        self, params: Params, a: torch.Tensor, b: torch.Tensor, cache: dict | None = None
    ) -> torch.Tensor:
        """a, b: [K, B] or [B] -> logits [K, B, n_out] read at the '=' position."""
        K = params["W_E"].shape[0]
        if a.dim() == 1:
            a, b = a.unsqueeze(0).expand(K, -1), b.unsqueeze(0).expand(K, -1)
        eq = torch.full_like(a, self.n)
        tokens = torch.stack([a, b, eq], dim=-1)  # [K, B, 3]
        x = gather_rows(params["W_E"], tokens.reshape(K, -1)).view(*tokens.shape, -1)  # [K, B, 3, d_model]
        x = x + params["W_pos"].unsqueeze(1)
        rate = self.cfg.attention_rate
        for layer in range(self.cfg.n_layers):
            pre = f"blocks.{layer}."
            last_only = layer == self.cfg.n_layers - 1
            xn = self._ln(params, pre + "ln1", x)
            xq = xn[:, :, -1:] if last_only else xn  # [K, B, Pq, d_model]
            q = torch.einsum("kbpd,khde->kbhpe", xq, params[pre + "attn.W_Q"])
            k = torch.einsum("kbpd,khde->kbhpe", xn, params[pre + "attn.W_K"])
            v = torch.einsum("kbpd,khde->kbhpe", xn, params[pre + "attn.W_V"])
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # [K, B, H, Pq, 3]
            q_pos = torch.arange(N_CTX - q.shape[-2], N_CTX, device=x.device)
            allowed = torch.arange(N_CTX, device=x.device)[None, :] <= q_pos[:, None]  # causal
            pattern = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
            if rate < 1.0:
                uniform = allowed / allowed.sum(dim=-1, keepdim=True)
                pattern = rate * pattern + (1.0 - rate) * uniform
            z = pattern @ v  # [K, B, H, Pq, d_head]
            attn_out = torch.einsum("kbhpe,khed->kbpd", z, params[pre + "attn.W_O"])
            x = (x[:, :, -1:] if last_only else x) + attn_out
            xn = self._ln(params, pre + "ln2", x)
            pre_act = torch.einsum("kbpd,kdm->kbpm", xn, params[pre + "mlp.W_in"])
            hidden = self.act(pre_act + params[pre + "mlp.b_in"][:, None, None, :])
            if cache is not None:
                cache[pre + "attn.hook_pattern"], cache[pre + "mlp.hook_post"] = pattern, hidden
            mlp_out = torch.einsum("kbpm,kmd->kbpd", hidden, params[pre + "mlp.W_out"])
            x = x + mlp_out + params[pre + "mlp.b_out"][:, None, None, :]
        x = self._ln(params, "ln_final", x)[:, :, -1]  # [K, B, d_model]
        if cache is not None:
            cache["ln_final.hook_normalized"] = x
        return torch.bmm(x, params["W_U"])
