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
# per-block activations `forward(..., cache=...)` records, in TransformerLens's names
_BLOCK_HOOKS = ("hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_attn_scores",
                "attn.hook_pattern", "attn.hook_z", "hook_attn_out", "hook_resid_mid", "mlp.hook_pre",
                "mlp.hook_post", "hook_mlp_out", "hook_resid_post")


def _project(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """x [K, B, P, d_model] @ W [K, H, d_model, d_head] -> [K, B, P, H, d_head], one bmm per model."""
    K, B, P, d = x.shape
    H, dh = W.shape[1], W.shape[-1]
    return torch.bmm(x.reshape(K, B * P, d), W.permute(0, 2, 1, 3).reshape(K, d, H * dh)).view(K, B, P, H, dh)


class Transformer(StackedModel):
    measures = ("progress", "neurons", "numerics", "idealized", "algorithms")
    report_panels = ("clock", "spectrum", "waves", "phase_sum", "fourier", "phases", "algorithms")
    W_L_formula = "W_out W_U"
    neuron_labels = ("W_E·W_in (a)", "W_E·W_in (b)", "W_L")

    @property
    def hook_names(self) -> tuple[str, ...]:
        """TransformerLens's names and layouts ([K, B, pos, ...]; q/k/v/z [K, B, pos, head, d_head],
        attn_scores/pattern [K, B, head, query pos, key pos]). The last block runs its queries and
        everything after attention at the '=' position only, so there pos has length 1, and
        ln_final.hook_normalized is [K, B, d_model] (that position, squeezed)."""
        per_layer = [f"blocks.{i}.{h}" for i in range(self.cfg.n_layers) for h in _BLOCK_HOOKS]
        return ("hook_embed", "hook_pos_embed", *per_layer, "ln_final.hook_normalized")

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

    def _first_layer_qkv(
        self, params: Params, a: torch.Tensor, b: torch.Tensor, last_only: bool
    ) -> tuple[torch.Tensor, ...]:
        """Layer 0's q [K, B, Pq, H, d_head] and k, v [K, B, 3, H, d_head] as row lookups.

        Layer 0's input at position 0 is W_E[a] + W_pos[0], at 1 W_E[b] + W_pos[1], at 2 the
        constant W_E['='] + W_pos[2]: its LN and Q/K/V projections are functions of one token, so
        they are computed once per step on the 2n + 1 possible rows and gathered per pair. Per
        pair this removes 14·d_model² of the forward's matmul FLOPs (Nanda's model: ~40%).
        """
        K, B = a.shape
        n, H, dh = self.n, self.cfg.n_heads, self.d_head
        W_E, W_pos = params["W_E"], params["W_pos"]
        rows = torch.cat([W_E[:, :n] + W_pos[:, 0:1], W_E[:, :n] + W_pos[:, 1:2],
                          W_E[:, n:] + W_pos[:, 2:3]], dim=1)  # [K, 2n+1, d_model]
        rows = self._ln(params, "blocks.0.ln1", rows.unsqueeze(1)).squeeze(1)
        W = torch.stack([params["blocks.0.attn." + w] for w in ("W_Q", "W_K", "W_V")], 1)  # [K, 3, H, d, dh]
        table = torch.einsum("knd,kqhde->knqhe", rows, W)  # [K, 2n+1, q/k/v, H, d_head]
        const = torch.full_like(a, 2 * n)
        which = torch.stack([a, b + n, const], -1)  # [K, B, 3]: each position's row
        rows_of = which.reshape(K, -1)
        # k and v gathered from their own tables (no unbind: its backward would stack the grads)
        k, v = (gather_rows(table[:, :, j].reshape(K, 2 * n + 1, H * dh), rows_of).view(K, B, 3, H, dh)
                for j in (1, 2))
        if last_only:  # queries at '=' only: the constant row's q, shared by every pair
            q = table[:, 2 * n, 0].reshape(K, 1, 1, H, dh).expand(K, B, 1, H, dh)
        else:
            q = gather_rows(table[:, :, 0].reshape(K, 2 * n + 1, H * dh), rows_of).view(K, B, 3, H, dh)
        return q, k, v

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
        if cache is not None:
            cache["hook_embed"], cache["hook_pos_embed"] = x, params["W_pos"].unsqueeze(1).expand_as(x)
        x = x + params["W_pos"].unsqueeze(1)
        rate = self.cfg.attention_rate
        for layer in range(self.cfg.n_layers):
            pre = f"blocks.{layer}."
            last_only = layer == self.cfg.n_layers - 1
            if layer == 0 and cache is None:
                q, k, v = self._first_layer_qkv(params, a, b, last_only)
            else:
                xn = self._ln(params, pre + "ln1", x)
                xq = xn[:, :, -1:] if last_only else xn  # [K, B, Pq, d_model]
                q, k, v = (_project(t, params[pre + "attn." + w])
                           for t, w in ((xq, "W_Q"), (xn, "W_K"), (xn, "W_V")))
            # 3 keys per query: products and sums over d_head as elementwise work, not B·H tiny bmms
            scores = (q.unsqueeze(3) * k.unsqueeze(2)).sum(-1) / math.sqrt(self.d_head)  # [K, B, Pq, 3, H]
            q_pos = torch.arange(N_CTX - q.shape[2], N_CTX, device=x.device)
            allowed = (torch.arange(N_CTX, device=x.device)[None, :] <= q_pos[:, None]).unsqueeze(-1)  # causal
            scores = scores.masked_fill(~allowed, float("-inf"))
            pattern = scores.softmax(dim=3)
            if rate < 1.0:
                uniform = allowed / allowed.sum(dim=1, keepdim=True)
                pattern = rate * pattern + (1.0 - rate) * uniform
            z = (pattern.unsqueeze(-1) * v.unsqueeze(2)).sum(3)  # [K, B, Pq, H, d_head]
            Kz, Bz, Pq = z.shape[:3]
            W_O = params[pre + "attn.W_O"]  # [K, H, d_head, d_model]
            attn_out = torch.bmm(z.reshape(Kz, Bz * Pq, -1), W_O.reshape(Kz, -1, W_O.shape[-1])).view(Kz, Bz, Pq, -1)
            if cache is not None:  # TransformerLens's layouts: scores and pattern [K, B, H, Pq, 3]
                cache.update({pre + "hook_resid_pre": x, pre + "attn.hook_q": q, pre + "attn.hook_k": k,
                              pre + "attn.hook_v": v, pre + "attn.hook_attn_scores": scores.permute(0, 1, 4, 2, 3),
                              pre + "attn.hook_z": z, pre + "hook_attn_out": attn_out})
            x = (x[:, :, -1:] if last_only else x) + attn_out
            xn = self._ln(params, pre + "ln2", x)
            Kx, Bx, Px, d = xn.shape
            pre_act = torch.baddbmm(params[pre + "mlp.b_in"].unsqueeze(1), xn.reshape(Kx, Bx * Px, d),
                                    params[pre + "mlp.W_in"]).view(Kx, Bx, Px, -1)
            # in place when nothing keeps the pre-activation (autograd saves relu's output instead)
            hidden = pre_act.relu_() if cache is None and self.cfg.act == "relu" else self.act(pre_act)
            if cache is not None:
                cache[pre + "attn.hook_pattern"] = pattern.permute(0, 1, 4, 2, 3)
                cache[pre + "mlp.hook_post"] = hidden
                cache[pre + "hook_resid_mid"], cache[pre + "mlp.hook_pre"] = x, pre_act
            mlp_out = torch.bmm(hidden.reshape(Kx, Bx * Px, -1), params[pre + "mlp.W_out"]).view(Kx, Bx, Px, d)
            x = x + mlp_out + params[pre + "mlp.b_out"][:, None, None, :]
            if cache is not None:  # (x + mlp_out) + b_out above keeps the training arithmetic unchanged
                cache[pre + "hook_mlp_out"] = mlp_out + params[pre + "mlp.b_out"][:, None, None, :]
                cache[pre + "hook_resid_post"] = x
        x = self._ln(params, "ln_final", x)[:, :, -1]  # [K, B, d_model]
        if cache is not None:
            cache["ln_final.hook_normalized"] = x
        return torch.bmm(x, params["W_U"])
