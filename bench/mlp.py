"""Setup 1: the Swaroop 2026 two-hot ReLU MLP, eager nn.Linear vs grokscope's engine."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.common import (
    COMPILED_NAME,
    Data,
    MemorySink,
    Section,
    Settings,
    bench_schedule,
    best_of,
    bytes_counted,
    eager_timing,
    floor_note,
    floor_shares,
    matmul_peak,
    memory_bandwidth,
    optimizer_states,
    pair_activation_bytes,
    pair_step_flops,
    param_bytes,
    preset,
    ratio,
    roofline,
    roofline_extra,
    split_data,
    timing_fns,
)
from bench.eager import SwaroopMLP, load_mlp_from_stack, two_hot

PRESET = "swaroop2026"


def step_bytes(p: int, d_mlp: int, n_train: int, n_state: int, itemsize: int = 4) -> int:
    """The bytes a full-batch step cannot avoid moving (rules: common.param_bytes, pair_activation_bytes):
    parameters W_a, W_b [p, d], b_in [d], W_out [d, p], b_out [p], of which backward reads W_out
    only (the tables are row gathers, the bias gradients sums); hidden [B, d] and logits [B, p]
    with their gradients; a, b, y [B] int64."""
    n_params = 2 * p * d_mlp + d_mlp + d_mlp * p + p
    return param_bytes(n_params, d_mlp * p, n_state, itemsize) + pair_activation_bytes(n_train, d_mlp, p, itemsize)


BYTES_COUNTED = bytes_counted("W_out", "hidden [B, d] and logits [B, p]", "a, b, y int64")


def config(s: Settings, steps: int, *extra: str):
    return preset(
        PRESET, f"task.p={s.mlp_p}", f"model.d_mlp={s.mlp_width}",
        *bench_schedule(steps, s.mlp_eval_every), *extra,
    )


class EagerRun:
    """The researcher's script: dense two-hot inputs, nn.Linear, torch.optim.AdamW, full batch."""

    def __init__(self, cfg, data: Data, seed: int = 0):
        torch.manual_seed(seed)
        p, o = data.p, cfg.optim
        self.model = SwaroopMLP(p, cfg.model.d_mlp)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=o.lr, weight_decay=o.weight_decay,
            betas=(o.beta1, o.beta2), eps=o.eps,
        )
        self.x_train, self.y_train = two_hot(data.a_train, data.b_train, p), data.y_train
        self.x_test, self.y_test = two_hot(data.a_test, data.b_test, p), data.y_test

    def step(self) -> None:
        loss = F.cross_entropy(self.model(self.x_train), self.y_train)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def test_acc(self) -> float:
        return (self.model(self.x_test).argmax(-1) == self.y_test).float().mean().item()

    @torch.no_grad()
    def train_loss64(self) -> float:
        return F.cross_entropy(self.model(self.x_train).double(), self.y_train).item()

    def timing(self, n_warm: int, n_steps: int, eval_every: int) -> tuple[float, float]:
        return eager_timing(self.step, self.test_acc, n_warm, n_steps, eval_every)


