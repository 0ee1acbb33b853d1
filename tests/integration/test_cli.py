"""The CLI's small promises: --resume refuses options it would ignore, Ctrl-C messages, choice
options, --version, and the sweep worker's thread setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from contextlib import contextmanager

import pytest
import torch
from typer.testing import CliRunner

import grokscope
from grokscope import cli
from grokscope.cli import app

runner = CliRunner()
TINY = ["--set", "task.p=11", "--set", "model.d_mlp=32", "--set", "train.steps=50", "--set", "train.eval_every=25",
        "--set", "train.checkpoint_every=25", "--set", "train.stop_test_acc=1.1", "--set", "train.patience=0"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lines(result) -> list[str]:
    return [line for line in ANSI.sub("", result.output).splitlines() if line.strip()]


def _interrupt_at(step: int):
    """Stands in for the progress bar: its row callback raises Ctrl-C once training reaches `step`."""

    @contextmanager
    def progress(cfg, quiet, history=None):
        def on_row(row):
            if row["step"] >= step:
                raise KeyboardInterrupt

        yield on_row

    return progress


# 1 + 2: --resume with options it would ignore; Ctrl-C before and after the run directory exists.

@pytest.mark.parametrize("extra, named", [
    (["--set", "train.steps=10"], "--set"),
    (["--preset", "nanda2023"], "--preset"),
    (["--out", "elsewhere"], "--out"),
    (["--name", "other"], "--name"),
    (["--force"], "--force"),
    (["--no-force"], "--no-force"),
    (["--out", "runs", "--set", "a.b=1"], "--set, --out"),  # even the default value, given explicitly
])
def test_resume_refuses_options_it_would_ignore(tmp_path, extra, named):
    result = runner.invoke(app, ["run", "--resume", str(tmp_path), *extra])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith(f"error: {named} cannot be used with --resume"), line


def test_ctrl_c_before_the_run_path_exists_says_interrupted(monkeypatch, tmp_path):
    import grokscope.presets

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grokscope.presets, "load_preset", interrupted)
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 130, result.output
    assert _lines(result) == ["error: interrupted"]
    assert not isinstance(result.exception, NameError)


def test_ctrl_c_mid_run_points_to_resume_which_honours_threads_and_quiet(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_progress", _interrupt_at(30))
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 130, result.output
    (run_dir,) = tmp_path.iterdir()
    assert f"error: interrupted; continue with: grokscope run --resume {run_dir}" in _lines(result)
    assert not (run_dir / "summary.json").exists()

    monkeypatch.undo()
    torch.set_num_threads(2)  # tests/conftest.py restores its own setting after the test
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 1  # --threads applied
    assert grokscope.load_run(run_dir).summary["steps"] == 50


def test_ctrl_c_before_the_first_checkpoint_does_not_offer_resume(monkeypatch, tmp_path):
    import grokscope.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grokscope.api, "run", interrupted)
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY, "--quiet"])
    assert result.exit_code == 130, result.output
    assert _lines(result)[-1] == "error: interrupted"


# 4: choice options are listed in --help and validated by the CLI.

@pytest.mark.parametrize("command, option, bad", [
    ("sweep", "--backend", "slurm"),
    ("analyze", "--measure", "vibes"),
    ("reproduce", "--device", "tpu"),
])
def test_choice_options_are_listed_and_checked(tmp_path, command, option, bad):
    choices = {"--backend": cli.Backend, "--measure": cli.Measure, "--device": cli.Device}[option]
    help_text = ANSI.sub("", runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"}).output)
    assert "|".join(c.value for c in choices) in help_text
    target = {"sweep": str(tmp_path / "spec.toml"), "analyze": str(tmp_path), "reproduce": "swaroop2026"}[command]
    result = runner.invoke(app, [command, target, option, bad])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith(f"error: Invalid value for '{option}': '{bad}' is not one of"), line
    assert all(f"'{c.value}'" in line for c in choices)


def test_cli_choices_are_read_from_the_registries_without_torch():
    from grokscope.analysis.pipeline import MEASURES
    from grokscope.config import CHOICES
    from grokscope.sweep import BACKENDS

    # the measures' declared names are the registered ones, in column order
    assert tuple(m.value for m in cli.Measure) == MEASURES
    assert tuple(d.value for d in cli.Device) == CHOICES["train.device"]
    assert tuple(b.value for b in cli.Backend) == BACKENDS
    code = ("import sys, grokscope.cli; heavy = {'torch', 'numpy'} & set(sys.modules); "
            "assert not heavy, f'--help imports {heavy}'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_reproduction_is_one_line_with_the_choices():
    result = runner.invoke(app, ["reproduce", "nanda2032"])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith("error: unknown reproduction 'nanda2032'; choose one of: swaroop2026,"), line


def test_config_choice_key_is_one_line_with_the_valid_values(tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--set", "train.device=tpu"])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert "train.device" in line and "cpu" in line and "cuda" in line and "'tpu'" in line, line


def test_bad_typed_value_is_one_line(tmp_path):
    result = runner.invoke(app, ["sweep", str(tmp_path / "spec.toml"), "--workers", "abc"])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith("error: Invalid value for '--workers'"), line


# 5: --version.

def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"grokscope {grokscope.__version__}"


# 3: a sweep pool worker really runs with its share of threads.

WORKER_PROBE = textwrap.dedent("""
    import ctypes, multiprocessing as mp, os, sys, threading
    from concurrent.futures import ProcessPoolExecutor

    from grokscope.sweep.worker import init_worker

    def probe():
        import torch
        # A thread torch has not touched sees OpenMP's initial thread count, which is read from
        # OMP_NUM_THREADS once, when torch loads the runtime: it is 1 only if the env var came first.
        omp = ctypes.CDLL(None).omp_get_max_threads
        fresh = []
        t = threading.Thread(target=lambda: fresh.append(omp()))
        t.start(); t.join()
        return torch.get_num_threads(), fresh[0], os.environ.get("OMP_NUM_THREADS")

    if __name__ == "__main__":
        assert "torch" not in sys.modules, "importing the worker module must not import torch"
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=init_worker,
                                 initargs=(None, 1)) as pool:
            print(*pool.submit(probe).result())
""")


def test_pool_worker_thread_setting_takes_effect(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(WORKER_PROBE)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["1", "1", "1"]  # torch threads, OpenMP default, env var


def test_reproduce_passes_seed_and_device(monkeypatch, tmp_path):
    import grokscope.reproduce as rep

    seen = {}
    monkeypatch.setattr(rep, "reproduce", lambda name, **kw: seen.update(name=name, **kw))
    result = CliRunner().invoke(app, ["reproduce", "swaroop2026", "--quick", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["name"] == "swaroop2026" and seen["seed"] == 3 and seen["quick"] and seen["device"] == "cpu"
