"""Shared pieces of the benchmark: settings, a no-op sink, timing, the roofline (matmul peak, memory
bandwidth, the byte-count rules every setup uses), tables."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from grokscope.train.sinks import MemorySink as _MemorySink

# ----------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Sizes and step counts of one benchmark invocation (default, --quick or --full)."""

    mode: str = "default"
    repeats: int = 3  # MLP timings are the best of this many (eager and grokscope interleaved)
    # Swaroop MLP
    mlp_p: int = 97
    mlp_width: int = 256
    mlp_warmup: int = 50  # untimed steps first (allocator, caches)
    mlp_steps: int = 300  # timed steps
    mlp_eval_every: int = 100
    check_steps: int = 100  # correctness check: train both from the same weights this long
    grok_max_steps: int = 0  # --full: time-to-grok cap (0 = not measured)
    grok_threshold: float = 0.99
    # Nanda transformer
    tf_p: int = 113
    tf_d_model: int = 128
    tf_heads: int = 4
    tf_d_mlp: int = 512
    tf_repeats: int = 1
    tf_warmup: int = 2
    tf_steps: int = 100
    tf_eval_every: int = 100
    tf_check_steps: int = 10
    peak_n: int = 2048
    bw_mb: int = 0  # memory-bandwidth copy size in MB (0 = twice the last-level cache, at least 256)
    # PAIR ensembles
    ens_p: int = 67
    ens_width: int = 24
    ens_steps: int = 100
    ens_eval_every: int = 100
    ens_loop_models: int = 8  # single runs timed in the Python-loop baselines
    ens_Ks: tuple[int, ...] = (1, 8, 64, 512)
    rss_K: int = 512  # this K runs in a fresh subprocess: its wall time and peak RSS
    # PAIR tied-embedding model (pair2023_tied)
    tied_steps: int = 20  # timed steps per repeat
    tied_Ks: tuple[int, ...] = (1, 8, 64)
    tied_check_steps: int = 100
    # dense-input tasks (digits, sparse parity)
    dense_steps: int = 20  # timed steps per repeat
    dense_Ks: tuple[int, ...] = (1, 8, 32)
    dense_check_steps: int = 20
    compile: bool = False  # also time grokscope with train.compile=true (torch.compile of forward + loss)


DEFAULT = Settings()
QUICK = Settings(
    mode="quick", repeats=1,
    mlp_p=23, mlp_width=32, mlp_warmup=4, mlp_steps=8, mlp_eval_every=4, check_steps=10,
    tf_p=23, tf_d_model=32, tf_heads=4, tf_d_mlp=64, tf_warmup=2, tf_steps=4, tf_eval_every=2,
    tf_check_steps=4, peak_n=256, bw_mb=32,
    ens_p=23, ens_width=8, ens_steps=8, ens_eval_every=4, ens_loop_models=2, ens_Ks=(1, 4), rss_K=4,
    tied_steps=2, tied_Ks=(1, 2), tied_check_steps=3, dense_steps=2, dense_Ks=(1, 2), dense_check_steps=3,
)
FULL = Settings(mode="full", grok_max_steps=50_000, tf_repeats=2, ens_steps=200)


# ------------------------------------------------------------------------------------ engine sink


class MemorySink(_MemorySink):
    """grokscope's in-memory sink, plus the engine's wall clock at an evaluated step."""

    def wall_at(self, step: int) -> float:
        """The engine's wall clock at `step`, taken before that step's evaluation."""
        for row in self.rows:
            if row["step"] == step:
                return float(row["wall_s"])
        raise KeyError(f"step {step} was not evaluated")


# ------------------------------------------------------------------------------------- timing