def eager_own_process(s: Settings) -> dict:
    """The eager timing in a fresh interpreter that never builds an Engine: the researcher's
    script as it runs on its own, with glibc's default malloc settings (grokscope's Engine tunes
    them process-wide, see grokscope.train.allocator, and in this process eager shares that)."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    scalars = {k: v for k, v in dataclasses.asdict(s).items() if not isinstance(v, tuple)}
    cmd = [sys.executable, "-m", "bench.mlp", json.dumps(scalars), str(torch.get_num_threads())]
    out = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_main(argv: list[str]) -> None:
    s = Settings(**json.loads(argv[0]))
    torch.set_num_threads(int(argv[1]))
    W, N, E = s.mlp_warmup, s.mlp_steps, s.mlp_eval_every
    cfg = config(s, W + N + 1)
    data = split_data(cfg)
    runs = [EagerRun(cfg, data).timing(W, N, E) for _ in range(s.repeats)]
    print(json.dumps({"loop": min(r[0] for r in runs), "step": min(r[1] for r in runs)}))


def same_init_check(s: Settings) -> dict:
    """Train eager and grokscope from the same weights for `check_steps`; compare."""
    from grokscope.train.loop import Engine

    n = s.check_steps
    cfg = config(s, n, f"train.eval_every={n}")
    data = split_data(cfg)
    sink = MemorySink()
    engine = Engine([cfg], [sink])
    eager = EagerRun(cfg, data)
    load_mlp_from_stack(eager.model, engine.params)
    engine.run()
    for _ in range(n):
        eager.step()
    ours = sink.rows[-1]
    assert ours["step"] == n
    P = next(p for (_, kind), p in sink.checkpoints.items() if kind == "final")  # one model, no K axis
    pairs = [
        (eager.model.fc1.weight.T, torch.cat([P["W_a"], P["W_b"]], dim=0)),
        (eager.model.fc1.bias, P["b_in"]), (eager.model.fc2.weight.T, P["W_out"]),
        (eager.model.fc2.bias, P["b_out"]),
    ]
    diffs = torch.cat([(x - y).abs().flatten() for x, y in pairs])
    eager_loss = eager.train_loss64()
    return {
        "steps": n, "train_loss_eager": eager_loss, "train_loss_grokscope": ours["train_loss"],
        "abs_diff_train_loss": abs(eager_loss - ours["train_loss"]), "max_abs_diff_param": diffs.max().item(), "mean_abs_diff_param": diffs.mean().item(),
        "test_acc_eager": eager.test_acc(), "test_acc_grokscope": ours["test_acc"],
    }


def time_to_grok(s: Settings) -> dict:
    """Steps and seconds until test accuracy >= threshold, both from the same initial weights.

    grokscope runs its real schedule (log-spaced evaluations and checkpoints of the preset; the
    sink keeps rows in memory instead of writing files). The eager loop checks every 100 steps.
    """
    from grokscope.train.loop import Engine

    thr, cap = s.grok_threshold, s.grok_max_steps
    cfg = preset(PRESET, f"task.p={s.mlp_p}", f"model.d_mlp={s.mlp_width}",
                 f"train.steps={cap}", f"train.stop_test_acc={thr}")
    data = split_data(cfg)
    sink = MemorySink()
    engine = Engine([cfg], [sink])
    eager = EagerRun(cfg, data)
    load_mlp_from_stack(eager.model, engine.params)

    t0 = time.perf_counter()
    engine.run()
    ours_s = time.perf_counter() - t0
    pct = round(thr * 100)
    ours_step = sink.summary.get(f"t_val{pct}")

    every = cfg.train.eval_every
    eager_step = None
    t0 = time.perf_counter()
    for t in range(cap + 1):
        if t % every == 0 and eager.test_acc() >= thr:
            eager_step = t
            break
        if t < cap:
            eager.step()
    eager_s = time.perf_counter() - t0
    return {"threshold": thr, "cap": cap, "eager_steps": eager_step, "eager_s": eager_s,
            "grokscope_steps": ours_step, "grokscope_s": ours_s}


def run(s: Settings) -> Section:
    W, N, E = s.mlp_warmup, s.mlp_steps, s.mlp_eval_every
    cfg = config(s, W + N + 1)
    data = split_data(cfg)
    peak, bw = matmul_peak(s.peak_n), memory_bandwidth(s.bw_mb)
    t = best_of(timing_fns(cfg, lambda: EagerRun(cfg, data).timing(W, N, E), W, N, s.compile), s.repeats)
    names = {
        "eager": f"eager: nn.Linear({2 * data.p},{s.mlp_width}) on dense two-hot + torch AdamW",
        "grokscope": "grokscope Engine, K=1", "compiled": COMPILED_NAME,
    }
    n_train, p = len(data.y_train), data.p
    useful = pair_step_flops(n_train, s.mlp_width, p)
    bytes_ = step_bytes(p, s.mlp_width, n_train, optimizer_states(cfg))
    roof = roofline(useful, bytes_, peak, bw)
    floor = roof["flop_floor_s"]  # seconds per step if those matmuls ran at the measured peak
    t["eager_own"] = eager_own_process(s)
    names["eager_own"] = "the same eager script in its own process (glibc malloc defaults)"
    rows = []
    for key in t:
        lt, st = t[key]["loop"], t[key]["step"]
        rows.append({
            "impl": names[key], "loop_s_per_step": lt, "loop_ratio": ratio(t["eager"]["loop"], lt),
            "step_s_per_step": st, "step_ratio": ratio(t["eager"]["step"], st),
            "gflops": useful / st / 1e9, "pct_peak": 100 * useful / st / 1e9 / peak, **floor_shares(roof, st),
        })
    section = Section(
        key="mlp",
        title=(f"1. Swaroop MLP  (a+b) mod {data.p}, two-hot {2 * data.p} → {s.mlp_width} ReLU → "
               f"{data.p}, full batch {len(data.y_train)}, AdamW wd 1.0"),
        columns=[("impl", "implementation"),
                 ("loop_s_per_step", "loop s/step"), ("loop_ratio", "loop × eager"),
                 ("step_s_per_step", "update s/step"), ("step_ratio", "update × eager"),
                 ("gflops", "useful GFLOP/s"), ("pct_floor", "% of floor"), ("bound", "floor bound")],
        rows=rows,
        extra={"timings": t, "useful_flops_per_step": useful, "floor_s_per_step": floor,
               "max_step_ratio": t["eager"]["step"] / floor, **roofline_extra(roof, useful, bytes_, peak, bw)},
    )
    section.notes.append(
        f"FLOP floor: the three unavoidable output-layer matmuls ({useful / 1e6:.0f} MFLOP/step) at the measured "
        f"peak {peak:.1f} GFLOP/s ({s.peak_n}² fp32 torch.mm) take {floor * 1e3:.3g} ms."
    )
    section.notes.append(
        floor_note(roof, bytes_, bw, s.bw_mb, BYTES_COUNTED) + " No fp32 implementation on this CPU can beat eager's "
        f"update by more than {t['eager']['step'] / roof['floor_s']:.2f}×."
    )
    section.notes.append(
        f"loop = {N} steps after {W} warm-up steps with an evaluation every {E} (eager: test acc "
        f".item(); grokscope: its full evaluate()); update = the training step alone. "
        f"Best of {s.repeats}, interleaved; × eager = speed-up over eager (> 1 is faster)."
    )
    chk = same_init_check(s)
    section.extra["same_init_check"] = chk
    section.notes.append(
        f"same-init check: after {chk['steps']} steps from identical weights, train loss eager "
        f"{chk['train_loss_eager']:.8f} vs grokscope {chk['train_loss_grokscope']:.8f} "
        f"(|Δ| = {chk['abs_diff_train_loss']:.1e}); |Δθ| mean {chk['mean_abs_diff_param']:.1e}, "
        f"max {chk['max_abs_diff_param']:.1e} (Adam turns float rounding of near-zero gradients "
        f"into ±lr steps); test acc {chk['test_acc_eager']:.4f} vs {chk['test_acc_grokscope']:.4f}"
    )
    if s.grok_max_steps:
        g = time_to_grok(s)
        section.extra["time_to_grok"] = g
        section.columns += [("grok_steps", "steps to grok"), ("grok_s", "s to grok"),
                            ("grok_ratio", "grok × eager")]
        base = g["eager_s"] if g["eager_steps"] is not None else None
        for row, key in zip(rows, ("eager", "grokscope"), strict=False):
            steps_, secs = g[f"{key}_steps"], g[f"{key}_s"]
            row["grok_steps"], row["grok_s"] = steps_, secs if steps_ is not None else None
            row["grok_ratio"] = ratio(base, secs) if base and steps_ is not None else None
        section.notes.append(
            f"time to grok = first evaluation with test acc ≥ {g['threshold']} (cap {g['cap']:,} "
            "steps), same initial weights; grokscope runs the preset's full eval/checkpoint schedule."
        )
    return section


if __name__ == "__main__":
    _child_main(sys.argv[1:])
