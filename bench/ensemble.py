"""Setup 3: PAIR 2023 models per hour — a Python loop of single runs vs grokscope ensembles.

Every model of a benchmark differs in `train.seed` (init) and `task.data_seed` (split), as in a
sweep. A "model" is a full run of `ens_steps` steps with an evaluation every `ens_eval_every` and
at the end, counted from building its data to its last evaluation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.common import (
    MemorySink,
    Section,
    Settings,
    bench_schedule,
    bytes_counted,
    floor_note,
    floor_shares,
    matmul_peak,
    memory_bandwidth,
    optimizer_states,
    pair_activation_bytes,
    pair_step_flops,
    param_bytes,
    preset,
    roofline,
    roofline_extra,
    split_data,
)
from bench.eager import PairMLP

PRESET = "pair2023"
REPO = Path(__file__).resolve().parent.parent


def step_bytes(p: int, d_mlp: int, n_train: int, n_state: int, itemsize: int = 4) -> int:
    """The bytes one model's full-batch step cannot avoid moving (rules: common.param_bytes,
    pair_activation_bytes): parameters W_in [p, d] (shared by both operands) and W_out [d, p], of
    which backward reads W_out only (W_in is a row gather); hidden [B, d] and logits [B, p] with
    their gradients; a, b, y [B] int64. A stack of K models moves K times this."""
    return param_bytes(2 * p * d_mlp, d_mlp * p, n_state, itemsize) + pair_activation_bytes(n_train, d_mlp, p, itemsize)


BYTES_COUNTED = bytes_counted("W_out", "hidden [B, d] and logits [B, p]", "a, b, y int64") + (
    " in each training step (evaluations left out)")


def base_config(p: int, width: int, steps: int, eval_every: int):
    return preset(PRESET, f"task.p={p}", f"model.d_mlp={width}", *bench_schedule(steps, eval_every))


def member_configs(base, K: int, offset: int = 0) -> list:
    """K configs differing only in init seed and data seed."""
    out = []
    for k in range(offset, offset + K):
        out.append(dataclasses.replace(
            base,
            task=dataclasses.replace(base.task, data_seed=k),
            train=dataclasses.replace(base.train, seed=base.train.seed + k),
        ))
    return out


def eager_run(cfg) -> float:
    """One model, the researcher's way; returns its final test accuracy."""
    data = split_data(cfg)
    o, steps, every = cfg.optim, cfg.train.steps, cfg.train.eval_every
    torch.manual_seed(cfg.train.seed)
    model = PairMLP(data.p, cfg.model.d_mlp)
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr, weight_decay=o.weight_decay,
                            betas=(o.beta1, o.beta2), eps=o.eps)
    acc = 0.0
    for t in range(steps + 1):
        if t % every == 0 or t == steps:
            with torch.no_grad():
                logits = model(data.a_test, data.b_test)
                acc = (logits.argmax(-1) == data.y_test).float().mean().item()
        if t == steps:
            break
        loss = F.cross_entropy(model(data.a_train, data.b_train), data.y_train)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return acc


