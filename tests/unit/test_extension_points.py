"""The engine's extension points: sinks (null, memory, tee), gradient transforms on the K axis,
the optimizer registry, and config fields added later leaving run ids unchanged."""

import dataclasses

import pytest
import torch
from tests.helpers import tiny_mlp

from grokscope.config import RunConfig
from grokscope.train import OPTIMIZERS, TRANSFORMS, MemorySink, NullSink, Tee, train
from grokscope.train.loop import Engine, stack_key


def test_tee_forwards_every_call_to_each_sink_and_null_sink_accepts_all():
    a, b = MemorySink(keep_states=True), MemorySink()
    train([tiny_mlp("train.steps=100")], [Tee(a, b, NullSink())])
    assert a.rows == b.rows and len(a.rows) > 3
    assert a.summary == b.summary and a.summary["steps"] == a.rows[-1]["step"]
    assert a.checkpoints.keys() == b.checkpoints.keys() and (0, "scheduled") in a.checkpoints
    assert a.states and not b.states  # states kept only when asked


def _grokfast_reference(cfg: RunConfig, alpha: float, lamb: float, steps: int) -> dict[str, torch.Tensor]:
    """Grokfast-EMA written from the paper's pseudo-code on top of the engine's own step pieces."""
    engine = Engine([cfg], [NullSink()], dtype=torch.float64)
    ema = None
    for _ in range(steps):
        inputs, y = engine._batch()
        for p in engine.params.values():
            p.grad = None
        engine._loss(engine.params, inputs, y)[0].backward()
        grads = {n: p.grad for n, p in engine.params.items()}
        if ema is None:
            ema = {n: g.clone() for n, g in grads.items()}
        else:
            ema = {n: ema[n] * alpha + grads[n] * (1 - alpha) for n in grads}
        for n, p in engine.params.items():
            p.grad = grads[n] + lamb * ema[n]
        engine.opt.step(engine.params)
        engine.step += 1
    return {n: p.detach()[0] for n, p in engine.params.items()}


def test_grokfast_ema_per_model_in_a_stack_equals_the_reference_alone():
    steps = 40
    base = tiny_mlp(f"train.steps={steps}", "train.stop_test_acc=1.1", f"train.checkpoint_every={steps}")
    cfgs = [base.override(["optim.grokfast_lamb=2", "optim.grokfast_alpha=0.9"]),
            base.override(["train.seed=1"]),  # λ = 0: the transform must leave it untouched
            base.override(["optim.grokfast_lamb=0.5", "optim.grokfast_alpha=0.98", "train.seed=2"])]
    assert len({stack_key(c) for c in cfgs}) == 1  # the knobs are per model
    sinks = [MemorySink() for _ in cfgs]
    train(cfgs, sinks, dtype=torch.float64)
    for cfg, sink in zip(cfgs, sinks):
        ref = _grokfast_reference(cfg, cfg.optim.grokfast_alpha, cfg.optim.grokfast_lamb, steps)
        got = sink.checkpoints[(steps, "final")]
        for n in ref:
            torch.testing.assert_close(got[n], ref[n], rtol=1e-9, atol=1e-12)
    plain = MemorySink()
    train([cfgs[0].override(["optim.grokfast_lamb=0"])], [plain], dtype=torch.float64)
    assert not torch.equal(plain.checkpoints[(steps, "final")]["W_out"], sinks[0].checkpoints[(steps, "final")]["W_out"])


def test_grokfast_state_is_saved_and_resumed_bit_identically():
    from grokscope.train.state import Resume

    cfg = tiny_mlp("train.steps=60", "train.stop_test_acc=1.1", "train.checkpoint_every=30",
                   "train.checkpoint_log_points=0", "optim.grokfast_lamb=2")
    straight = MemorySink(keep_states=True)
    train([cfg], [straight])
    tensors, info = straight.states[30]
    assert any(k.startswith("transform.grokfast_ema.ema.") for k in tensors)
    resumed = MemorySink()
    rows = [r for r in straight.rows if r["step"] <= 30]
    train([cfg], [resumed], resume=[Resume(step=30, tensors=tensors, info=info, history=rows)])
    for n, t in straight.checkpoints[(60, "final")].items():
        assert torch.equal(t, resumed.checkpoints[(60, "final")][n]), n


