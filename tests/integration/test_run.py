"""The run directory, resume, and the CLI's handling of bad input."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

import grokscope
from grokscope.cli import app
from grokscope.errors import RunDirError, TrainingDiverged

runner = CliRunner()
TINY = ["--set", "task.p=11", "--set", "task.frac_train=0.6", "--set", "model.d_mlp=32",
        "--set", "train.steps=200", "--set", "train.eval_every=50", "--set", "train.checkpoint_every=50",
        "--set", "train.patience=0"]


def _weights(run_dir: Path, step: int) -> dict:
    return load_file(run_dir / f"checkpoints/step_{step:07d}.safetensors")


def test_run_writes_a_complete_directory(tmp_path):
    cfg = tiny_mlp()
    run = grokscope.run(cfg, out=tmp_path)
    d = run.path
    assert d == tmp_path / cfg.run_id
    for name in ("config.json", "metrics.jsonl", "metrics.parquet", "curves.png", "summary.json", "report.html"):
        assert (d / name).stat().st_size > 0, name
    assert not (d / "checkpoints/state.safetensors").exists()  # removed once finished
    assert grokscope.RunConfig.from_dict(json.loads((d / "config.json").read_text())) == cfg
    summary = run.summary
    assert {"t_train99", "t_val99", "delta_t", "final_test_acc", "stop_reason", "saturation_step"} <= set(summary)
    rows = run.rows()
    assert rows[0]["step"] == 0 and [r["step"] for r in rows] == sorted({r["step"] for r in rows})
    assert {"step", "train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "lr", "wall_s"} <= set(rows[0])
    assert run.checkpoint_steps()[0] == 0 and run.checkpoint_steps()[-1] == summary["steps"]
    logits = run.logits("final")
    assert logits.shape == (11 * 11, 11)


def test_finished_run_is_returned_not_retrained(tmp_path):
    cfg = tiny_mlp("train.steps=50")
    first = grokscope.run(cfg, out=tmp_path)
    mtime = (first.path / "summary.json").stat().st_mtime_ns
    again = grokscope.run(cfg, out=tmp_path)
    assert (again.path / "summary.json").stat().st_mtime_ns == mtime


class _Kill(Exception):
    pass


def test_interrupt_and_resume_gives_bit_identical_weights(tmp_path):
    cfg = tiny_mlp("train.steps=400", "train.stop_test_acc=1.1", "train.batch_size=24")
    straight = grokscope.run(cfg, out=tmp_path / "a")

    def kill_at_250(row):
        if row["step"] >= 250:
            raise _Kill

    with pytest.raises(_Kill):
        grokscope.run(cfg, out=tmp_path / "b", on_row=kill_at_250)
    broken = tmp_path / "b" / cfg.run_id
    assert not (broken / "summary.json").exists()
    with pytest.raises(RunDirError, match="unfinished run"):
        grokscope.run(cfg, out=tmp_path / "b")
    resumed = grokscope.resume(broken)
    final = straight.summary["steps"]
    assert resumed.summary["steps"] == final
    a, b = _weights(straight.path, final), _weights(resumed.path, final)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
    assert strip(resumed.rows()) == strip(straight.rows())  # no row lost or duplicated


# The child SIGKILLs itself from its row callback once step >= 500, between two saved states
# (checkpoint_every=200): no polling, no deadline, the same kill point on every machine.
# The child trains with one thread, as this process does (conftest): bit-identity holds for the
# same thread count; MKL may split a reduction differently across threads (seen with
# MKL_CBWR=COMPATIBLE, where 2 threads and 1 thread differ in the last bits).
KILL_CHILD = """
import os, signal, sys
import torch
import grokscope
from grokscope.presets import load_preset

torch.set_num_threads(1)

def die(row):
    if row["step"] >= 500:
        os.kill(os.getpid(), signal.SIGKILL)