def best_of(fns: dict[str, Callable[[], tuple[float, float]]], repeats: int) -> dict[str, dict[str, Any]]:
    """Call each timing function (-> (loop s/step, update s/step)) `repeats` times, interleaved
    with the order flipped every round so slow drifts of a shared machine hit both sides alike.
    -> name -> {"loop": best, "step": best, "runs": [[loop, step], ...]} (best = minimum)."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            runs[name].append(tuple(fns[name]()))
    return {
        name: {"loop": min(x[0] for x in v), "step": min(x[1] for x in v), "runs": [list(x) for x in v]}
        for name, v in runs.items()
    }


def timing_fns(cfg: Any, eager: Callable[[], tuple[float, float]], n_warm: int, n_steps: int,
               compile: bool) -> dict[str, Callable[[], tuple[float, float]]]:
    """The timed implementations of one setup: eager, grokscope and, if asked, grokscope compiled
    (its first call includes the compilation in the warm-up window, which is not timed)."""
    fns = {"eager": eager, "grokscope": lambda: engine_timing(cfg, n_warm, n_steps)}
    if compile:
        fns["compiled"] = lambda: engine_timing(cfg.override(["train.compile=true"]), n_warm, n_steps)
    return fns


COMPILED_NAME = "grokscope Engine, K=1, train.compile=true"


def matmul_peak(n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Measured matmul throughput of this process in `dtype` (GFLOP/s): best of `repeats` n×n @ n×n."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm up (thread pool, BLAS buffers)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def llc_mb(default: int = 128) -> int:
    """The last-level cache of CPU 0 in MB (Linux sysfs; `default` where it cannot be read)."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * unit)
    return max(sizes) // 2**20 if sizes else default


def copy_mb(mb: int) -> int:
    """The size `memory_bandwidth` copies: `mb`, or for 0 twice the last-level cache, at least 256 MB
    (src and dst together are then 4× the cache: neither stays cached between repeats)."""
    return mb or max(256, 2 * llc_mb())


