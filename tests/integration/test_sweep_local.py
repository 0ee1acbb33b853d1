"""Local sweep backend end to end: store layout, DuckDB index, resume after SIGKILL, failures."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.store.db import build_index, query
from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import expand, parse_spec

TINY_SET = {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
            "train": {"steps": 60, "eval_every": 20, "eval_log_points": 3}, "optim": {"lr": 3e-3}}


def tiny_spec(**kw):
    return parse_spec({"base": "swaroop2026", "set": TINY_SET, "seeds": 2,
                       "grid": {"optim.weight_decay": [0.1, 1.0]}, **kw}, name="tiny")


def _toml(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def test_cli_sweep_end_to_end_writes_runs_index_and_diagrams(tmp_path):
    spec = _toml(tmp_path / "tiny.toml", """
base = "swaroop2026"
seeds = 2
[set]
task.p = 7
model.d_mlp = 16
train.steps = 60
train.eval_every = 20
[grid]
optim.weight_decay = [0.1, 1.0]
task.frac_train = [0.5, 0.7]
""")
    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    n = 8
    runs = [d for d in out.iterdir() if (d / "config.json").exists()]
    assert len(runs) == n and all((d / "summary.json").exists() for d in runs)
    assert all(len(list((d / "checkpoints").glob("*.safetensors"))) == 2 for d in runs)  # sparse: 0 and final
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["n_runs"] == n and sorted(meta["run_ids"]) == sorted(d.name for d in runs) and meta["finished"]
    assert meta["spec"]["grid"] == {"optim.weight_decay": [0.1, 1.0], "task.frac_train": [0.5, 0.7]}
    df = query("select * from runs", out)
    assert len(df) == n and df["run_id"].is_unique and set(df["status"]) == {"finished"}
    assert {"wd", "frac", "width", "lr", "noise", "seed", "task_p", "optim_weight_decay", "model_d_mlp",
            "t_train99", "t_val99", "delta_t", "final_test_acc", "liu_phase", "doshi_phase", "stop_reason",
            "wall_s"} <= set(df.columns)
    assert set(df["liu_phase"]) <= {"comprehension", "grokking", "memorization", "confusion"}
    m = query("select run_id, count(distinct step) s from metrics where metric = 'test_acc' group by 1", out)
    assert len(m) == n and (m["s"] > 3).all()
    for name in ("phase_liu.png", "phase_t_val99.png", "phase_grokked.png"):
        assert (out / name).stat().st_size > 0
    q = CliRunner().invoke(app, ["query", "select count(*) as n from runs", "--root", str(out)])
    assert q.exit_code == 0 and "8" in q.output
    # re-running does nothing new
    again = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"])
    assert again.exit_code == 0 and "8 already done" in again.output


def test_query_errors_are_one_line(tmp_path):
    r = CliRunner().invoke(app, ["query", "select nope from runs", "--root", str(tmp_path)])
    assert r.exit_code == 2 and "query failed" in r.output
    r = CliRunner().invoke(app, ["query", "select 1", "--root", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "not a directory" in r.output


def test_a_diverging_run_and_a_crashing_run_do_not_stop_the_others(tmp_path, monkeypatch):
    import grokscope.lifecycle as lifecycle

    real = lifecycle.Engine

    def flaky(cfgs, sinks, **kw):  # the engine raises for any stack holding wd = 0.5
        if any(c.optim.weight_decay == 0.5 for c in cfgs):
            raise RuntimeError("injected failure")
        return real(cfgs, sinks, **kw)

    monkeypatch.setattr(lifecycle, "Engine", flaky)
    spec = parse_spec({"base": "swaroop2026", "set": TINY_SET, "seeds": 2,
                       "grid": {"optim.weight_decay": [0.1, 0.5, 1.0]}}, name="f")
    nan = parse_spec({"base": "swaroop2026", "set": {**TINY_SET, "optim": {"name": "sgd", "lr": 1e12}}}, name="nan")
    res = run_sweep(spec, tmp_path, workers=0)
    assert (res.finished, res.failed) == (4, 2)
    res_nan = run_sweep(nan, tmp_path, workers=0)
    assert res_nan.diverged == 1
    df = query("select run_id, wd, status, error, stop_reason from runs order by run_id", tmp_path)
    assert len(df) == 7 and df["run_id"].is_unique
    failed = df[df.status == "failed"]
    assert set(failed.wd) == {0.5} and failed.error.str.contains("injected failure").all()
    assert (df[df.status == "diverged"].stop_reason == "diverged").all()
    for run_id in failed.run_id:
        assert json.loads((tmp_path / run_id / "error.json").read_text())["error"] == "RuntimeError"
    # a re-run retries the failed ones (now healthy) and leaves the rest alone
    monkeypatch.setattr(lifecycle, "Engine", real)
    again = run_sweep(spec, tmp_path, workers=0)
    assert (again.skipped, again.finished, again.failed) == (4, 6, 0)
    assert not any((tmp_path / r / "error.json").exists() for r in failed.run_id)


# The child runs the sweep in-process (workers=0) with the engine wrapped so that the second
# chunk SIGKILLs the process once its first run has logged step 100: one chunk (2 runs) finished,
# one chunk half-trained with rows on disk, the rest not started — on every machine.
KILL_CHILD = """
import os, signal, sys
import grokscope.lifecycle as lifecycle
from grokscope.sweep.runner import run_sweep

