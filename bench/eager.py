"""Plain-PyTorch eager transcriptions: the models as a researcher writes them from the papers.

These are the baselines every ratio in the benchmark is measured against. They are written the
straightforward way on purpose (nn.Linear on dense one-hot inputs, attention over every position,
logits at every position, torch.optim.AdamW) — no grokscope code is used for the models or the
training step, only for the data split, so both sides train on exactly the same pairs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------- Swaroop 2026 MLP


class SwaroopMLP(nn.Module):
    """two-hot (2p) -> d_mlp ReLU -> p, two nn.Linear layers (Swaroop 2026 §2)."""

    def __init__(self, p: int, d_mlp: int):
        super().__init__()
        self.p = p
        self.fc1 = nn.Linear(2 * p, d_mlp)
        self.fc2 = nn.Linear(d_mlp, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def two_hot(a: torch.Tensor, b: torch.Tensor, p: int) -> torch.Tensor:
    """Dense float input [N, 2p]: one-hot(a) ⊕ one-hot(b)."""
    return torch.cat([F.one_hot(a, p), F.one_hot(b, p)], dim=-1).float()


def load_mlp_from_stack(model: SwaroopMLP, params: dict[str, torch.Tensor], k: int = 0) -> None:
    """Copy model k of a grokscope two-hot MLP stack into the eager nn.Linear layers.

    [W_a; W_b] is the [2p, d_mlp] input matrix, so fc1.weight = [W_a; W_b]ᵀ; fc2.weight = W_outᵀ.
    """
    with torch.no_grad():
        model.fc1.weight.copy_(torch.cat([params["W_a"][k], params["W_b"][k]], dim=0).T)
        model.fc1.bias.copy_(params["b_in"][k])
        model.fc2.weight.copy_(params["W_out"][k].T)
        model.fc2.bias.copy_(params["b_out"][k])


# ------------------------------------------------------------------- Nanda 2023 transformer


class NandaTransformer(nn.Module):
    """One-layer ReLU transformer on `a b =` (Nanda et al. 2023), written from the paper.

    d_vocab = p + 1, learned positions, no LayerNorm, attention without biases, causal attention
    over every position, MLP and unembedding at every position; the loss reads position -1.
    """

    def __init__(self, p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, n_ctx: int = 3):
        super().__init__()
        d_head = d_model // n_heads
        self.d_head = d_head
        self.W_E = nn.Parameter(torch.randn(p + 1, d_model) / math.sqrt(d_model))
        self.W_pos = nn.Parameter(torch.randn(n_ctx, d_model) / math.sqrt(d_model))
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_model, d_head) / math.sqrt(d_model))
        self.W_K = nn.Parameter(torch.randn(n_heads, d_model, d_head) / math.sqrt(d_model))
        self.W_V = nn.Parameter(torch.randn(n_heads, d_model, d_head) / math.sqrt(d_model))
        self.W_O = nn.Parameter(torch.randn(n_heads, d_head, d_model) / math.sqrt(d_model))
        self.W_in = nn.Parameter(torch.randn(d_model, d_mlp) / math.sqrt(d_model))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.randn(d_mlp, d_model) / math.sqrt(d_mlp))
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.W_U = nn.Parameter(torch.randn(d_model, p) / math.sqrt(p + 1))
        self.register_buffer("mask", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, 3] -> logits [B, 3, p] (every position, as in the paper's code)."""
        x = self.W_E[tokens] + self.W_pos  # [B, P, d_model]
        q = torch.einsum("bpd,hde->bhpe", x, self.W_Q)
        k = torch.einsum("bpd,hde->bhpe", x, self.W_K)
        v = torch.einsum("bpd,hde->bhpe", x, self.W_V)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # [B, H, P, P]
        pattern = scores.masked_fill(~self.mask, float("-inf")).softmax(dim=-1)
        z = pattern @ v  # [B, H, P, d_head]
        x = x + torch.einsum("bhpe,hed->bpd", z, self.W_O)
        hidden = torch.relu(x @ self.W_in + self.b_in)
        x = x + hidden @ self.W_out + self.b_out
        return x @ self.W_U


def load_transformer_from_stack(model: NandaTransformer, params: dict[str, torch.Tensor], k: int = 0) -> None:
    """Copy model k of a grokscope 1-layer transformer stack (TransformerLens names) into `model`."""
    names = {
        "W_E": "W_E", "W_pos": "W_pos", "W_U": "W_U",
        "W_Q": "blocks.0.attn.W_Q", "W_K": "blocks.0.attn.W_K", "W_V": "blocks.0.attn.W_V",
        "W_O": "blocks.0.attn.W_O", "W_in": "blocks.0.mlp.W_in", "b_in": "blocks.0.mlp.b_in",
        "W_out": "blocks.0.mlp.W_out", "b_out": "blocks.0.mlp.b_out",
    }
    with torch.no_grad():
        for mine, theirs in names.items():
            getattr(model, mine).copy_(params[theirs][k])


def nanda_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at the last position with log-softmax in float64 (Nanda's helper)."""
    logp = logits[:, -1].to(torch.float64).log_softmax(dim=-1)
    return -logp.gather(-1, labels[:, None]).mean()


# -------------------------------------------------------------------------- PAIR 2023 MLP


class PairMLP(nn.Module):
    """ReLU(W_in[a] + W_in[b]) · W_out with one W_in shared by both operands, no biases."""

    def __init__(self, p: int, d_mlp: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(p, d_mlp).uniform_(-1, 1) / math.sqrt(p))
        self.W_out = nn.Parameter(torch.empty(d_mlp, p).uniform_(-1, 1) / math.sqrt(d_mlp))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.W_in[a] + self.W_in[b]) @ self.W_out
