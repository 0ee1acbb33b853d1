"""Setup 2: the Nanda 2023 one-layer transformer, eager (every position) vs grokscope."""

from __future__ import annotations

import torch

from bench.common import (
    COMPILED_NAME,
    Data,
    MemorySink,
    Section,
    Settings,
    activation_bytes,
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
    param_bytes,
    preset,
    ratio,
    roofline,
    roofline_extra,
    split_data,
    timing_fns,
)
from bench.eager import NandaTransformer, load_transformer_from_stack, nanda_loss

PRESET = "nanda2023"
N_CTX = 3


def config(s: Settings, steps: int, *extra: str):
    return preset(
        PRESET, f"task.p={s.tf_p}", f"model.d_model={s.tf_d_model}", f"model.n_heads={s.tf_heads}",
        f"model.d_mlp={s.tf_d_mlp}", *bench_schedule(steps, s.tf_eval_every), *extra,
    )


def useful_forward_flops(d_model: int, d_mlp: int, n_out: int) -> int:
    """Forward FLOPs per example of the work the loss needs (a matmul [m,k]@[k,n] = 2·m·k·n).

    The loss reads only the '=' position, so keys and values are needed at all 3 positions and
    everything else at the last one (H·d_head = d_model):
      K, V projections, 3 positions:   2 · 3 · 2·d_model²          = 12·d_model²
      Q projection, 1 position:        2·d_model²
      scores q·k (3 keys) + pattern·V: 2 · 3 · 2·d_model           = 12·d_model
      W_O, 1 position:                 2·d_model²
      MLP W_in and W_out, 1 position:  2 · 2·d_model·d_mlp         = 4·d_model·d_mlp
      unembed W_U, 1 position:         2·d_model·n_out
      total = 16·d_model² + 12·d_model + 4·d_model·d_mlp + 2·d_model·n_out
    A training step costs ≈ 3 × forward (backward ≈ 2 × forward) × n_train. Embedding lookups,
    softmax, ReLU, the loss and the optimizer are elementwise and not counted.
    """
    dm = d_model
    return 16 * dm * dm + 12 * dm + 4 * dm * d_mlp + 2 * dm * n_out


def reassociated_forward_flops(d_model: int, d_mlp: int, n_out: int) -> int:
    """Per example, what is left when layer 0's Q/K/V come from lookup tables of the 2n+1 possible
    rows (grokscope.models.transformer): W_O at the last position, the MLP and the unembedding;
    scores and pattern·V stay (12·d_model). The tables' own cost is per step, not per example,
    and left out (for Nanda's model ~1% of a step)."""
    dm = d_model
    return 2 * dm * dm + 12 * dm + 4 * dm * d_mlp + 2 * dm * n_out


def eager_forward_flops(d_model: int, d_mlp: int, n_out: int) -> int:
    """What the eager transcription executes per example: every matmul at all 3 positions
    (Q, K, V, O: 3 · 4 · 2·d_model²; 3×3 scores and pattern·V: 2 · 9 · 2·d_model; MLP and
    unembedding at 3 positions)."""
    dm = d_model
    return 24 * dm * dm + 36 * dm + N_CTX * (4 * dm * d_mlp + 2 * dm * n_out)