def memory_bandwidth(mb: int = 256, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Measured memory bandwidth of this process (GB/s): best of `repeats` `dst.copy_(src)` of an
    `mb`-MB tensor (0: `copy_mb`), counting the read of src and the write of dst. On the same torch
    threads as the timings; a write-allocating copy also reads dst, so DRAM moves ~1.5× what is counted."""
    src = torch.ones(copy_mb(mb) * 2**20 // torch.empty((), dtype=dtype).element_size(), dtype=dtype)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm up: the first touch faults dst's pages in
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best / 1e9


def roofline(flops: float, bytes_: float, peak_gflops: float, bw_gbs: float) -> dict[str, Any]:
    """The floor of a step that must execute `flops` and move `bytes_`: the slower of the two at
    the measured matmul peak and memory bandwidth (they can overlap, so the max, not the sum)."""
    flop_floor, byte_floor = flops / (peak_gflops * 1e9), bytes_ / (bw_gbs * 1e9)
    return {"floor_s": max(flop_floor, byte_floor), "flop_floor_s": flop_floor, "byte_floor_s": byte_floor,
            "bound": "FLOPs" if flop_floor >= byte_floor else "bytes"}


def roofline_extra(roof: dict[str, Any], flops: float, bytes_: float, peak_gflops: float, bw_gbs: float,
                   per: str = "step") -> dict[str, Any]:
    """The --json numbers of a floor: its inputs (`per` step, model-step or model) and `roofline`'s."""
    return {"peak_gflops": peak_gflops, "bw_gbs": bw_gbs, f"flops_per_{per}": flops,
            f"bytes_per_{per}": bytes_, **roof}


def floor_shares(roof: dict[str, Any], seconds: float) -> dict[str, Any]:
    """A row's share (%) of the binding floor and of the FLOP floor alone, taking `seconds` per
    unit of the floor's work, and which floor binds."""
    return {"pct_floor": 100 * roof["floor_s"] / seconds, "pct_flop_floor": 100 * roof["flop_floor_s"] / seconds,
            "bound": roof["bound"]}


def floor_note(roof: dict[str, Any], bytes_: float, bw_gbs: float, mb: int, counts: str, per: str = "step") -> str:
    """The note line of a byte floor: what it counts, the bandwidth (of an `mb`-MB copy, 0: `copy_mb`),
    and which floor binds."""
    return (f"byte floor: {counts} = {bytes_ / 1e6:.3g} MB per {per}, {roof['byte_floor_s'] * 1e3:.3g} ms at the "
            f"measured {bw_gbs:.1f} GB/s (best {copy_mb(mb)} MB tensor copy, read + write), vs the FLOP floor "
            f"{roof['flop_floor_s'] * 1e3:.3g} ms: {roof['bound']} bind; % of floor is the share of that floor.")


# ------------------------------------------------------------------------------- byte counts
# What a training step must move between memory and the cores: every tensor it cannot avoid,
# each pass counted once (what a well-fused implementation moves; unfused ones re-read more).
# Counted as traffic at the measured DRAM bandwidth even where the step's working set would fit
# in cache, so for small working sets (K = 1 PAIR models) the byte floor is not a strict bound.

INDEX_BYTES = 8  # int64 operands and labels


def bytes_counted(backward: str, activations: str, data: str) -> str:
    """What a setup's byte count includes, for its note line (the rules of `param_bytes` and
    `activation_bytes`, with the setup's tensors named)."""
    return (f"parameters (read in forward, {backward} also in backward; gradient written; the update reads p, g "
            f"and the optimizer state and writes p and the state) + {activations} and their gradients (each "
            f"written and read once) + {data} (read once)")


def optimizer_states(cfg: Any) -> int:
    """Per-parameter state tensors of `cfg.optim` (AdamW/Adam: m, v -> 2; SGD: 1 with momentum)."""
    from grokscope.train.optim import OPTIMIZERS

    return len(OPTIMIZERS.get(cfg.optim.name)(cfg.optim).state_kinds)


def param_bytes(n_params: int, n_backward: int, n_state: int, itemsize: int) -> int:
    """Bytes a step moves for its parameters (elements × itemsize), each pass once:
      forward reads every parameter                                   n_params
      backward reads the weights it sends a gradient through          n_backward (not a gathered
                                                                      table, a bias, a first layer on data)
      backward writes every gradient once                             n_params
      the update reads p, g and each state tensor, writes p and state  (3 + 2·n_state)·n_params
    -> (5 + 2·n_state)·n_params + n_backward elements (AdamW: 9·n_params + n_backward; the
    gradient's read is the update's)."""
    return itemsize * ((5 + 2 * n_state) * n_params + n_backward)


def activation_bytes(numel: int, itemsize: int) -> int:
    """Activations (`numel` elements in all) the step cannot avoid, and their gradients: each
    written once and read once -> 4 passes."""
    return 4 * numel * itemsize


def pair_step_flops(n_train: int, d_mlp: int, n_out: int) -> int:
    """The matmuls a full-batch step of a one-hidden-layer model on operand pairs cannot skip:
    logits [B, d_mlp] @ [d_mlp, n_out] forward, dlogits @ W_outᵀ and hiddenᵀ @ dlogits backward
    (the input layer is a row gather: no FLOPs)."""
    return 3 * 2 * n_train * d_mlp * n_out


def pair_activation_bytes(n_train: int, d_mlp: int, n_out: int, itemsize: int) -> int:
    """A full-batch step of a one-hidden-layer model on operand pairs, past its parameters:
    hidden [B, d_mlp] and logits [B, n_out] with their gradients, and the data a, b, y [B] int64
    read once (B = n_train)."""
    return activation_bytes(n_train * (d_mlp + n_out), itemsize) + 3 * n_train * INDEX_BYTES


def ratio(baseline: float, value: float) -> float:
    """Speed-up of `value` over `baseline` for times (larger = faster than the baseline)."""
    return baseline / value


# ------------------------------------------------------------------------------------- tables


@dataclass
class Section:
    """One printed table: the rows of one setup, plus notes (correctness checks, settings)."""

    key: str  # mlp | transformer | ensemble
    title: str
    columns: list[tuple[str, str]]  # (row key, header)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # numbers for --json only

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "rows": self.rows, "notes": self.notes, **self.extra}