cfg = load_preset("swaroop2026").override(sys.argv[2:])
grokscope.run(cfg, out=sys.argv[1], on_row=die)
"""


def test_kill_9_then_cli_resume_matches_uninterrupted(tmp_path):
    # --threads 1 as the child: the CLI's own choice is every free core (2 on an idle 2-core machine),
    # and MKL_CBWR=COMPATIBLE splits a reduction differently over 2 threads than over 1
    args = [*TINY, "--set", "train.steps=800", "--set", "train.stop_test_acc=1.1",
            "--set", "train.checkpoint_every=200", "--quiet", "--threads", "1"]
    sets = [a for a in args if a.startswith(("task.", "model.", "train.", "optim."))]
    child = subprocess.run([sys.executable, "-c", KILL_CHILD, str(tmp_path / "k"), *sets],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    (run_dir,) = (tmp_path / "k").iterdir()
    assert not (run_dir / "summary.json").exists()
    assert 0 < load_file(run_dir / "checkpoints/state.safetensors")["opt.step_count"].item() < 500  # resumes mid-run
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--quiet", "--threads", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "s"), *args])
    assert result.exit_code == 0, result.output
    straight = tmp_path / "s" / run_dir.name
    a, b = _weights(straight, 800), _weights(run_dir, 800)
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--set", "task.op=pow"], "unknown op 'pow'"),
        (["--set", "train.stepz=3"], "unknown config key"),
        (["--set", "train.steps=many"], "train.steps must be int"),
        (["--set", "task.p=2"], "task.p must be >= 3"),
        (["--set", "task.op=div", "--set", "task.p=21"], "must be prime"),
        (["--set", "task.frac_train=1.5"], "frac_train must be in (0, 1)"),
        (["--set", "task.noise=1"], "noise must be in [0, 1)"),
        (["--set", "model.d_mlp=0"], "must be > 0"),
        (["--set", "model.d_mlp=-4"], "must be > 0"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # nothing started


def test_cli_refuses_a_directory_holding_a_different_run(tmp_path):
    ok = runner.invoke(app, ["run", "--out", str(tmp_path), "--name", "mine", *TINY, "--quiet"])
    assert ok.exit_code == 0, ok.output
    before = (tmp_path / "mine/summary.json").read_bytes()
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--name", "mine", *TINY,
                                 "--set", "optim.lr=0.01", "--quiet"])
    assert result.exit_code == 2 and "holds a different run" in result.output
    assert (tmp_path / "mine/summary.json").read_bytes() == before  # finished work untouched


def test_cli_resume_of_a_corrupt_checkpoint_is_exit_2(tmp_path):
    cfg = tiny_mlp("train.steps=400", "train.stop_test_acc=1.1")

    def stop(row):
        if row["step"] >= 250:
            raise _Kill

    with pytest.raises(_Kill):
        grokscope.run(cfg, out=tmp_path, on_row=stop)
    state = tmp_path / cfg.run_id / "checkpoints/state.safetensors"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])  # truncated
    result = runner.invoke(app, ["run", "--resume", str(state.parent.parent), "--quiet"])
    assert result.exit_code == 2 and "corrupt or truncated" in result.output


def test_cli_resume_of_a_missing_directory_is_exit_2(tmp_path):
    result = runner.invoke(app, ["run", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_cli_threads(tmp_path):
    bad = runner.invoke(app, ["run", "--threads", "-1", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "--threads must be >= 0" in bad.output and not any(tmp_path.iterdir())
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # the option must change it
        ok = runner.invoke(app, ["run", *TINY, "--threads", "1", "--quiet", "--out", str(tmp_path)])
        assert ok.exit_code == 0, ok.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_nan_loss_stops_with_a_message_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_mlp("optim.name=sgd", "optim.lr=1e12", "optim.weight_decay=0.0",
                   "train.eval_every=1", "train.checkpoint_every=1")
    with pytest.raises(TrainingDiverged, match="NaN/inf"):
        grokscope.run(cfg, out=tmp_path)
    run = grokscope.load_run(tmp_path / cfg.run_id)
    assert run.summary["stop_reason"] == "diverged"
    last = run.params("final")
    assert all(torch.isfinite(t).all() for t in last.values())


def test_cli_run_prints_summary_and_presets_lists(tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    assert "t_val99" in result.output
    listing = runner.invoke(app, ["presets"])
    assert listing.exit_code == 0 and "swaroop2026" in listing.output and "nanda2023" in listing.output
