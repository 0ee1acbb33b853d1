"""kill -9 in the middle of a stack, then re-run: every model continues from its last saved state
(its rows up to that state are the very rows written before the kill) and the sweep ends
bit-identical to an uninterrupted one — metrics, summaries (wall time aside) and final weights.

Local backend: the sweep process itself is SIGKILLed and the sweep run again. Ray backend: the Ray
worker training the stack is SIGKILLed and Ray's retry of the task continues it (slow tier: it
starts a local Ray). Both on one thread: bit-identity holds for a fixed thread count.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import load_spec
from grokscope.train.sinks import NullSink

# 4 models in one stack; states saved every 100 steps; the kill comes at step 250, after the
# state of step 200 and before that of step 300
SPEC = """
base = "swaroop2026"
seeds = 2
chunk = 4
[set]
task.p = 11
task.frac_train = 0.6
model.d_mlp = 16
train.steps = 300
train.eval_every = 25
train.eval_log_points = 0
train.checkpoint_every = 100
train.checkpoint_log_points = 0
train.patience = 0
train.stop_test_acc = 1.1
[grid]
optim.weight_decay = [0.1, 1.0]
"""
KILL_AT, SAVED_AT, N = 250, 200, 4


class DieOnce(NullSink):
    """Teed after a run directory: at step >= KILL_AT of the first attempt, copy every run's rows
    so far into `marker`'s folder (the evidence of what existed before the kill), then SIGKILL."""

    def __init__(self, marker: str):
        self.marker = marker

    def on_eval(self, row):
        if row["step"] >= KILL_AT and not os.path.exists(self.marker):
            for f in Path(self.sweep).glob("*/metrics.jsonl"):
                shutil.copy(f, Path(self.marker).parent / f"{f.parent.name}.jsonl")
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


class Sinks:
    def __init__(self, marker: str):
        self.marker = marker

    def __call__(self, cfg, run_dir):
        sink = DieOnce(self.marker)
        sink.sweep = str(Path(run_dir).parent)
        return [sink]


CHILD = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[4])
from tests.faults.test_kill_resume_identical import Sinks
from grokscope.sweep.runner import run_sweep
run_sweep(sys.argv[1], sys.argv[2], workers=0, threads=1, index=False, sinks=Sinks(sys.argv[3]))
"""


def _run_ids(out: Path) -> list[str]:
    return sorted(d.name for d in out.iterdir() if (d / "config.json").exists())


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _assert_identical(a: Path, b: Path) -> None:
    ids = _run_ids(a)
    assert ids == _run_ids(b) and len(ids) == N
    for rid in ids:
        strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
        assert strip(_rows(a / rid / "metrics.jsonl")) == strip(_rows(b / rid / "metrics.jsonl")), rid
        sa, sb = (json.loads((d / rid / "summary.json").read_text()) for d in (a, b))
        assert {k: v for k, v in sa.items() if k != "wall_s"} == {k: v for k, v in sb.items() if k != "wall_s"}
        name = "checkpoints/step_0000300.safetensors"
        wa, wb = load_file(str(a / rid / name)), load_file(str(b / rid / name))
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), rid


def _assert_continued(out: Path, evidence: Path) -> None:
    """Rows up to the saved state are the rows written before the kill (wall times included):
    nothing before the state was trained again; rows after it were."""
    for rid in _run_ids(out):
        before = {r["step"]: r for r in _rows(evidence / f"{rid}.jsonl")}
        after = {r["step"]: r for r in _rows(out / rid / "metrics.jsonl")}
        assert max(before) >= SAVED_AT  # the kill came after the state
        assert all(after[s] == before[s] for s in before if s <= SAVED_AT), rid
        assert sorted(after) == sorted(set(after)) and max(after) == 300


def _uninterrupted(tmp_path: Path, spec: Path) -> Path:
    torch.set_num_threads(1)
    run_sweep(load_spec(spec), tmp_path / "clean", workers=0, threads=1, index=False)
    return tmp_path / "clean"


def test_local_sweep_killed_mid_stack_continues_bit_identical(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out, marker = tmp_path / "out", tmp_path / "evidence" / "killed"
    marker.parent.mkdir()
    root = str(Path(__file__).resolve().parents[2])
    child = subprocess.run([sys.executable, "-c", CHILD, str(spec), str(out), str(marker), root],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert marker.exists() and not any((out / r / "summary.json").exists() for r in _run_ids(out))
    torch.set_num_threads(1)
    res = run_sweep(load_spec(spec), out, workers=0, threads=1, index=False)
    assert (res.finished, res.failed) == (N, 0)
    _assert_continued(out, marker.parent)
    _assert_identical(out, _uninterrupted(tmp_path, spec))


@pytest.mark.slow
def test_ray_worker_killed_mid_stack_continues_bit_identical(tmp_path):
    pytest.importorskip("ray")
    import ray
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out, marker = tmp_path / "out", tmp_path / "evidence" / "killed"
    marker.parent.mkdir()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        res = run_sweep(load_spec(spec), out, backend="ray", workers=1, threads=1, index=False,
                        sinks=Sinks(str(marker)))
    finally:
        ray.shutdown()
    assert marker.exists()  # the worker did die mid-stack; Ray's retry finished the sweep
    assert (res.finished, res.failed) == (N, 0)
    _assert_continued(out, marker.parent)
    _assert_identical(out, _uninterrupted(tmp_path, spec))
