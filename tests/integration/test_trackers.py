"""Experiment-tracker sinks, read back: TensorBoard event files through TensorBoard's own
EventAccumulator, and the offline W&B run's transaction log decoded with W&B's own protobufs.
CI installs both extras, so there a missing package fails instead of skipping."""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

import pytest
from tests.helpers import tiny_mlp
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.errors import GrokscopeError
from grokscope.store.run import load_run
from grokscope.train.trackers import parse_log


def _need(module: str):
    if os.environ.get("CI"):
        return __import__(module)
    return pytest.importorskip(module)


def _tensorboard_scalars(log_dir: Path) -> tuple[dict[str, list[tuple[int, float]]], dict[str, str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    scalars = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    texts = {tag.split("/")[0]: acc.Tensors(tag)[0].tensor_proto.string_val[0].decode() for tag in acc.Tags()["tensors"]}
    return scalars, texts


def _wandb_records(run_dir: Path) -> list:
    """Every record of an offline run's `run-<id>.wandb`: W&B's header (':W&B', magic, version), then
    LevelDB-log framing (32 KiB blocks; records of crc32c(4) length(2) type(1) + data, split across
    blocks as FIRST/MIDDLE/LAST) around protobuf `Record`s."""
    from wandb.proto import wandb_internal_pb2

    (file,) = run_dir.glob("run-*.wandb")
    data = file.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, records, pending = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 2, 3):  # FULL / FIRST / MIDDLE
            pending = chunk if kind in (1, 2) else pending + chunk
            if kind != 1:
                continue
        elif kind == 4:  # LAST
            chunk, pending = pending + chunk, b""
        else:
            continue
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(chunk if kind == 1 else chunk)
        records.append(rec)
    return records


def _wandb_read(run_dir: Path) -> tuple[list[dict], dict, dict]:
    """(history rows, config, summary) of an offline run directory."""
    history, config, summary = [], {}, {}
    for rec in _wandb_records(run_dir):
        which = rec.WhichOneof("record_type")
        if which == "history":
            history.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item})
        elif which == "config":
            config.update({i.key: json.loads(i.value_json) for i in rec.config.update})
        elif which == "summary":
            summary.update({i.key: json.loads(i.value_json) for i in rec.summary.update})
        elif which == "run":
            config.update({i.key: json.loads(i.value_json) for i in rec.run.config.update})
    return history, config, summary


def test_tensorboard_and_wandb_sinks_log_rows_config_and_summary(tmp_path):
    """`grokscope run --log wandb,tensorboard`: every evaluation row, the config and the summary."""
    _need("tensorboard")
    _need("wandb")
    out = tmp_path / "runs"
    cfg = tiny_mlp("train.steps=100")
    sets = ["task.p=11", "task.frac_train=0.6", "model.d_mlp=32", "train.steps=100", "train.eval_every=50",
            "train.checkpoint_every=100", "train.patience=0", "optim.lr=3e-3"]
    args = ["run", "--preset", "swaroop2026", "--out", str(out), "--name", "r", "--quiet", "--log", "wandb,tensorboard"]
    for s in sets:
        args += ["--set", s]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    run_dir = out / "r"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()] \
        if (run_dir / "metrics.jsonl").exists() else None
    if rows is None:
        import pyarrow.parquet as pq

        rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert json.loads((run_dir / "config.json").read_text())["task"]["p"] == cfg.task.p

    scalars, texts = _tensorboard_scalars(run_dir / "tensorboard")
    assert [s for s, _ in scalars["test_acc"]] == [r["step"] for r in rows]
    assert [v for _, v in scalars["train_loss"]] == pytest.approx([r["train_loss"] for r in rows], rel=1e-6)
    assert scalars["summary/steps"][0][1] == summary["steps"]
    assert json.loads(texts["config"].strip("`\n"))["model"]["d_mlp"] == 32
    assert json.loads(texts["summary"].strip("`\n"))["stop_reason"] == summary["stop_reason"]

    (offline,) = (run_dir / "wandb").glob("offline-run-*")  # offline: nothing else was created
    history, config, wb_summary = _wandb_read(offline)
    logged = [h for h in history if "test_acc" in h]
    assert [h["_step"] for h in logged] == [r["step"] for r in rows]
    assert [h["test_loss"] for h in logged] == pytest.approx([r["test_loss"] for r in rows], rel=1e-6)
    cfg_logged = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in config.items()}
    assert cfg_logged["model"]["d_mlp"] == 32 and cfg_logged["task"]["p"] == 11
    assert wb_summary["stop_reason"] == summary["stop_reason"] and wb_summary["steps"] == summary["steps"]


def test_sweep_log_tensorboard_writes_one_event_dir_per_run(tmp_path):
    _need("tensorboard")
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "s"\nbase = "swaroop2026"\n'
        '[set]\n"task.p" = 7\n"model.d_mlp" = 16\n"train.steps" = 40\n"train.eval_every" = 20\n'
        '"train.checkpoint_every" = 40\n"train.patience" = 0\n'
        '[grid]\n"train.seed" = [0, 1]\n'
    )
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "sw"), "--workers", "0", "--quiet",
                                      "--no-plots", "--log", "tensorboard"])
    assert result.exit_code == 0, result.output
    dirs = sorted((tmp_path / "sw").glob("*/tensorboard"))
    assert len(dirs) == 2
    for d in dirs:
        scalars, _ = _tensorboard_scalars(d)
        rows = load_run(d.parent).rows()
        assert [(s, v) for s, v in scalars["test_acc"]] == [(r["step"], pytest.approx(r["test_acc"])) for r in rows]
        assert rows[-1]["step"] == 40


def test_log_names_a_tracker_or_an_uninstalled_extra_in_one_line(tmp_path, monkeypatch):
    with pytest.raises(GrokscopeError, match="'mlflow' is not a tracker; choose from wandb, tensorboard"):
        parse_log("tensorboard,mlflow")
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if the extra were not installed
    with pytest.raises(GrokscopeError, match=r"--log wandb needs the wandb extra: pip install 'grokscope\[wandb\]'"):
        parse_log("wandb")
    result = CliRunner().invoke(app, ["run", "--out", str(tmp_path), "--quiet", "--log", "wandb"])
    assert result.exit_code == 2 and "grokscope[wandb]" in result.output
    assert not any(tmp_path.iterdir())  # refused before anything was written
