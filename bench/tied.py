"""Setup 4: the PAIR notebook's main model (`pair2023_tied`), straightforward vs re-associated.

logits = relu(E[a]·W_h + E[b]·W_h)·W_o·Eᵀ with a 500-wide embedding E tied to the unembedding.
The eager baseline is the researcher's transcription in that order (one model, torch.optim.AdamW);
grokscope re-associates the products with E onto its n rows (see grokscope.models.mlp) and
stacks K models. Both time full-batch training steps only (no evaluation), interleaved, best of
`repeats`; throughput is model-steps per second.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from bench.common import (
    Section,
    Settings,
    bytes_counted,
    floor_note,
    floor_shares,
    matmul_peak,
    memory_bandwidth,
    optimizer_states,
    pair_activation_bytes,
    param_bytes,
    preset,
    roofline,
    roofline_extra,
    split_data,
)

PRESET = "pair2023_tied"


class TiedMLP(nn.Module):
    """relu((E[a] + E[b]) @ W_h) @ W_o @ Eᵀ, in the order it is written (no biases)."""

    def __init__(self, E: torch.Tensor, W_h: torch.Tensor, W_o: torch.Tensor):
        super().__init__()
        self.E, self.W_h, self.W_o = (nn.Parameter(t.detach().clone()) for t in (E, W_h, W_o))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.relu((self.E[a] + self.E[b]) @ self.W_h) @ self.W_o @ self.E.T


def step_flops(n: int, d_embed: int, d_mlp: int, n_train: int) -> int:
    """The re-associated step's matmuls per model. Forward: P = E·W_h and Q = W_o·Eᵀ
    (n·d_embed·d_mlp each) and hidden·Q ([B, d_mlp] @ [d_mlp, n]); backward ≈ 2 × forward."""
    return 3 * 2 * (2 * n * d_embed * d_mlp + n_train * d_mlp * n)


def step_bytes(n: int, d_embed: int, d_mlp: int, n_train: int, n_state: int, itemsize: int = 4) -> int:
    """The bytes a model's full-batch re-associated step cannot avoid moving (rules:
    common.param_bytes, pair_activation_bytes): parameters E [n, d_embed], W_h [d_embed, d_mlp],
    W_o [d_mlp, d_embed], all read again in backward (dP·W_hᵀ, dQ·E, dQᵀ·W_o); hidden [B, d_mlp]
    and logits [B, n] (float32: the float64 loss need not store a copy) with their gradients;
    a, b, y [B] int64. The n-row products P, Q and their gradients ([n, d_mlp] each, < 1% of the
    activations) are left out; the straightforward order's [B, d_embed] tensors are avoidable."""
    n_params = n * d_embed + 2 * d_embed * d_mlp
    return param_bytes(n_params, n_params, n_state, itemsize) + pair_activation_bytes(n_train, d_mlp, n, itemsize)


BYTES_COUNTED = bytes_counted("all", "hidden [B, d_mlp] and logits [B, n]", "a, b, y int64")


def _configs(K: int):
    base = preset(PRESET, f"train.steps={10**6}")
    return [base.override([f"train.seed={base.train.seed + k}", f"task.data_seed={k}"]) for k in range(K)]


def _eager(cfg, init: dict[str, torch.Tensor]):
    """(one training step of the eager model, its full-batch train loss now)."""
    data = split_data(cfg)
    model = TiedMLP(init["W_E"], init["W_in"], init["W_out"])
    o = cfg.optim
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay,
                            betas=(o.beta1, o.beta2), eps=o.eps)

    dtype = getattr(torch, cfg.train.loss_dtype)  # the preset's loss precision (float64 since the notebook's x64)

    def loss() -> torch.Tensor:
        return F.cross_entropy(model(data.a_train, data.b_train).to(dtype), data.y_train)

    def step() -> None:
        opt.zero_grad()
        loss().backward()
        opt.step()

    return step, loss


