"""`grokscope run --init-from RUN[:step]` and `grokscope.run(cfg, init_from=...)`: start from another
run's checkpoint, record where from (init.json), refuse bad sources in one line before writing; and
the nesting of splits that makes "continue on a smaller training set" a subset of the old one."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

import grokscope
from grokscope.cli import app
from grokscope.errors import ConfigError, RunDirError
from grokscope.store.init_from import INIT, parse_spec
from grokscope.tasks import make_split, make_task

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TINY = ["--set", "task.p=11", "--set", "task.frac_train=0.6", "--set", "model.d_mlp=32",
        "--set", "train.steps=100", "--set", "train.eval_every=50", "--set", "train.checkpoint_every=50",
        "--set", "train.patience=0", "--threads", "1", "--quiet"]


def _lines(result) -> list[str]:
    return [line for line in ANSI.sub("", result.output).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished tiny run (checkpoints at steps 0, 50, 100)."""
    out = tmp_path_factory.mktemp("src")
    result = runner.invoke(app, ["run", "--out", str(out), "--name", "src", *TINY])
    assert result.exit_code == 0, result.output
    return out / "src"


# --- the splits nest: the same data_seed with a smaller frac_train trains on a subset

@pytest.mark.parametrize("split", ["random", "stratified"])
def test_a_smaller_frac_train_with_the_same_data_seed_is_a_subset(split):
    big_cfg = tiny_mlp(f"task.split={split}", "task.p=23", "task.frac_train=0.6", "task.data_seed=5").task
    task = make_task(big_cfg)
    big = make_split(big_cfg, task)
    for frac in (0.5, 0.3, 0.1):
        small = make_split(big_cfg.__class__(**{**big_cfg.__dict__, "frac_train": frac}), task)
        assert len(small.train_idx) < len(big.train_idx)
        assert np.isin(small.train_idx, big.train_idx).all(), frac  # continue on a subset of what it saw
        # its test set: the old test set plus the training pairs it no longer sees
        assert np.isin(big.test_idx, small.test_idx).all()
        assert set(small.test_idx) == set(big.test_idx) | (set(big.train_idx) - set(small.train_idx))
    # control: another data_seed is not nested (the check above can fail)
    other = make_split(big_cfg.__class__(**{**big_cfg.__dict__, "frac_train": 0.3, "data_seed": 6}), task)
    assert not np.isin(other.train_idx, big.train_idx).all()


# --- the CLI

def test_init_from_continues_the_source_weights_and_records_them(source, tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--init-from", f"{source}:50",
                                 "--set", "task.frac_train=0.4", "--set", "train.steps=50", "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert "-init-" in run_dir.name
    info = json.loads((run_dir / INIT).read_text())
    assert info["source"] == str(source) and info["step"] == 50 and info["asked"] == "50"
    assert info["source_run_id"] == grokscope.load_run(source).config.run_id
    assert info["weights_hash"] in run_dir.name
    # without --preset the config is the source's, with --set on top
    cfg = grokscope.load_run(run_dir).config
    assert cfg.task.frac_train == 0.4 and cfg.train.steps == 50
    assert cfg.override(["task.frac_train=0.6", "train.steps=100"]) == grokscope.load_run(source).config
    # step 0 of the new run is the source's step-50 checkpoint, bit for bit
    start, src = load_file(run_dir / "checkpoints/step_0000000.safetensors"), load_file(
        source / "checkpoints/step_0000050.safetensors")
    assert start.keys() == src.keys() and all(torch.equal(start[k], src[k]) for k in src)
    out = ANSI.sub("", result.stdout)
    assert "initialised from" in out and f"{source} step 50" in out


def test_init_from_default_step_is_final(source, tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--init-from", str(source),
                                 "--set", "train.steps=1", "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    assert json.loads((run_dir / INIT).read_text())["step"] == 100


@pytest.mark.parametrize("spec, message", [
    ("{tmp}/nope", "error: --init-from {tmp}/nope: no such run directory"),
    ("{tmp}", "error: {tmp} is not a run directory (no config.json)"),
    ("{src}:77", "error: {src} has no checkpoint at step 77"),
    ("{src}:saturation", "error: {src} has no saturation checkpoint"),
    ("{src}:soon", "error: --init-from {src}:soon: the step after ':' must be an int or one of final, saturation, first"),
    ("{src}:-1", "error: --init-from {src}:-1: the step must be >= 0"),
])
def test_bad_source_is_one_line_and_writes_nothing(source, tmp_path, spec, message):
    out = tmp_path / "out"
    spec = spec.format(tmp=tmp_path, src=source)
    result = runner.invoke(app, ["run", "--out", str(out), "--init-from", spec, "--threads", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith(message.format(tmp=tmp_path, src=source)), line
    assert not out.exists()


@pytest.mark.parametrize("extra", [["--set", "model.d_mlp=16"], ["--preset", "swaroop2026"]])
def test_a_shape_mismatch_is_one_line_and_writes_nothing(source, tmp_path, extra):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--out", str(out), "--init-from", str(source), *extra, "--threads", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    (line,) = _lines(result)
    assert line.startswith(f"error: the weights of {source} (step 100): W_a has shape (11, 32); this config needs"), line
    assert not out.exists()


def test_init_from_with_resume_is_refused(source):
    result = runner.invoke(app, ["run", "--resume", str(source), "--init-from", str(source)])
    assert result.exit_code == 2
    (line,) = _lines(result)
    assert line.startswith("error: --init-from cannot be used with --resume"), line


# --- the Python API and the spec parser

def test_api_init_from_equals_init_with_the_same_weights(source, tmp_path):
    cfg = grokscope.load_run(source).config.override(["task.frac_train=0.4", "train.steps=50"])
    a = grokscope.run(cfg, out=tmp_path, init_from=f"{source}:final")
    b = grokscope.run(cfg, out=tmp_path / "b", init=grokscope.load_run(source).params("final"))
    assert a.path.name == b.path.name  # the same weights, the same default name
    assert json.loads((a.path / INIT).read_text())["step"] == 100
    assert not (b.path / INIT).exists()  # plain weights: no provenance to record
    assert [r["test_acc"] for r in a.rows()] == [r["test_acc"] for r in b.rows()]
    with pytest.raises(ConfigError, match="not both"):
        grokscope.run(cfg, out=tmp_path, init_from=str(source), init=grokscope.load_run(source).params())
    with pytest.raises(RunDirError, match="no checkpoint at step 77"):
        grokscope.run(cfg, out=tmp_path / "c", init_from=f"{source}:77")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("spec, path, step", [
    ("runs/a", "runs/a", "final"), ("runs/a:first", "runs/a", "first"), ("runs/a:1200", "runs/a", 1200),
    ("C:/runs/a", "C:/runs/a", "final"), ("runs:x/a", "runs:x/a", "final"),
])
def test_parse_spec(spec, path, step):
    got = parse_spec(spec)
    assert (str(got[0]), got[1]) == (path, step)
