"""Damaged files of every kind grokscope writes, refused writes (full disk, read-only directory), and
a NaN in one ensemble member: each reader gives one line naming the file and what to do; what can be
rebuilt is rebuilt (the store from the run directories, metrics.parquet from metrics.jsonl)."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

import grokscope
from grokscope.cli import app
from grokscope.errors import RunDirError
from grokscope.store.db import build_index, query
from grokscope.store.rundir import STATE, RunWriter, load_resume
from grokscope.sweep.runner import run_sweep
from grokscope.sweep.spec import parse_spec
from grokscope.train.loop import train

runner = CliRunner()


def _one_line(r, *needles: str) -> None:
    lines = [line for line in r.output.splitlines() if line.startswith("error:")]  # besides progress lines
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in lines[0], (n, r.output)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run (no report): copied by each test before it damages it."""
    cfg = tiny_mlp("train.steps=100", "train.checkpoint_every=50")
    path = tmp_path_factory.mktemp("pristine") / "runs" / "r"
    train([cfg], [RunWriter.create(path, cfg)])
    return path


@pytest.fixture
def run(finished, tmp_path):
    path = tmp_path / "runs" / "r"
    shutil.copytree(finished, path)
    return path


def _truncate(file: Path, keep: float = 0.5) -> None:
    file.write_bytes(file.read_bytes()[: int(file.stat().st_size * keep)])


def test_corrupt_checkpoint(run):
    ckpt = run / "checkpoints/step_0000100.safetensors"
    _truncate(ckpt)
    with pytest.raises(RunDirError, match="step_0000100.safetensors is corrupt or truncated.*--force"):
        grokscope.load_run(run).params("final")
    _one_line(runner.invoke(app, ["report", str(run), "--no-png"]), "step_0000100.safetensors", "corrupt")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not an object"])
def test_corrupt_summary_json(run, damage):
    file = run / "summary.json"
    {"truncate": lambda: _truncate(file), "garbage": lambda: file.write_bytes(b"\xff\xfe\x00"),
     "not an object": lambda: file.write_text("[1, 2]")}[damage]()
    _one_line(runner.invoke(app, ["report", str(run), "--no-png"]), "summary.json is corrupt", "--force")
    cfg = grokscope.load_run(run).config
    with pytest.raises(RunDirError, match="summary.json is corrupt"):
        grokscope.run(cfg, out=run.parent, name="r")
    _one_line(runner.invoke(app, ["run", "--resume", str(run), "--quiet"]), "summary.json is corrupt")
    df = query("select status, error from runs", run.parent)  # the index still builds and says why
    assert df.status.tolist() == ["corrupt"] and "summary.json is corrupt" in df.error[0]


def test_corrupt_config_json(run):
    _truncate(run / "config.json")
    _one_line(runner.invoke(app, ["report", str(run), "--no-png"]), "config.json is not valid JSON")
    df = query("select run_id, status, error from runs", run.parent)
    assert df.status.tolist() == ["corrupt"] and "config.json" in df.error[0]


def test_corrupt_metrics_parquet_is_rebuilt_from_the_jsonl(run):
    good = pq.read_table(run / "metrics.parquet").to_pylist()
    _truncate(run / "metrics.parquet", 0.3)
    assert grokscope.load_run(run).rows() == good  # read from the JSONL, and the file rebuilt
    assert pq.read_table(run / "metrics.parquet").to_pylist() == good
    _truncate(run / "metrics.parquet", 0.3)
    df = query("select count(*) n from metrics where metric = 'test_acc'", run.parent)  # the store repairs it too
    assert df.n.tolist() == [len(good)] and pq.read_table(run / "metrics.parquet").to_pylist() == good


def test_corrupt_metrics_parquet_without_jsonl_is_one_line(run):
    _truncate(run / "metrics.parquet", 0.3)
    (run / "metrics.jsonl").unlink()
    with pytest.raises(RunDirError, match="metrics.parquet is corrupt.*no metrics.jsonl"):
        grokscope.load_run(run).rows()