def _timed(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def run(s: Settings) -> Section:
    from grokscope.train import NullSink
    from grokscope.train.loop import Engine

    engines = {K: Engine(_configs(K), [NullSink()] * K) for K in s.tied_Ks}
    one = engines[s.tied_Ks[0]]
    init = {n: p.detach()[0] for n, p in one.params.items()}
    eager_step, _ = _eager(one.cfg, init)
    steps = {"eager": eager_step, **{K: (lambda e=e: e.train_step(False)) for K, e in engines.items()}}
    for fn in steps.values():  # warm-up (allocator, caches)
        _timed(fn, 2)
    best = {k: float("inf") for k in steps}
    for _ in range(s.repeats):
        for k, fn in steps.items():
            best[k] = min(best[k], _timed(fn, s.tied_steps))
    eager = best["eager"]
    # floor per model-step: the re-associated step's matmuls and bytes at the measured peak and bandwidth
    m, p, B = one.cfg.model, one.task.n, one.data["y_train"].shape[1]
    flops = step_flops(p, m.d_embed, m.d_mlp, B)
    straightforward = 3 * 2 * (B * m.d_embed * m.d_mlp + B * m.d_mlp * m.d_embed + B * m.d_embed * p)
    bytes_ = step_bytes(p, m.d_embed, m.d_mlp, B, optimizer_states(one.cfg))
    peak, bw = matmul_peak(s.peak_n), memory_bandwidth(s.bw_mb)
    roof = roofline(flops, bytes_, peak, bw)
    rows = [{"impl": "eager: relu((E[a]+E[b])·W_h)·W_o·Eᵀ in that order + torch AdamW", "K": 1,
             "s_per_step": eager, "model_steps_per_s": 1 / eager, "ratio": 1.0, **floor_shares(roof, eager)}]
    for K in s.tied_Ks:
        rows.append({"impl": "grokscope Engine (re-associated)", "K": K, "s_per_step": best[K],
                     "model_steps_per_s": K / best[K], "ratio": K * eager / best[K],
                     **floor_shares(roof, best[K] / K)})
    # same-init check: the eager model and grokscope (K = 1) from the same weights and data
    cfg = _configs(1)[0]
    check = Engine([cfg], [NullSink()])
    with torch.no_grad():
        for n, p in check.params.items():
            p[0].copy_(init[n])
    step, loss = _eager(cfg, init)
    for _ in range(s.tied_check_steps):
        step()
        check.train_step(False)
    with torch.no_grad():
        eager_loss = loss().item()
    ours = check.evaluate()["train_loss"][0].item()
    section = Section(
        key="tied", title=f"4. PAIR tied-embedding model ({PRESET}: p = 67, d_embed 500, 24 neurons), full-batch step",
        columns=[("impl", "implementation"), ("K", "K"), ("s_per_step", "s/step"),
                 ("model_steps_per_s", "model-steps/s"), ("ratio", "× eager (model-steps/s)"),
                 ("pct_floor", "% of floor"), ("bound", "floor bound")],
        rows=rows,
        extra=roofline_extra(roof, flops, bytes_, peak, bw, per="model_step"),
    )
    section.notes.append(
        f"FLOP floor: the re-associated step's matmuls ({flops / 1e6:.1f} MFLOP per model-step) at the measured peak "
        f"{peak:.1f} GFLOP/s take {roof['flop_floor_s'] * 1e3:.3f} ms per model-step; the straightforward order "
        f"executes ~{straightforward / flops:.0f}× those FLOPs.")
    section.notes.append(floor_note(roof, bytes_, bw, s.bw_mb, BYTES_COUNTED, per="model-step"))
    section.notes.append(
        f"same-init check: after {s.tied_check_steps} steps from the same weights, train loss eager "
        f"{eager_loss:.6f} vs grokscope {ours:.6f} (float32; the product order differs, so they agree to rounding)")
    section.extra["same_init_check"] = {"steps": s.tied_check_steps, "eager_loss": eager_loss, "grokscope_loss": ours}
    return section
