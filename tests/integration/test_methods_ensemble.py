"""Issue #14 methods in the engine: an ensemble of K with per-model method knobs (Grokfast λ,
⊥Grad on/off, weight-norm constraint) equals K separate runs (float64), and the stack-level
choices (MA window, StableMax, output scale, float16 CE) train end to end."""

from __future__ import annotations

import math

import torch
from tests.helpers import tiny_mlp

from grokscope.train import MemorySink, train
from grokscope.train.loop import stack_key

STEPS = 60
RTOL = 1e-8  # see test_engine.py: float64 stacks agree to ~1e-13


def _base(*sets):
    return tiny_mlp(f"train.steps={STEPS}", "train.stop_test_acc=1.1", f"train.checkpoint_every={STEPS}",
                    "train.eval_every=20", *sets)


def _ensemble_equals_singles(cfgs):
    assert len({stack_key(c) for c in cfgs}) == 1  # the knobs are per model
    stacked = [MemorySink() for _ in cfgs]
    train(cfgs, stacked, dtype=torch.float64)
    finals = []
    for cfg, member in zip(cfgs, stacked):
        alone = MemorySink()
        train([cfg], [alone], dtype=torch.float64)
        for ra, rb in zip(member.rows, alone.rows, strict=True):
            for key in ("train_loss", "test_loss", "test_acc", "weight_norm"):
                assert abs(ra[key] - rb[key]) <= RTOL * max(1.0, abs(rb[key])), (key, ra["step"])
        final = member.checkpoints[(STEPS, "final")]
        for n, t in final.items():
            torch.testing.assert_close(t, alone.checkpoints[(STEPS, "final")][n], rtol=RTOL, atol=1e-12)
        finals.append(final)
    return stacked, finals


def test_ma_ortho_and_weight_norm_per_model_in_one_stack_equal_separate_runs():
    base = _base("optim.grokfast=ma", "optim.grokfast_window=5")
    cfgs = [base.override(["optim.grokfast_lamb=3", "optim.ortho=true"]),
            base.override(["train.seed=1"]),  # every method off
            base.override(["optim.grokfast_lamb=1", "optim.weight_norm=1", "optim.weight_decay=0", "train.seed=2"]),
            base.override(["optim.ortho=true", "optim.name=adamw", "train.seed=3", "optim.lr=1e-2"])]
    stacked, finals = _ensemble_equals_singles(cfgs)
    # the constrained model kept its initial norm at every evaluation (total over all tensors)
    norms = [r["weight_norm"] for r in stacked[2].rows]
    assert max(abs(n / norms[0] - 1) for n in norms) < 1e-12
    # the methods did something: the same seed without them ends elsewhere
    plain = MemorySink()
    train([cfgs[0].override(["optim.grokfast_lamb=0", "optim.ortho=false"])], [plain], dtype=torch.float64)
    assert not torch.allclose(plain.checkpoints[(STEPS, "final")]["W_out"], finals[0]["W_out"])


def test_ortho_sgd_stack_equals_separate_runs():
    base = _base("optim.name=sgd", "optim.lr=0.5", "optim.momentum=0.9", "optim.weight_decay=0")
    _ensemble_equals_singles([base.override(["optim.ortho=true"]), base.override(["train.seed=5"])])


def test_stablemax_out_scale_and_float16_runs_train_and_report_their_loss():
    for sets in (["train.probs=stablemax", "optim.lr=1e-2"], ["train.out_scale=4"], ["train.loss_dtype=float16"],
                 ["train.loss=mse", "train.out_scale=2"]):
        sink = MemorySink()
        train([_base(*sets)], [sink])
        first, last = sink.rows[0], sink.rows[-1]
        assert all(math.isfinite(r["train_loss"]) for r in sink.rows), sets
        assert last["train_loss"] < first["train_loss"] and last["train_acc"] > first["train_acc"], sets


def test_ma_and_weight_norm_state_resumes_bit_identically():
    from grokscope.train.state import Resume

    cfg = tiny_mlp("train.steps=60", "train.stop_test_acc=1.1", "train.checkpoint_every=30",
                   "train.checkpoint_log_points=0", "optim.grokfast=ma", "optim.grokfast_window=8",
                   "optim.grokfast_lamb=2", "optim.ortho=true", "optim.weight_norm=1.2")
    straight = MemorySink(keep_states=True)
    train([cfg], [straight])
    tensors, info = straight.states[30]
    assert {"transform.grokfast_ma.ring.W_out", "transform.weight_norm.norm0"} <= set(tensors)
    resumed = MemorySink()
    rows = [r for r in straight.rows if r["step"] <= 30]
    train([cfg], [resumed], resume=[Resume(step=30, tensors=tensors, info=info, history=rows)])
    for n, t in straight.checkpoints[(60, "final")].items():
        assert torch.equal(t, resumed.checkpoints[(60, "final")][n]), n