def test_registries_name_what_the_config_accepts():
    from grokscope.config import CHOICES

    assert set(OPTIMIZERS) == set(CHOICES["optim.name"])
    assert "grokfast_ema" in TRANSFORMS


def test_a_new_config_field_with_a_default_leaves_run_ids_unchanged():
    cfg = tiny_mlp()
    # the id hashes only values that differ from the defaults: simulate a field added later by
    # checking that a default-valued knob contributes nothing
    assert cfg.override(["optim.grokfast_lamb=0"]).run_id == cfg.run_id
    assert cfg.override(["optim.grokfast_lamb=1"]).run_id != cfg.run_id
    assert dataclasses.replace(cfg, preset="other").run_id != cfg.run_id


@pytest.mark.parametrize("assignment, ignored_by, checked_by", [
    ("model.attention_rate=5", "swaroop2026", "nanda2023"),
    ("model.d_embed=0", "nanda2023", "swaroop2026"),
    ("model.input=bogus", "nanda2023", "swaroop2026"),
    ("model.n_layers=3", "swaroop2026", "nanda2023"),
])
def test_validation_checks_only_the_active_familys_fields(assignment, ignored_by, checked_by):
    from grokscope.errors import ConfigError
    from grokscope.presets import load_preset

    load_preset(ignored_by).override([assignment])  # another family's field: ignored
    with pytest.raises(ConfigError, match=assignment.split("=")[0]):
        load_preset(checked_by).override([assignment])


class _RowFile:
    """A sink writing one line per evaluation into a run directory (stands in for a tracker)."""

    def __init__(self, path):
        self.file = path / "extra_rows.jsonl"

    def on_eval(self, row):
        with open(self.file, "a") as f:
            f.write(f"{row['step']}\n")

    def on_checkpoint(self, step, params, kind):
        pass

    def on_state(self, step, tensors, info):
        pass

    def on_finish(self, summary):
        with open(self.file, "a") as f:
            f.write("finished\n")


def _row_file_sinks(cfg, run_dir):
    return [_RowFile(run_dir)]


def test_run_resume_and_sweep_accept_extra_sinks(tmp_path):
    import grokscope
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import parse_spec

    class Stop(Exception):
        pass

    def stop_at_250(row):
        if row["step"] >= 250:
            raise Stop

    cfg = tiny_mlp("train.steps=400", "train.stop_test_acc=1.1")
    first, second = MemorySink(), MemorySink()
    with pytest.raises(Stop):
        grokscope.run(cfg, out=tmp_path, on_row=stop_at_250, sinks=[first])
    run = grokscope.resume(tmp_path / cfg.run_id, sinks=[second])
    # the extra sinks saw what the run directory saw: before the kill, then from the resumed step on
    assert [r["step"] for r in run.rows()] == sorted({r["step"] for r in first.rows + second.rows})
    assert second.summary["steps"] == run.summary["steps"] == 400

    spec = parse_spec({"base": "swaroop2026", "seeds": 2,
                       "set": {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
                               "train": {"steps": 40, "eval_every": 20, "eval_log_points": 0}}}, name="s")
    res = run_sweep(spec, tmp_path / "sweep", workers=0, sinks=_row_file_sinks, index=False)
    assert res.finished == 2
    for run_id in res.run_ids:
        lines = (tmp_path / "sweep" / run_id / "extra_rows.jsonl").read_text().split()
        assert lines == ["0", "20", "40", "finished"]


def test_a_registered_measure_is_a_column_of_the_analysis(tmp_path, monkeypatch):
    import grokscope
    from grokscope.analysis import measures
    from grokscope.analysis.pipeline import analyze_run

    measures.registry()  # every declared measure registered, then a copy of the table to add one to
    monkeypatch.setattr(measures.MEASURES, "_items", dict(measures.MEASURES._items))

    @measures.register("w_out_norm", rank=99)
    def _w_out_norm(ck):
        return {"w_out_norm": float(ck.one["W_out"].norm())}

    run = grokscope.run(tiny_mlp("train.steps=100"), out=tmp_path)
    table = analyze_run(run.path, measures=["w_out_norm"]).table
    expected = [float(run.params(s)["W_out"][0].norm()) for s in run.checkpoint_steps()]
    assert list(table["w_out_norm"]) == pytest.approx(expected)