def test_metrics_jsonl_with_a_partial_last_line_resumes_identically(tmp_path):
    cfg = tiny_mlp("train.steps=300", "train.stop_test_acc=1.1", "train.checkpoint_every=100")
    train([cfg], [RunWriter.create(tmp_path / "a", cfg)])

    class Stop(Exception):
        pass

    writer = RunWriter.create(tmp_path / "b", cfg)

    def on_eval(row):
        RunWriter.on_eval(writer, row)
        if row["step"] >= 250:
            raise Stop

    writer.on_eval = on_eval
    with pytest.raises(Stop):
        train([cfg], [writer])
    with open(tmp_path / "b/metrics.jsonl", "a") as f:
        f.write('{"step": 260, "train_lo')  # a line cut by a kill
    cfg2, state = load_resume(tmp_path / "b")
    train([cfg2], [RunWriter(tmp_path / "b", cfg2)], resume=[state])
    strip = lambda p: [{k: v for k, v in r.items() if k != "wall_s"} for r in grokscope.load_run(p).rows()]  # noqa: E731
    assert strip(tmp_path / "b") == strip(tmp_path / "a")


def test_corrupt_resume_state_says_what_to_do(run):
    (run / "summary.json").unlink()
    (run / STATE).write_bytes(b"torn")
    with pytest.raises(RunDirError, match="state.safetensors is corrupt or truncated.*--force"):
        load_resume(run)


def test_corrupt_index_is_rebuilt_or_one_line(run):
    build_index(run.parent)
    db = run.parent / "grokscope.duckdb"
    db.write_bytes(b"not a database" * 100)
    r = runner.invoke(app, ["query", "select 1", "--db", str(db)])
    _one_line(r, "grokscope.duckdb is not a readable index", "--root")
    assert query("select status from runs", run.parent).status.tolist() == ["finished"]  # --root rebuilds it
    assert db.read_bytes()[:14] != b"not a database"


def test_corrupt_sweep_json_and_error_json(tmp_path):
    spec = parse_spec({"base": "swaroop2026", "seeds": 2,
                       "set": {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 8},
                               "train": {"steps": 20, "eval_every": 10, "eval_log_points": 0}}}, name="s")
    out = tmp_path / "s"
    res = run_sweep(spec, out, workers=0)
    (out / "sweep.json").write_text('{"name": "s", "n_ru')
    _one_line(runner.invoke(app, ["report", str(out)]), "sweep.json is corrupt", "re-run the sweep")
    a, b = res.run_ids
    _truncate(out / a / "summary.json")  # a re-run redoes this run
    (out / b / "summary.json").unlink()
    (out / b / "error.json").write_text("{")
    df = query("select run_id, status from runs order by run_id", out)
    assert df.status.tolist() == ["corrupt", "corrupt"]
    again = run_sweep(spec, out, workers=0)
    assert (again.skipped, again.finished) == (0, 2)
    assert json.loads((out / "sweep.json").read_text())["n_runs"] == 2
    assert query("select status from runs", out).status.tolist() == ["finished", "finished"]


# ---------------------------------------------------------------- refused writes


class _Refuse:
    """os.replace that fails with `err` once `name` has been replaced `after` times (as a full disk
    or a read-only file system would refuse the next checkpoint)."""

    def __init__(self, name: str, after: int, err: int):
        self.name, self.after, self.err, self.seen = name, after, err, 0
        self.real = os.replace

    def __call__(self, src, dst, *a, **kw):
        if str(dst).endswith(self.name):
            self.seen += 1
            if self.seen > self.after:
                raise OSError(self.err, os.strerror(self.err), str(dst))
        return self.real(src, dst, *a, **kw)


@pytest.mark.parametrize("err", [errno.ENOSPC, pytest.param(errno.EROFS, marks=pytest.mark.slow),
                                 pytest.param(errno.EACCES, marks=pytest.mark.slow)])
