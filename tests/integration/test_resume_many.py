"""Killed ensembles continue as ensembles: `api.resume_many` and the reproductions' train_or_reuse."""

import pytest
import torch
from safetensors.torch import load_file
from tests.helpers import tiny_mlp

import grokscope
from grokscope.reproduce.common import train_or_reuse
from grokscope.store.rundir import STATE, RunWriter


class _Kill(Exception):
    pass


def _cfgs():
    base = tiny_mlp("train.steps=400", "train.stop_test_acc=1.1")
    return [base.override([f"train.seed={s}", f"optim.lr={lr}", f"task.noise={a}"])
            for s, lr, a in ((0, 3e-3, 0.0), (1, 1e-3, 0.1), (2, 5e-3, 0.2))]


def _kill_ensemble_at(monkeypatch, step: int, cfgs, paths) -> None:
    real = RunWriter.on_eval

    def on_eval(self, row):
        real(self, row)
        if row["step"] >= step:
            raise _Kill

    with monkeypatch.context() as m:
        m.setattr(RunWriter, "on_eval", on_eval)
        with pytest.raises(_Kill):
            train_or_reuse(cfgs, paths)


def _final(path):
    return load_file(path / "checkpoints/step_0000400.safetensors")


def _same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_train_or_reuse_continues_a_killed_ensemble(tmp_path, monkeypatch):
    cfgs = _cfgs()
    straight = train_or_reuse(cfgs, [tmp_path / "a" / str(i) for i in range(3)])
    paths = [tmp_path / "b" / str(i) for i in range(3)]
    _kill_ensemble_at(monkeypatch, 250, cfgs, paths)
    assert all((p / STATE).exists() and not (p / "summary.json").exists() for p in paths)
    (paths[2] / STATE).write_bytes(b"torn")  # one state is unreadable: that model starts again
    train_or_reuse(cfgs, paths)
    for i, (s, p) in enumerate(zip(straight, paths, strict=True)):
        assert (p / "summary.json").exists()
        if i < 2:  # continued from its state: bit-identical
            assert _same(_final(s), _final(p))
        else:  # trained again alone: a stack of 1 rounds differently from a stack of 3
            a, b = (grokscope.load_run(d).summary for d in (s, p))
            assert b["final_train_acc"] == pytest.approx(a["final_train_acc"], abs=0.02)
            assert b["final_test_acc"] == pytest.approx(a["final_test_acc"], abs=0.05)
        rows = lambda d: [r["step"] for r in grokscope.load_run(d).rows()]  # noqa: E731
        assert rows(p) == rows(s)  # no row lost or duplicated


def test_resume_many_equals_uninterrupted(tmp_path, monkeypatch):
    cfgs = _cfgs()[:2]
    straight = train_or_reuse(cfgs, [tmp_path / "a" / str(i) for i in range(2)])
    paths = [tmp_path / "b" / str(i) for i in range(2)]
    _kill_ensemble_at(monkeypatch, 150, cfgs, paths)
    runs = grokscope.resume_many(paths)
    assert [r.summary["steps"] for r in runs] == [400, 400]
    assert all(_same(_final(s), _final(p)) for s, p in zip(straight, paths, strict=True))
    assert all((p / "report.html").exists() for p in paths)
