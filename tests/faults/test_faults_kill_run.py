"""kill -9 of `grokscope run` at 13 points (mid-step, mid-checkpoint, mid-state, mid-summary,
mid-report, ...), then the recovery the CLI tells the user: bit-identical final weights and metric
rows to an uninterrupted run. Slow tier: about 85 s on 2 cores."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file
from tests.faults.kill import killed, run_child
from typer.testing import CliRunner

from grokscope.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
SETS = ["task.p=11", "task.frac_train=0.6", "model.d_mlp=32", "train.steps=400", "train.eval_every=50",
        "train.checkpoint_every=100", "train.stop_test_acc=1.1", "train.batch_size=24", "train.patience=0"]
ARGS = [a for s in SETS for a in ("--set", s)] + ["--quiet", "--threads", "1"]
FINAL = "checkpoints/step_0000400.safetensors"

POINTS = [  # (kind, target, n): see tests/faults/kill.py
    ("row", "", 0),                                   # the first evaluation, before any state
    ("row", "", 150),                                 # mid-training, between two saved states
    ("torn_row", "", 250),                            # half a metrics.jsonl line
    ("save", "step_0000200.safetensors", 1),          # mid-checkpoint write
    ("replace", "step_0000300.safetensors", 1),       # checkpoint written, not yet in place
    ("save", "state.safetensors", 3),                 # mid-resume-state write
    ("replace", "state.safetensors", 5),              # state written, not yet in place
    ("replaced", "state.safetensors", 2),             # just after a state landed
    ("parquet", "", 1),                               # mid-metrics.parquet write (at the end)
    ("replace", "summary.json", 1),                   # mid-summary: written, not yet in place
    ("replaced", "summary.json", 1),                  # summary in place, resume state not yet removed
    ("call", "grokscope.api:write_curves", 1),        # finished, before curves.png
    ("replace", "report.html", 1),                    # mid-report
]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    r = runner.invoke(app, ["run", "--out", str(out), "--name", "r", *ARGS])
    assert r.exit_code == 0, r.output
    return out / "r"


def _rows(path):
    return [{k: v for k, v in json.loads(line).items() if k != "wall_s"}
            for line in (path / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("kind, target, n", POINTS, ids=[f"{k}-{t or n}" for k, t, n in POINTS])
def test_kill_9_then_recover_equals_uninterrupted(tmp_path, straight, kind, target, n):
    run = tmp_path / "r"
    child = run_child(["run", "--out", str(tmp_path), "--name", "r", *ARGS], kind, target, n)
    assert killed(child), (child.returncode, child.stderr[-2000:])
    if (run / "summary.json").exists():  # it had finished: nothing to resume, the report can be redrawn
        r = runner.invoke(app, ["run", "--resume", str(run)])
        assert r.exit_code == 2 and "already finished" in r.output
        assert runner.invoke(app, ["report", str(run), "--no-png"]).exit_code == 0
    elif (run / "checkpoints/state.safetensors").exists():  # what the Ctrl-C message says to do
        r = runner.invoke(app, ["run", "--resume", str(run), "--quiet"])
        assert r.exit_code == 0, r.output
    else:  # killed before the first state: `run` refuses the unfinished directory and names --force
        r = runner.invoke(app, ["run", "--out", str(tmp_path), "--name", "r", *ARGS])
        assert r.exit_code == 2 and "--force" in r.output
        r = runner.invoke(app, ["run", "--out", str(tmp_path), "--name", "r", "--force", *ARGS])
        assert r.exit_code == 0, r.output
    a, b = load_file(straight / FINAL), load_file(run / FINAL)
    assert set(a) == set(b) and all((a[k] == b[k]).all() for k in a), "final weights differ"
    assert _rows(run) == _rows(straight)
    import pyarrow.parquet as pq

    strip = lambda t: [{k: v for k, v in r.items() if k != "wall_s"} for r in t]  # noqa: E731
    assert strip(pq.read_table(run / "metrics.parquet").to_pylist()) == _rows(straight)
