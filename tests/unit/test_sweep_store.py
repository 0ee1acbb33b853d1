"""The DuckDB index and the phase diagrams, on hand-made run directories (no training)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grokscope.presets import load_preset
from grokscope.report.phase import label_runs, phase_diagrams, summary_rows
from grokscope.store.db import build_index, ensure_index, find_runs, query


def _run(root, wd, seed, curve, noise=0.0, status="finished"):
    """A run directory whose test/train accuracy follow `curve`: [(step, train_acc, test_acc)]."""
    cfg = load_preset("pair2023").override([f"optim.weight_decay={wd}", f"train.seed={seed}", f"task.noise={noise}"])
    d = root / cfg.run_id
    d.mkdir(parents=True)
    (d / "config.json").write_text(cfg.to_json())
    rows = [{"step": s, "train_acc": tr, "test_acc": te, "train_loss": 1.0, "test_loss": 1.0} for s, tr, te in curve]
    if status == "finished":
        pq.write_table(pa.Table.from_pylist(rows), d / "metrics.parquet")
        tv = next((s for s, _, te in curve if te >= 0.99), None)
        (d / "summary.json").write_text(json.dumps({
            "run_id": cfg.run_id, "t_val99": tv, "t_train99": next((s for s, tr, _ in curve if tr >= 0.99), None),
            "final_train_acc": curve[-1][1], "final_test_acc": curve[-1][2], "stop_reason": "max_steps",
            "steps": curve[-1][0], "wall_s": 1.0}))
    elif status == "failed":
        (d / "error.json").write_text(json.dumps({"error": "RuntimeError", "message": "boom"}))
    return cfg.run_id


COMPREHENSION = [(0, 0.0, 0.0), (500, 1.0, 1.0), (3000, 1.0, 1.0)]
GROKKING = [(0, 0.0, 0.0), (500, 1.0, 0.1), (2000, 1.0, 1.0)]
MEMORIZATION = [(0, 0.0, 0.0), (500, 1.0, 0.1), (3000, 1.0, 0.2)]
CONFUSION = [(0, 0.0, 0.0), (3000, 0.5, 0.1)]


@pytest.fixture
def root(tmp_path):
    (tmp_path / "sweep.json").write_text("{}")
    for seed in (0, 1):
        _run(tmp_path, 0.1, seed, COMPREHENSION)
        _run(tmp_path, 1.0, seed, GROKKING if seed else MEMORIZATION)
        _run(tmp_path, 3.0, seed, CONFUSION)
    _run(tmp_path, 0.3, 0, [], status="failed")
    _run(tmp_path, 0.3, 1, [], status="unfinished")
    return tmp_path


def test_index_has_config_columns_aliases_events_and_labels(root):
    df = query("select * from runs order by wd, seed", root)
    assert len(df) == 8 and df.run_id.is_unique
    assert set(df.status) == {"finished", "failed", "unfinished"}
    assert (df.wd == df.optim_weight_decay).all() and (df.width == 24).all() and (df.p == 67).all()
    labels = dict(zip(zip(df.wd, df.seed), df.liu_phase))
    assert labels[(0.1, 0)] == "comprehension" and labels[(1.0, 1)] == "grokking"
    assert labels[(1.0, 0)] == "memorization" and labels[(3.0, 0)] == "confusion"
    assert df[df.status == "failed"].error.iloc[0] == "RuntimeError: boom"
    assert df[df.status != "finished"].liu_phase.isna().all()
    m = query("select metric, count(*) n from metrics group by 1 order by 1", root)
    assert dict(zip(m.metric, m.n))["test_acc"] == 2 * (3 + 3 + 2)


def test_index_is_rebuilt_only_when_runs_change(root):
    db = build_index(root)
    mtime = db.stat().st_mtime_ns
    assert ensure_index(root).stat().st_mtime_ns == mtime
    _run(root, 0.03, 0, COMPREHENSION)
    ensure_index(root)
    assert db.stat().st_mtime_ns != mtime
    assert query("select count(*) n from runs", db=db).n[0] == 9


def test_nested_sweeps_are_indexed_with_their_name(tmp_path):
    sweep = tmp_path / "mysweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    _run(sweep, 0.1, 0, COMPREHENSION)
    _run(tmp_path, 0.1, 1, COMPREHENSION)
    assert sorted(s for _, s in find_runs(tmp_path)) == ["", "mysweep"]


def test_labels_follow_threshold_and_delay_and_doshi_needs_noise(root, tmp_path):
    db = build_index(root)
    strict = label_runs(db, threshold=0.9, delay=3000)
    assert set(strict[strict.wd == 1.0].liu_phase) == {"memorization", "comprehension"}
    noisy = tmp_path / "noisy"
    _run(noisy, 1.0, 0, [(0, 0.0, 0.0), (1000, 0.72, 0.95)], noise=0.3)
    df = label_runs(build_index(noisy))
    assert df.doshi_phase.iloc[0] == "full_inversion"  # train 0.72 < 1.05 - 0.3
    paths = phase_diagrams(df, "optim_weight_decay", "task_noise", noisy)
    assert {p.name for p in paths} >= {"phase_liu.png", "phase_doshi.png"}


def test_phase_diagrams_and_summary(root, tmp_path):
    df = label_runs(build_index(root))
    paths = phase_diagrams(df, "optim_weight_decay", "train_seed", tmp_path / "fig", facet="model_d_mlp")
    assert sorted(p.name for p in paths) == ["phase_grokked.png", "phase_liu.png", "phase_t_val99.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    header, rows = summary_rows(df, None)
    assert header[2:6] == ["comprehension", "grokking", "memorization", "confusion"]
    assert rows == [["all", "6", "2", "1", "1", "2", "0.50", "500"]]  # median of 500, 500, 2000