def step_bytes(p: int, d_model: int, n_heads: int, d_mlp: int, n_train: int, n_state: int, itemsize: int = 4) -> int:
    """The bytes a full-batch step of the one-layer model cannot avoid moving (rules:
    common.param_bytes, activation_bytes, pair_activation_bytes; dm = d_model, H·d_head = dm):
      parameters   W_E [p+1, dm], W_pos [3, dm], W_Q, W_K, W_V [H, dm, d_head], W_O [H, d_head, dm],
                   W_in [dm, d_mlp], b_in [d_mlp], W_out [d_mlp, dm], b_out [dm], W_U [dm, p];
                   backward reads every matrix but the embeddings (row gathers)
      activations  per example, what the last-position computation of `useful_forward_flops` forms,
                   with its gradient: k, v [3, dm] each; q, z (heads concatenated), resid_mid and
                   resid_post [dm] each; the pattern [H, 3]; the MLP hidden [d_mlp]; logits [p]
      data         a, b, y [B] int64
    Attention scores and the MLP pre-activation are taken as overwritten in place (softmax, ReLU)."""
    dm = d_model
    matrices = 4 * dm * dm + 2 * dm * d_mlp + dm * p
    n_params = matrices + (p + 1 + N_CTX) * dm + d_mlp + dm
    attention = n_train * (10 * dm + N_CTX * n_heads)  # [B, 3, dm] k and v, [B, dm] q, z, resid_mid, resid_post
    return (param_bytes(n_params, matrices, n_state, itemsize) + activation_bytes(attention, itemsize)
            + pair_activation_bytes(n_train, d_mlp, p, itemsize))


BYTES_COUNTED = bytes_counted(
    "the matrices", "per example k, v at 3 positions, q, z, resid_mid, resid_post, the pattern, the MLP hidden "
    "and the logits", "a, b, y int64")


class EagerRun:
    """The researcher's script: tokens `a b =`, full-sequence forward, float64 loss at the last
    position, torch.optim.AdamW β=(0.9, 0.98) with a 10-step linear warm-up (LambdaLR)."""

    def __init__(self, cfg, data: Data, seed: int = 0):
        torch.manual_seed(seed)
        p, m, o = data.p, cfg.model, cfg.optim
        self.model = NandaTransformer(p, m.d_model, m.n_heads, m.d_mlp)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=o.lr, weight_decay=o.weight_decay,
            betas=(o.beta1, o.beta2), eps=o.eps,
        )
        warm = o.warmup_steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda step: min((step + 1) / warm, 1.0) if warm else 1.0
        )
        eq = lambda x: torch.full_like(x, p)
        self.tok_train = torch.stack([data.a_train, data.b_train, eq(data.a_train)], dim=1)
        self.tok_test = torch.stack([data.a_test, data.b_test, eq(data.a_test)], dim=1)
        self.y_train, self.y_test = data.y_train, data.y_test

    def step(self) -> None:
        loss = nanda_loss(self.model(self.tok_train), self.y_train)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()

    @torch.no_grad()
    def test_acc(self) -> float:
        return (self.model(self.tok_test)[:, -1].argmax(-1) == self.y_test).float().mean().item()

    @torch.no_grad()
    def train_loss64(self) -> float:
        return nanda_loss(self.model(self.tok_train), self.y_train).item()

    def timing(self, n_warm: int, n_steps: int, eval_every: int) -> tuple[float, float]:
        return eager_timing(self.step, self.test_acc, n_warm, n_steps, eval_every)


def same_init_check(s: Settings) -> dict:
    """Eager (all positions) and grokscope (last-position fast path) from the same weights."""
    from grokscope.train.loop import Engine

    n = s.tf_check_steps
    cfg = config(s, n, f"train.eval_every={n}")
    data = split_data(cfg)
    sink = MemorySink()
    engine = Engine([cfg], [sink])
    eager = EagerRun(cfg, data)
    load_transformer_from_stack(eager.model, engine.params)
    engine.run()
    for _ in range(n):
        eager.step()
    ours = sink.rows[-1]
    assert ours["step"] == n
    eager_loss = eager.train_loss64()
    return {"steps": n, "train_loss_eager": eager_loss, "train_loss_grokscope": ours["train_loss"],
            "abs_diff_train_loss": abs(eager_loss - ours["train_loss"]),
            "rel_diff_train_loss": abs(eager_loss - ours["train_loss"]) / abs(eager_loss)}


