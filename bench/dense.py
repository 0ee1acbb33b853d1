"""Setup 5: dense-input tasks — Omnigrok's digits MLP and Merrill et al.'s sparse-parity MLP —
as the researcher writes them (one nn.Sequential + torch.optim, minibatches by a permutation per
epoch) vs grokscope ensembles of K models (per-model init, data draw and batch order).

Both time training steps only (no evaluation), interleaved, best of `repeats`; throughput is
model-steps per second. The eager model and grokscope's K = 1 start from the same weights; the
same-init check trains both full-batch from them and compares the train loss.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from bench.common import (
    INDEX_BYTES,
    Section,
    Settings,
    activation_bytes,
    bytes_counted,
    floor_note,
    floor_shares,
    matmul_peak,
    memory_bandwidth,
    optimizer_states,
    param_bytes,
    preset,
    roofline,
    roofline_extra,
)

# (preset, what the row calls it); the presets hold the recipes (task, width, optimizer, batch)
SETUPS = (("omnigrok2023_digits", "digits (Omnigrok MNIST recipe)"), ("merrill2023", "sparse parity (Merrill et al.)"))


def step_flops(widths: list[int], batch: int) -> int:
    """A model-step's matmuls: forward 2·B·fan_in·fan_out per layer and backward twice that (the
    input layer's weight gradient only: no gradient w.r.t. the data). widths = [n_in, ..., n_out]."""
    layers = list(zip(widths, widths[1:]))
    return sum(2 * batch * i * o * (2 if k == 0 else 3) for k, (i, o) in enumerate(layers))


def step_bytes(widths: list[int], batch: int, bias: bool, n_state: int, itemsize: int) -> int:
    """The bytes a model-step cannot avoid moving (rules: common.param_bytes, activation_bytes):
    parameters W [fan_in, fan_out] (+ b [fan_out]) per layer, backward reading every weight but the
    first (no gradient w.r.t. the data); every layer's output [B, fan_out] (ReLU in place on the
    pre-activation) with its gradient; the batch x [B, n_in] and labels y [B] int64 read once."""
    layers = list(zip(widths, widths[1:]))
    n_params = sum(i * o + (o if bias else 0) for i, o in layers)
    n_backward = sum(i * o for i, o in layers[1:])
    return (param_bytes(n_params, n_backward, n_state, itemsize) + activation_bytes(batch * sum(widths[1:]), itemsize)
            + batch * (widths[0] * itemsize + INDEX_BYTES))


BYTES_COUNTED = bytes_counted("every weight but the first", "every layer's output [B, fan_out]",
                              "x [B, n_in] and y int64")


def _configs(name: str, K: int, *sets: str):
    base = preset(name, f"train.steps={10**6}", *sets)
    return [base.override([f"train.seed={base.train.seed + k}", f"task.data_seed={k}"]) for k in range(K)]


def _layers(params: dict[str, torch.Tensor], n_layers: int) -> list[tuple[str, str]]:
    names = ["W_in", *(f"hidden.{i}.W" for i in range(1, n_layers)), "W_out"] if n_layers else ["W_out"]
    return [(w, w[:-1] + "b" if w.startswith("hidden") else "b" + w[1:]) for w in names]