def fmt(value: Any, kind: str = "") -> str:
    """Table text of a value; `kind` is the column's unit: ratio (×), pct, s, or plain."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if kind == "ratio":
            return f"{value:.2f}×"
        if kind == "pct":
            return f"{value:.1f}%"
        if kind == "s":
            return f"{value:.3g}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def column_kind(key: str) -> str:
    if key.endswith("ratio"):
        return "ratio"
    if key.startswith("pct"):
        return "pct"
    if key.endswith(("_s", "_s_per_step", "s_per_model")):
        return "s"
    return ""


def print_section(section: Section, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]{escape(section.title)}[/bold]")
    table = Table(header_style="bold")
    for i, (_, header) in enumerate(section.columns):
        table.add_column(escape(header), justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in section.rows:
        table.add_row(*(escape(fmt(row.get(key), column_kind(key))) for key, _ in section.columns))
    console.print(table)
    for note in section.notes:
        console.print(f"  {escape(note)}")
    console.print()


# --------------------------------------------------------------------------------------- data


@dataclass
class Data:
    """One split as tensors (the same pairs grokscope trains on: `make_task` + `make_split`)."""

    p: int
    a_all: torch.Tensor
    b_all: torch.Tensor
    c_all: torch.Tensor
    a_train: torch.Tensor
    b_train: torch.Tensor
    y_train: torch.Tensor
    a_test: torch.Tensor
    b_test: torch.Tensor
    y_test: torch.Tensor


def split_data(cfg: Any) -> Data:
    """The train/test split of `cfg.task`, exactly as the engine builds it."""
    from grokscope.tasks import make_split, make_task

    task = make_task(cfg.task)
    split = make_split(cfg.task, task)
    a, b, c = (torch.from_numpy(x) for x in (task.a, task.b, task.c))
    tr, te = torch.from_numpy(split.train_idx), torch.from_numpy(split.test_idx)
    return Data(
        p=task.n, a_all=a, b_all=b, c_all=c,
        a_train=a[tr], b_train=b[tr], y_train=torch.from_numpy(split.train_labels),
        a_test=a[te], b_test=b[te], y_test=c[te],
    )


def preset(name: str, *assignments: str) -> Any:
    """A preset with `--set`-style overrides (validated by grokscope's config)."""
    from grokscope.presets import load_preset

    return load_preset(name).override(list(assignments))


def bench_schedule(steps: int, eval_every: int) -> list[str]:
    """Overrides for a timing window: `steps` in all, evaluation every `eval_every` steps only
    (no extra log-spaced evaluations or checkpoints, so the windows of both sides hold the same
    number of evaluations)."""
    return [
        f"train.steps={steps}", f"train.eval_every={eval_every}", "train.eval_log_points=0",
        f"train.checkpoint_every={steps}", "train.checkpoint_log_points=0",
    ]


class StepClock:
    """Times an `Engine` from outside: wraps the instance's `train_step` (start and end of every
    update, keyed by the step it starts from). src/ is untouched; `Engine.run` calls
    `self.train_step`, so an instance attribute takes its place."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.start: dict[int, float] = {}
        self.spent: dict[int, float] = {}
        inner = engine.train_step

        def timed(*args: Any, **kwargs: Any) -> Any:
            step, t0 = engine.step, time.perf_counter()
            self.start[step] = t0
            out = inner(*args, **kwargs)
            self.spent[step] = time.perf_counter() - t0
            return out

        engine.train_step = timed

    def window(self, n_warm: int, n_steps: int) -> tuple[float, float]:
        """(loop s/step, update-only s/step) over updates n_warm .. n_warm + n_steps - 1; the loop
        figure is start-to-start, so it also holds the evaluations at steps n_warm+1 .. n_warm+n_steps."""
        loop = (self.start[n_warm + n_steps] - self.start[n_warm]) / n_steps
        step = sum(self.spent[t] for t in range(n_warm, n_warm + n_steps)) / n_steps
        return loop, step


def engine_timing(cfg: Any, n_warm: int, n_steps: int) -> tuple[float, float]:
    """(loop s/step, update s/step) of `Engine([cfg]).run()`; cfg.train.steps must be
    n_warm + n_steps + 1 (the update at n_warm + n_steps closes the window)."""
    from grokscope.train.loop import Engine

    assert cfg.train.steps == n_warm + n_steps + 1
    engine = Engine([cfg], [MemorySink()])
    clock = StepClock(engine)
    engine.run()
    return clock.window(n_warm, n_steps)


def eager_timing(step: Callable[[], Any], evaluate: Callable[[], Any], n_warm: int, n_steps: int,
                 eval_every: int) -> tuple[float, float]:
    """The same window for an eager script: (loop s/step, update s/step)."""
    start: dict[int, float] = {}
    spent = 0.0
    end = n_warm + n_steps
    for t in range(end + 1):
        if t % eval_every == 0:
            evaluate()
        t0 = time.perf_counter()
        start[t] = t0
        if t == end:
            break
        step()
        if t >= n_warm:
            spent += time.perf_counter() - t0
    return (start[end] - start[n_warm]) / n_steps, spent / n_steps
