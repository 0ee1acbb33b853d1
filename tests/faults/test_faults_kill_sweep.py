"""kill -9 of `grokscope sweep` at 6 points, a Ray worker killed mid-chunk, and two sweeps on one
output root: every run present exactly once, the store consistent, finished runs untouched.
Slow tier: about 90 s on 2 cores (the Ray test alone about 25 s: it starts a local Ray)."""

from __future__ import annotations

import errno
import json
import os
import signal
import time
from pathlib import Path

import pytest
from tests.faults.kill import killed, run_child, tree_hashes
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.store.db import build_index, query

pytestmark = pytest.mark.slow
SPEC = """
base = "swaroop2026"
seeds = 3
chunk = 2
[set]
task.p = 11
task.frac_train = 0.6
model.d_mlp = 16
train.steps = 150
train.eval_every = 50
train.patience = 0
train.stop_test_acc = 1.1
[grid]
optim.weight_decay = [0.1, 1.0]
"""
N = 6

POINTS = [  # see tests/faults/kill.py
    ("replace", "sweep.json", 1),              # before the first sweep.json: nothing started
    ("row", "", 100),                          # mid-chunk, first chunk
    ("replaced", "summary.json", 3),           # right after the 3rd run finished (mid-chunk 2)
    ("replace", "summary.json", 4),            # mid-summary of the 4th run
    ("parquet", "", 5),                        # mid-metrics.parquet of the 5th run
    ("replace", "grokscope.duckdb", 1),        # every run done, mid-index
    ("replace", "sweep.json", 2),              # every run done, mid-final sweep.json
]


def check_store(out: Path) -> None:
    runs = [d for d in out.iterdir() if (d / "config.json").exists()]
    assert len(runs) == N and all((d / "summary.json").exists() for d in runs)
    meta = json.loads((out / "sweep.json").read_text())
    assert sorted(meta["run_ids"]) == sorted(d.name for d in runs) and meta["finished"]
    build_index(out)
    df = query("select run_id, status from runs", out)
    assert len(df) == N and df.run_id.is_unique and set(df.status) == {"finished"}
    assert len(query("select run_id, step, metric from metrics group by all having count(*) > 1", out)) == 0
    n_rows = query("select run_id, count(*) n from metrics where metric = 'test_acc' group by 1", out)
    assert len(n_rows) == N and len(set(n_rows.n)) == 1  # every run logged every evaluation once


@pytest.mark.parametrize("kind, target, n", POINTS, ids=[f"{k}-{t or n}-{n}" for k, t, n in POINTS])
def test_kill_9_a_sweep_then_rerun(tmp_path, kind, target, n):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    cmd = ["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"]
    child = run_child(cmd, kind, target, n)
    assert killed(child), (child.returncode, child.stderr[-2000:])
    done = {d.name: tree_hashes(d) for d in out.glob("*") if (d / "summary.json").exists()} if out.exists() else {}
    r = CliRunner().invoke(app, cmd)  # the lock died with the child: the re-run is not refused
    assert r.exit_code == 0, r.output
    check_store(out)
    for name, hashes in done.items():  # finished runs were not touched
        assert tree_hashes(out / name) == hashes, name


def test_two_sweeps_on_one_root_second_refuses(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    cmd = ["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"]
    first = run_child(cmd, "block", "", 50, cwd=tmp_path, wait=False)  # holds the lock mid-training
    try:
        t0 = time.monotonic()
        while not (tmp_path / "started").exists():
            assert first.poll() is None, first.communicate()[1][-2000:]
            assert time.monotonic() - t0 < 120
            time.sleep(0.05)
        before = {d.name: tree_hashes(d) for d in out.iterdir() if d.is_dir()}
        second = CliRunner().invoke(app, cmd)
        assert second.exit_code == 2 and "in use by another sweep process" in second.output
        assert {d.name: tree_hashes(d) for d in out.iterdir() if d.is_dir()} == before  # touched nothing
        (tmp_path / "go").touch()
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err[-2000:]
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
    check_store(out)
    again = CliRunner().invoke(app, cmd)  # now free: nothing left to train
    assert again.exit_code == 0 and f"{N} already done" in again.output


# ---------------------------------------------------------------- Ray


class _DieOnce:
    """A sink that SIGKILLs its Ray worker at step 100 of the first attempt of any chunk (a marker
    file tells the retried attempt apart)."""

    def __init__(self, marker: str):
        self.marker = marker

    def on_eval(self, row):
        if row["step"] >= 100 and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)

    def on_checkpoint(self, *a):
        pass

    def on_state(self, *a):
        pass

    def on_finish(self, summary):
        pass


class _Sinks:
    def __init__(self, marker: str):
        self.marker = marker

    def __call__(self, cfg, run_dir):
        return [_DieOnce(self.marker)]


def test_a_ray_worker_killed_mid_chunk_is_retried(tmp_path):
    pytest.importorskip("ray")
    import sys

    import ray
    import ray.cloudpickle

    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import load_spec

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    marker = tmp_path / "killed-once"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = run_sweep(load_spec(spec), tmp_path / "out", backend="ray", workers=2, sinks=_Sinks(str(marker)))
    finally:
        ray.shutdown()
    assert marker.exists()  # a worker did die mid-chunk
    assert (res.finished, res.failed) == (N, 0)
    check_store(tmp_path / "out")


# ---------------------------------------------------------------- a full disk in a worker process


class _FullDisk(_DieOnce):
    """A sink that, for one run, raises the error of a refused write at step 100 (as RunWriter does
    when the disk is full), inside whichever worker process trains that run."""

    def __init__(self, path: Path):
        self.path = path

    def on_eval(self, row):
        if row["step"] >= 100:
            from grokscope.store.files import write_error

            raise write_error(self.path / "metrics.jsonl", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


class _FullDiskSinks:
    def __init__(self, seed: int):
        self.seed = seed

    def __call__(self, cfg, run_dir):
        return [_FullDisk(run_dir)] if cfg.train.seed == self.seed and cfg.optim.weight_decay == 1.0 else []


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_full_disk_in_a_worker_stops_the_sweep_and_a_rerun_trains_the_rest(tmp_path, backend):
    import sys

    from grokscope.sweep.runner import SweepError, run_sweep
    from grokscope.sweep.spec import load_spec

    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    if backend == "ray":
        pytest.importorskip("ray")
        import ray
        import ray.cloudpickle

        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(SweepError, match=r"cannot write .*metrics.jsonl: No space left on device; the sweep "
                                             r"stopped with \d of 6 runs finished \(kept\)"):
            run_sweep(load_spec(spec), out, backend=backend, workers=2, sinks=_FullDiskSinks(seed=1))
    finally:
        if backend == "ray":
            ray.shutdown()
    assert not list(out.rglob("error.json"))  # no run was blamed for the disk
    done = {d.name: tree_hashes(d) for d in out.iterdir() if (d / "summary.json").exists()}
    res = run_sweep(load_spec(spec), out, workers=0)
    assert (res.skipped, res.finished, res.failed) == (len(done), N, 0)
    check_store(out)
    assert all(tree_hashes(out / name) == hashes for name, hashes in done.items())