def test_a_refused_checkpoint_write_is_one_line_and_the_previous_checkpoint_resumes(tmp_path, monkeypatch, err):
    args = ["--set", "task.p=11", "--set", "task.frac_train=0.6", "--set", "model.d_mlp=32",
            "--set", "train.steps=300", "--set", "train.eval_every=50", "--set", "train.checkpoint_every=100",
            "--set", "train.stop_test_acc=1.1", "--quiet", "--out", str(tmp_path)]
    with monkeypatch.context() as m:
        m.setattr(os, "replace", _Refuse("state.safetensors", 4, err))  # the 5th state write refused
        r = runner.invoke(app, ["run", "--name", "r", *args])
    _one_line(r, "cannot write", "state.safetensors", os.strerror(err), "--resume")
    run = tmp_path / "r"
    assert 0 < load_file(run / STATE)["opt.step_count"].item() < 300  # the previous state is intact
    assert not list((run / "checkpoints").glob(".*.tmp"))  # no temporary file left behind
    ok = runner.invoke(app, ["run", "--resume", str(run), "--quiet"])
    assert ok.exit_code == 0, ok.output
    straight = runner.invoke(app, ["run", "--name", "s", *args])
    assert straight.exit_code == 0
    a, b = (load_file(tmp_path / d / "checkpoints/step_0000300.safetensors") for d in ("r", "s"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_full_disk_mid_sweep_stops_it_in_one_line_and_a_rerun_trains_the_rest(tmp_path, monkeypatch):
    """The 4th summary.json (mid-chunk 2 of 3) is refused with ENOSPC: the sweep stops (no run is
    marked failed, no error.json written), the 3 finished runs are untouched, and the same
    command, once there is space, trains the other 3 exactly once."""
    from tests.faults.kill import tree_hashes
    from tests.faults.test_faults_kill_sweep import SPEC, N, check_store

    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    cmd = ["sweep", str(spec), "--out", str(out), "--workers", "0", "--quiet", "--no-plots"]
    with monkeypatch.context() as m:
        m.setattr(os, "replace", _Refuse("summary.json", 3, errno.ENOSPC))
        r = runner.invoke(app, cmd)
    _one_line(r, "cannot write", "summary.json", os.strerror(errno.ENOSPC), f"3 of {N} runs finished",
              "run the same command again")
    done = {d.name: tree_hashes(d) for d in out.iterdir() if (d / "summary.json").exists()}
    assert len(done) == 3
    assert not list(out.rglob("error.json")) and not list(out.rglob(".*.tmp"))
    assert {d.name for d in out.iterdir() if d.is_dir()} == set(done)  # the refused chunk's partials are gone
    again = runner.invoke(app, cmd)
    assert again.exit_code == 0, again.output
    check_store(out)
    assert all(tree_hashes(out / name) == hashes for name, hashes in done.items())


def test_a_read_only_output_directory_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories; the EROFS/EACCES cases above cover it")
    tmp_path.chmod(0o555)
    try:
        _one_line(runner.invoke(app, ["run", "--out", str(tmp_path / "runs"), "--quiet"]), "cannot write")
    finally:
        tmp_path.chmod(0o755)


# ---------------------------------------------------------------- NaN in an ensemble


def test_a_nan_member_does_not_stop_or_change_the_others(tmp_path):
    base = tiny_mlp("train.steps=200", "train.stop_test_acc=1.1", "train.eval_every=10")
    healthy, other, bad = (base.override([f"optim.lr={lr}"]) for lr in (3e-3, 1e-3, 1e30))
    paths = [tmp_path / n for n in ("h1", "nan", "h2", "other")]
    # float64: a stack of two and a stack of one then agree far below the tolerance (as in test_engine)
    s_bad = train([healthy, bad], [RunWriter.create(paths[0], healthy), RunWriter.create(paths[1], bad)],
                  dtype=torch.float64)
    s_ok = train([healthy, other], [RunWriter.create(paths[2], healthy), RunWriter.create(paths[3], other)],
                 dtype=torch.float64)
    assert s_bad[1]["stop_reason"] == "diverged" and s_bad[0]["stop_reason"] == "max_steps"
    assert s_bad[0]["steps"] == s_ok[0]["steps"] == 200
    rows = lambda p: [{k: v for k, v in r.items() if k != "wall_s"} for r in grokscope.load_run(p).rows()]  # noqa: E731
    a, b = rows(paths[0]), rows(paths[2])
    assert [r["step"] for r in a] == [r["step"] for r in b]
    fa, fb = (load_file(p / "checkpoints/step_0000200.safetensors") for p in (paths[0], paths[2]))
    # the NaN member leaves the stack when it diverges; the healthy one goes on as a stack of one,
    # equal to its run beside a healthy partner up to float64 rounding
    assert all(torch.allclose(fa[k], fb[k], rtol=1e-8, atol=1e-12) for k in fa)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-8, abs=1e-12), (ra["step"], k)