def _eager(engine, dtype: torch.dtype):
    """(one eager training step, its full-batch train loss) from model 0's initial weights and data."""
    cfg = engine.cfgs[0]
    init = {n: p.detach()[0].clone() for n, p in engine.params.items()}
    mods: list[nn.Module] = []
    for i, (w, b) in enumerate(_layers(init, cfg.model.n_layers)):
        lin = nn.Linear(*init[w].shape, bias=b in init).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(init[w].T)  # ours is [fan_in, fan_out]
            if b in init:
                lin.bias.copy_(init[b])
        mods += [lin, nn.ReLU()] if i < cfg.model.n_layers else [lin]
    model = nn.Sequential(*mods)
    o = cfg.optim
    opt = (torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay, betas=(o.beta1, o.beta2),
                             eps=o.eps) if o.name == "adamw" else
           torch.optim.SGD(model.parameters(), lr=o.lr, weight_decay=o.weight_decay, momentum=o.momentum))
    x = engine.data["inputs_train"]["x"][0].to(dtype)  # [n_train, n_in]
    y = engine.data["y_train"][0]
    n_out = engine.model.n_out
    B = engine.batch_size
    state = {"perm": torch.randperm(len(x)), "j": 0}

    def loss_of(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = model(xb)
        if cfg.train.loss == "mse":
            return (out - F.one_hot(yb, n_out).to(out.dtype)).square().mean()
        return F.cross_entropy(out, yb)

    def step() -> None:
        j = state["j"]
        if (j + 1) * B > len(x):
            state["perm"], j = torch.randperm(len(x)), 0
        idx = state["perm"][j * B:(j + 1) * B]
        state["j"] = j + 1
        opt.zero_grad()
        loss_of(x[idx], y[idx]).backward()
        opt.step()

    return step, lambda: loss_of(x, y)


def _timed(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def _setup_rows(name: str, label: str, s: Settings) -> tuple[list[dict], list[str], dict]:
    """The rows of one task (eager, then grokscope at each K), its note lines and its floor's --json numbers."""
    from grokscope.train import NullSink
    from grokscope.train.loop import Engine

    engines = {K: Engine(_configs(name, K), [NullSink()] * K) for K in s.dense_Ks}
    one = engines[s.dense_Ks[0]]
    dtype = next(iter(one.params.values())).dtype
    eager_step, _ = _eager(one, dtype)
    steps = {"eager": eager_step, **{K: (lambda e=e: e.train_step(False)) for K, e in engines.items()}}
    for fn in steps.values():  # warm-up (allocator, caches)
        _timed(fn, 3)
    best = {k: float("inf") for k in steps}
    for _ in range(s.repeats):
        for k, fn in steps.items():
            best[k] = min(best[k], _timed(fn, s.dense_steps))
    # floor per model-step: its matmuls and bytes at the measured matmul peak and bandwidth in the
    # recipe's precision (digits trains in float64, as Omnigrok's notebook)
    peak, bw = matmul_peak(s.peak_n, dtype=dtype), memory_bandwidth(s.bw_mb, dtype=dtype)
    shapes = [one.params[w].shape[1:] for w, _ in _layers(one.params, one.cfg.model.n_layers)]
    widths = [shapes[0][0], *(o for _, o in shapes)]  # n_in, hidden widths, n_out
    B = one.batch_size
    flops = step_flops(widths, B)
    itemsize = torch.empty((), dtype=dtype).element_size()
    bytes_ = step_bytes(widths, B, one.cfg.model.bias, optimizer_states(one.cfg), itemsize)
    roof = roofline(flops, bytes_, peak, bw)
    eager = best["eager"]
    rows = [{"impl": f"{label}: eager nn.Sequential + torch.optim", "K": 1, "s_per_step": eager,
             "model_steps_per_s": 1 / eager, "ratio": 1.0, **floor_shares(roof, eager)}]
    for K in s.dense_Ks:
        rows.append({"impl": f"{label}: grokscope Engine", "K": K, "s_per_step": best[K],
                     "model_steps_per_s": K / best[K], "ratio": K * eager / best[K],
                     **floor_shares(roof, best[K] / K)})
    # same-init check: full batch from the same weights, both sides, a few steps
    cfg = _configs(name, 1, "train.batch_size=0")[0]
    check = Engine([cfg], [NullSink()])
    with torch.no_grad():
        for n, p in check.params.items():
            p.copy_(one.params[n][:1])
    step, loss = _eager(check, dtype)
    for _ in range(s.dense_check_steps):
        step()
        check.train_step(False)
    with torch.no_grad():
        eager_loss = loss().item()
    ours = check.evaluate()["train_loss"][0].item()
    shape = " → ".join(map(str, widths))
    notes = [
        f"{label} ({name}: {shape}, batch {B}, {dtype}, {one.cfg.optim.name}): {flops / 1e6:.2f} MFLOP per "
        f"model-step, FLOP floor {roof['flop_floor_s'] * 1e6:.1f} µs at the measured {peak:.1f} GFLOP/s ({dtype}); "
        f"same-init check after {s.dense_check_steps} full-batch steps: train loss eager {eager_loss:.6f} vs "
        f"grokscope {ours:.6f}",
        f"{label}: " + floor_note(roof, bytes_, bw, s.bw_mb, BYTES_COUNTED, per="model-step"),
    ]
    for r in rows:
        r["same_init_check"] = {"steps": s.dense_check_steps, "eager_loss": eager_loss, "grokscope_loss": ours}
    return rows, notes, roofline_extra(roof, flops, bytes_, peak, bw, per="model_step")


def run(s: Settings) -> Section:
    rows, notes, floors = [], [], {}
    for name, label in SETUPS:
        r, n, floors[name] = _setup_rows(name, label, s)
        rows += r
        notes += n
    section = Section(
        key="dense", title="5. Dense-input tasks: training steps of K models (minibatches, each model its own order)",
        columns=[("impl", "implementation"), ("K", "K"), ("s_per_step", "s/step"),
                 ("model_steps_per_s", "model-steps/s"), ("ratio", "× eager (model-steps/s)"),
                 ("pct_floor", "% of floor"), ("bound", "floor bound")],
        rows=rows,
        extra={"floors": floors},
    )
    section.notes.extend(notes)
    return section