def engine_run(cfgs) -> list[dict]:
    from grokscope.train.loop import Engine

    sinks = [MemorySink() for _ in cfgs]
    return Engine(cfgs, sinks).run()


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def rss_child(K: int, p: int, width: int, steps: int, eval_every: int, threads: int) -> dict:
    """Run a K-model ensemble in a fresh interpreter; its peak RSS (ru_maxrss) and wall time."""
    cmd = [sys.executable, "-m", "bench.ensemble", str(K), str(p), str(width), str(steps),
           str(eval_every), str(threads)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB. VmHWM (Linux) belongs to the process's own
    address space; ru_maxrss of a forked-then-exec'd child can still hold the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child_main(argv: list[str]) -> None:
    K, p, width, steps, every, threads = (int(x) for x in argv)
    if threads:
        torch.set_num_threads(threads)
    base = base_config(p, width, steps, every)
    engine_run(member_configs(base, 1, offset=K))  # warm up (first-call costs), as in-process
    before = _peak_rss_mb()
    cfgs = member_configs(base, K)
    wall = timed(engine_run, cfgs)
    print(json.dumps({"K": K, "wall_s": wall, "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": before}))


def run(s: Settings) -> Section:
    base = base_config(s.ens_p, s.ens_width, s.ens_steps, s.ens_eval_every)
    M = s.ens_loop_models
    # Warm up both code paths once (first-call costs are not per-model costs).
    eager_run(base)
    engine_run(member_configs(base, 1))

    rows: list[dict] = []
    loop_cfgs = member_configs(base, M)
    t_eager = timed(lambda: [eager_run(c) for c in loop_cfgs])
    t_loop = timed(lambda: [engine_run([c]) for c in loop_cfgs])
    per_hour = lambda n, secs: 3600.0 * n / secs
    eager_mph = per_hour(M, t_eager)
    rows.append({"impl": f"eager loop: {M} single runs (nn.Module + torch AdamW)", "K": 1,
                 "s_per_model": t_eager / M, "models_per_hour": eager_mph, "ratio": 1.0})
    mph = per_hour(M, t_loop)
    rows.append({"impl": f"grokscope loop: {M} single runs (Engine K=1 each)", "K": 1,
                 "s_per_model": t_loop / M, "models_per_hour": mph, "ratio": mph / eager_mph})
    threads = torch.get_num_threads()
    child = lambda K: rss_child(K, s.ens_p, s.ens_width, s.ens_steps, s.ens_eval_every, threads)
    big = None
    for K in s.ens_Ks:
        if K == s.rss_K:  # timed in a fresh process, which also gives its peak RSS
            big = child(K)
            secs, where = big["wall_s"], " [fresh subprocess]"
        else:
            secs, where = timed(engine_run, member_configs(base, K)), ""
        mph = per_hour(K, secs)
        rows.append({"impl": f"grokscope ensemble K={K} (one Engine){where}", "K": K,
                     "s_per_model": secs / K, "models_per_hour": mph, "ratio": mph / eager_mph})
    if big is None:
        big = child(s.rss_K)
    small = child(1)
    n_train = len(split_data(base).y_train)
    # a model's floor: its training steps only (evaluations are left out, so this is a lower bound)
    flops = pair_step_flops(n_train, s.ens_width, s.ens_p) * s.ens_steps
    bytes_ = step_bytes(s.ens_p, s.ens_width, n_train, optimizer_states(base)) * s.ens_steps
    peak, bw = matmul_peak(s.peak_n), memory_bandwidth(s.bw_mb)
    roof = roofline(flops, bytes_, peak, bw)
    floor = roof["flop_floor_s"]
    for r in rows:
        r.update(floor_shares(roof, r["s_per_model"]))
    section = Section(
        key="ensemble",
        title=(f"3. PAIR ensembles  (a+b) mod {s.ens_p}, symmetric, shared W_in, {s.ens_width} neurons, "
               f"{n_train} train pairs, {s.ens_steps} steps per model"),
        columns=[("impl", "implementation"), ("s_per_model", "s/model"),
                 ("models_per_hour", "models/hour"), ("ratio", "× eager"), ("pct_floor", "% of floor"),
                 ("bound", "floor bound")],
        rows=rows,
        extra={"rss": {"K1": small, f"K{s.rss_K}": big}, "floor_s_per_model": floor,
               "max_ratio": (t_eager / M) / floor, **roofline_extra(roof, flops, bytes_, peak, bw, per="model")},
    )
    section.notes.append(
        f"FLOP floor: a model's unavoidable matmuls ({flops / 1e6:.0f} MFLOP) at the measured peak {peak:.1f} GFLOP/s "
        f"take {floor * 1e3:.3g} ms."
    )
    section.notes.append(
        floor_note(roof, bytes_, bw, s.bw_mb, BYTES_COUNTED, per="model") + " No fp32 implementation on this CPU trains "
        f"more than {(t_eager / M) / roof['floor_s']:.1f}× the eager loop's models per hour; the best ensemble "
        f"here reaches {100 * roof['floor_s'] / min(r['s_per_model'] for r in rows):.0f}% of that floor."
    )
    section.notes.append(
        f"each model: {s.ens_steps} steps, evaluation every {s.ens_eval_every} and at the end, own "
        "init seed and data seed; time counted from building the split to the last evaluation."
    )
    section.notes.append(
        f"peak RSS (fresh subprocess, VmHWM): K={s.rss_K} ensemble {big['peak_rss_mb']:.0f} MB "
        f"vs K=1 {small['peak_rss_mb']:.0f} MB (interpreter + torch alone ≈ "
        f"{small['rss_before_mb']:.0f} MB); K={s.rss_K} adds {big['peak_rss_mb'] - small['peak_rss_mb']:.0f} MB."
    )
    return section


if __name__ == "__main__":
    _child_main(sys.argv[1:])
