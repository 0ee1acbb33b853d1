"""The engine: an ensemble of K equals K separate runs; determinism; minibatches; saturation.

Equivalence across stack shapes (K, chunking) is tested in float64 (`dtype=torch.float64`): in
float32 the matmul blocking differs with K and between CPUs (AVX2 vs AVX-512), and the chaotic
training dynamics amplify a 1e-7 rounding difference to percent level within a few hundred steps
at lr 1e-2 (measured on an AMD EPYC: 5e-3 relative at step 400 of the leave-the-stack test, 1e-2
with ATEN_CPU_CAPABILITY=default). In float64 the same comparison differs by at most 1.2e-13
(AVX2) and 8.8e-14 (no SIMD), so rtol 1e-8 leaves five orders of margin and still catches real
cross-talk between models (which shows at 1e-3 or more).
"""

import dataclasses

import torch
from tests.helpers import tiny_mlp, tiny_transformer

from grokscope.train import MemorySink as Memory
from grokscope.train.loop import Engine
from grokscope.train.loop import train as train_f32

F64_RTOL = 1e-8


def train(cfgs, sinks):
    return train_f32(cfgs, sinks, dtype=torch.float64)


def _strip_wall(rows):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def _assert_rows_close(rows_a, rows_b, rtol=F64_RTOL):
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b]
    for ra, rb in zip(_strip_wall(rows_a), _strip_wall(rows_b)):
        for key in ra:
            assert abs(ra[key] - rb[key]) <= rtol * max(1.0, abs(rb[key])), (key, ra["step"], ra[key], rb[key])


def _ensemble_vs_singles(cfgs):
    ensemble = [Memory() for _ in cfgs]
    train(cfgs, ensemble)
    for cfg, member in zip(cfgs, ensemble):
        alone = Memory()
        train([cfg], [alone])
        _assert_rows_close(member.rows, alone.rows)
        final = max(member.checkpoints)
        for name, t in member.checkpoints[final].items():
            torch.testing.assert_close(t, alone.checkpoints[final][name], rtol=F64_RTOL, atol=1e-12)


def test_mlp_ensemble_equals_separate_runs_with_per_model_seed_split_noise_lr_wd():
    base = tiny_mlp("train.steps=150", "train.stop_test_acc=1.1")
    cfgs = [
        base,
        base.override(["train.seed=1", "task.data_seed=2", "optim.lr=2e-3"]),
        base.override(["task.noise=0.2", "optim.weight_decay=0.1", "train.seed=3"]),
    ]
    _ensemble_vs_singles(cfgs)


def test_transformer_ensemble_equals_separate_runs():
    base = tiny_transformer("train.steps=40")
    _ensemble_vs_singles([base, base.override(["train.seed=4", "optim.lr=3e-3"])])


def test_finished_models_leave_the_stack_and_the_rest_match_their_single_runs():
    base = tiny_mlp("task.frac_train=0.8", "train.steps=400", "train.stop_test_acc=0.15",
                    "train.eval_every=10", "optim.lr=1e-2", "model.d_mlp=64")
    cfgs = [base.override([f"train.seed={s}", f"task.data_seed={s}"]) for s in range(4)]
    sinks = [Memory() for _ in cfgs]
    engine = Engine(cfgs, sinks, dtype=torch.float64)
    engine.run()
    assert engine.rows == []
    steps = [s.summary["steps"] for s in sinks]
    assert len(set(steps)) >= 2 and max(steps) == 400  # some stop early, the rest run on
    for cfg, sink in zip(cfgs, sinks):
        alone = Memory()
        train([cfg], [alone])
        assert alone.summary["steps"] == sink.summary["steps"]
        _assert_rows_close(sink.rows, alone.rows)


def test_runs_are_deterministic():
    cfg = tiny_mlp("train.steps=100", "train.batch_size=16")
    a, b = Memory(), Memory()
    train_f32([cfg], [a])  # the precision runs use
    train_f32([cfg], [b])
    assert _strip_wall(a.rows) == _strip_wall(b.rows)


def test_minibatch_differs_from_full_batch_and_still_learns():
    full, mini = Memory(), Memory()
    train([tiny_mlp("train.steps=200", "train.stop_test_acc=1.1")], [full])
    train([tiny_mlp("train.steps=200", "train.stop_test_acc=1.1", "train.batch_size=16")], [mini])
    assert full.rows[-1]["train_loss"] != mini.rows[-1]["train_loss"]
    assert mini.rows[-1]["train_acc"] > 0.5


def test_saturation_checkpoint_is_the_first_step_with_train_acc_99():
    sink = Memory()
    cfg = tiny_mlp("train.steps=300", "train.eval_every=1000", "train.eval_log_points=0", "train.stop_test_acc=1.1")
    engine = Engine([cfg], [sink])
    engine.run()
    sat = sink.summary["saturation_step"]
    assert sat is not None and (sat, "saturation") in sink.checkpoints
    # replay: the saved weights have >= 99% train accuracy and the weights one step before do not
    replay = Engine([cfg], [Memory()])
    for _ in range(sat - 1):
        replay.train_step(check_saturation=False)
    acc_before = replay.evaluate()["train_acc"][0]
    replay.train_step(check_saturation=False)
    acc_at = replay.evaluate()["train_acc"][0]
    assert acc_before < 0.99 <= acc_at
    saved = sink.checkpoints[(sat, "saturation")]
    for name, p in replay.params.items():
        torch.testing.assert_close(p[0].detach(), saved[name])


def test_mse_loss_and_quadratic_activation_train():
    sink = Memory()
    cfg = tiny_mlp("train.loss=mse", "model.act=quadratic", "model.bias=false",
                   "optim.weight_decay=0.0", "optim.lr=1e-2", "train.stop_test_acc=1.1")
    train([cfg], [sink])
    assert sink.rows[-1]["train_loss"] < sink.rows[0]["train_loss"]


def test_dataclass_replace_configs_stack():
    base = tiny_mlp("train.steps=20")
    cfgs = [dataclasses.replace(base, train=dataclasses.replace(base.train, seed=s)) for s in range(4)]
    sinks = [Memory() for _ in cfgs]
    train(cfgs, sinks)
    assert len({s.rows[-1]["train_loss"] for s in sinks}) == 4


def test_chunked_forward_backward_over_models_gives_the_same_training(monkeypatch):
    import grokscope.train.loop as loop

    base = tiny_mlp("train.steps=30", "train.stop_test_acc=1.1")
    cfgs = [base.override([f"train.seed={s}", f"task.data_seed={s}"]) for s in range(5)]
    whole = [Memory() for _ in cfgs]
    train(cfgs, whole)
    monkeypatch.setattr(loop, "MODEL_CHUNK_ELEMENTS", 1)  # one model per chunk
    chunked = [Memory() for _ in cfgs]
    train(cfgs, chunked)
    for w, c in zip(whole, chunked):
        _assert_rows_close(c.rows, w.rows)
        assert w.summary["saturation_step"] == c.summary["saturation_step"]


def test_compiled_loss_trains_like_the_eager_one():
    """train.compile=true (torch.compile of forward + loss) changes speed, not the training."""
    cfg = tiny_mlp("train.steps=60", "train.eval_every=20", "train.stop_test_acc=1.1")
    plain, compiled = Memory(), Memory()
    train([cfg], [plain])
    train([cfg.override(["train.compile=true"])], [compiled])
    _assert_rows_close(compiled.rows, plain.rows, rtol=1e-4)
