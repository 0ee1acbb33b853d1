"""Dense-input tasks through the CLI: a run trains, is summarised and gets its report; bad
pairings and measures that do not apply are one line and exit 2, with nothing written."""

import torch
from typer.testing import CliRunner

import grokscope
from grokscope.cli import app

runner = CliRunner()
PARITY = ["--set", "task.name=parity", "--set", "model.arch=dense", "--set", "task.n_bits=8", "--set", "task.k=2",
          "--set", "task.n_train=64", "--set", "task.n_test=64", "--set", "model.d_mlp=16",
          "--set", "train.steps=100", "--set", "train.eval_every=20", "--set", "train.checkpoint_every=50",
          "--threads", "1", "--quiet"]


def _error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_parity_run_trains_and_writes_its_report(tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *PARITY])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    run = grokscope.load_run(run_dir)
    assert run.config.task.name == "parity" and run.summary["steps"] > 0
    html = (run_dir / "report.html").read_text()
    assert "dense inputs" in html  # says why the Fourier panels are absent
    logits = run.logits("final")
    assert logits.shape == (128, 2)
    m = run.model("final")  # a plain nn.Module on the task's own inputs
    x = torch.from_numpy(run.task().x)
    torch.testing.assert_close(m(x), logits)
    out, cache = m.run_with_cache(x, names=["mlp.hook_post"])
    torch.testing.assert_close(out, logits)
    assert cache["mlp.hook_post"].shape == (128, 16)


def test_a_family_that_cannot_take_the_task_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--set", "task.name=digits", "--quiet"])
    assert result.exit_code == 2
    assert _error_line(result).startswith("error: model.arch 'mlp' takes pairs inputs but task 'digits' yields dense")
    assert not any(tmp_path.iterdir())


def test_a_measure_that_does_not_apply_to_the_task_is_one_line_and_exit_2(tmp_path):
    assert runner.invoke(app, ["run", "--out", str(tmp_path), *PARITY]).exit_code == 0
    (run_dir,) = tmp_path.iterdir()
    result = runner.invoke(app, ["analyze", str(run_dir), "--measure", "progress"])
    assert result.exit_code == 2
    assert "measure 'progress' applies to task modular, not to this run's task 'parity'" in _error_line(result)
    assert not (run_dir / "analysis.parquet").exists()


def test_tasks_lists_the_registry():
    result = runner.invoke(app, ["tasks"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("modular", "parity", "digits", "teacher"):
        assert name in result.output