def run(s: Settings) -> Section:
    W, N, E = s.tf_warmup, s.tf_steps, s.tf_eval_every
    cfg = config(s, W + N + 1)
    data = split_data(cfg)
    peak, bw = matmul_peak(s.peak_n), memory_bandwidth(s.bw_mb)
    t = best_of(timing_fns(cfg, lambda: EagerRun(cfg, data).timing(W, N, E), W, N, s.compile), s.tf_repeats)
    n_train, p = len(data.y_train), data.p
    useful = 3 * useful_forward_flops(s.tf_d_model, s.tf_d_mlp, p) * n_train  # per training step
    executed = 3 * eager_forward_flops(s.tf_d_model, s.tf_d_mlp, p) * n_train
    reassoc = 3 * reassociated_forward_flops(s.tf_d_model, s.tf_d_mlp, p) * n_train
    bytes_ = step_bytes(p, s.tf_d_model, s.tf_heads, s.tf_d_mlp, n_train, optimizer_states(cfg))
    roof, roof_reassoc = roofline(useful, bytes_, peak, bw), roofline(reassoc, bytes_, peak, bw)
    names = {"eager": "eager: nn.Module, every op at all 3 positions + torch AdamW",
             "grokscope": "grokscope Engine, K=1", "compiled": COMPILED_NAME}
    rows = []
    for key in t:
        lt, st = t[key]["loop"], t[key]["step"]
        gflops = useful / st / 1e9
        rows.append({
            "impl": names[key], "loop_s_per_step": lt, "loop_ratio": ratio(t["eager"]["loop"], lt),
            "step_s_per_step": st, "step_ratio": ratio(t["eager"]["step"], st),
            "gflops": gflops, "pct_peak": 100 * gflops / peak,
            "pct_reassoc": 100 * reassoc / st / 1e9 / peak, **floor_shares(roof, st),
            "pct_reassoc_floor": floor_shares(roof_reassoc, st)["pct_floor"],
        })
    section = Section(
        key="transformer",
        title=(f"2. Nanda transformer  (a+b) mod {p}, d_model {s.tf_d_model}, {s.tf_heads} heads, "
               f"d_mlp {s.tf_d_mlp}, full batch {n_train}, float64 loss"),
        columns=[("impl", "implementation"),
                 ("loop_s_per_step", "loop s/step"), ("loop_ratio", "loop × eager"),
                 ("step_s_per_step", "update s/step"), ("step_ratio", "update × eager"),
                 ("gflops", "useful GFLOP/s"), ("pct_floor", "% of floor"),
                 ("pct_reassoc_floor", "% of re-associated floor"), ("bound", "floor bound")],
        rows=rows,
        extra={"timings": t, "useful_flops_per_step": useful, "eager_executed_flops_per_step": executed,
               **roofline_extra(roof, useful, bytes_, peak, bw), "reassociated": {"flops_per_step": reassoc, **roof_reassoc}},
    )
    section.notes.append(
        f"loop = {N} steps after {W} warm-up steps, evaluation every {E}; update = training step "
        f"alone; best of {s.tf_repeats}. Useful work = {useful / 1e9:.2f} GFLOP/step (3 × forward of "
        f"the last-position computation, formula in bench/transformer.py); eager executes "
        f"{executed / 1e9:.2f}; with layer 0's Q/K/V as lookups {reassoc / 1e9:.2f} remain (the re-associated "
        f"floor: share > 100% of the first floor means work was removed, not a faster matmul). Peak = {peak:.1f} GFLOP/s (best {s.peak_n}² fp32 torch.mm, "
        f"{torch.get_num_threads()} thread(s))."
    )
    section.notes.append(floor_note(roof, bytes_, bw, s.bw_mb, BYTES_COUNTED) + f" The re-associated floor: {roof_reassoc['bound']} bind.")
    chk = same_init_check(s)
    section.extra["same_init_check"] = chk
    section.notes.append(
        f"same-init check: after {chk['steps']} steps from identical weights, train loss eager "
        f"{chk['train_loss_eager']:.8f} vs grokscope {chk['train_loss_grokscope']:.8f} "
        f"(|Δ| = {chk['abs_diff_train_loss']:.1e}, relative {chk['rel_diff_train_loss']:.1e})"
    )
    return section