real, calls = lifecycle.train_stack, []

class Dying:  # teed after the run directory: SIGKILL once the row of step >= 100 is on disk
    def on_eval(self, row):
        if row["step"] >= 100:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_checkpoint(self, *a): pass
    def on_state(self, *a): pass
    def on_finish(self, *a): pass

def train_stack(jobs, sinks=None, **kw):
    calls.append(len(jobs))
    if len(calls) == 2:
        inner = sinks
        sinks = lambda cfg, path: [*(inner(cfg, path) if inner else ()), *([Dying()] if path == jobs[0].path else [])]
    return real(jobs, sinks=sinks, **kw)

lifecycle.train_stack = train_stack
run_sweep(sys.argv[1], sys.argv[2], workers=0, index=False)
"""


@pytest.mark.slow  # the fast tier has tests/faults/test_kill_resume_identical.py (kill mid-stack, bit-identical)
def test_resume_after_sigkill_mid_sweep(tmp_path):
    spec = _toml(tmp_path / "kill.toml", """
base = "swaroop2026"
seeds = 4
chunk = 2
[set]
task.p = 11
task.frac_train = 0.6
model.d_mlp = 32
train.steps = 200
train.eval_every = 50
train.patience = 0
train.stop_test_acc = 1.1
[grid]
optim.weight_decay = [0.1, 1.0]
""")
    out = tmp_path / "sweep"
    n = len(expand(parse_spec(__import__("tomllib").loads(spec.read_text()))))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", KILL_CHILD, str(spec), str(out)], capture_output=True,
                           text=True, timeout=300, env=env)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    finished_mtimes = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/summary.json")}
    partial = [d for d in out.iterdir() if (d / "config.json").exists() and not (d / "summary.json").exists()]
    assert len(finished_mtimes) == 2 and len(partial) == 2 < n  # killed mid-sweep, mid-chunk
    assert all((d / "metrics.jsonl").read_text().count("\n") >= 2 for d in partial)  # rows were written

    cmd = [sys.executable, "-m", "grokscope.cli", "sweep", str(spec), "--out", str(out), "--workers", "0",
           "--quiet", "--no-plots"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0, again.stderr
    runs = [d for d in out.iterdir() if (d / "config.json").exists()]
    assert len(runs) == n and all((d / "summary.json").exists() for d in runs)
    for run_id, mtime in finished_mtimes.items():  # finished runs were not retrained
        assert (out / run_id / "summary.json").stat().st_mtime_ns == mtime
    for d in partial:  # unfinished ones continued from their saved state: one row per evaluated step
        steps = [json.loads(line)["step"] for line in (d / "metrics.jsonl").read_text().splitlines()]
        assert steps == sorted(set(steps))
    build_index(out)
    df = query("select run_id from runs", out)
    assert len(df) == n and df["run_id"].is_unique
    dup = query("select run_id, step, metric, count(*) c from metrics group by all having c > 1", out)
    assert len(dup) == 0
