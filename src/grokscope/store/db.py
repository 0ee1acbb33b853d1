"""The DuckDB index of a directory of runs: `grokscope.duckdb`, rebuilt from the run directories.

The run directories are the source of truth; the index is derived, so it is rebuilt (not
appended to) by a single writer under a file lock, into a temporary file that atomically replaces
the old one. Writers of runs never touch it, so concurrent training cannot corrupt it, and readers
keep seeing the old file until the new one is in place. `ensure_index` rebuilds only when some
run directory changed (a fingerprint of config/summary/error mtimes is stored in `_index`).

What is indexed under a root:
  <root>/<run>/config.json                 a run (sweep = '' or the root's name if it is a sweep)
  <root>/<sweep>/sweep.json + <sweep>/<run>/   runs of a sweep (sweep = <sweep>)
  <root>/sweep.json                         the root is itself a sweep directory

Tables:
  runs     one row per run: run_id, sweep, path, status (finished | diverged | failed | unfinished),
           error; every config field flattened as <section>_<key> (task_p, optim_weight_decay,
           model_d_mlp, train_seed, ...; preset); short aliases p, op, wd, lr, frac, width, noise,
           seed, data_seed; summary.json's events and final values (t_train99, t_val99, delta_t,
           grokked, final_train_acc, final_test_acc, best_test_acc, stop_reason, steps, wall_s,
           saturation_step, ...); t_train90, t_val90; liu_phase, and doshi_phase (labels from
           `grokscope.events`; Liu: 90% and a 10³-step delay, Doshi: 90% and ξ = task_noise).
  metrics  long format: run_id, step, metric, value (DOUBLE) — every column of every finished
           run's metrics.parquet. Pivot with DuckDB's PIVOT or filter on metric.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from grokscope.errors import GrokscopeError
from grokscope.events import DOSHI_THRESHOLD, LIU_DELAY, LIU_THRESHOLD, doshi_phase, liu_phase_from_events
from grokscope.keys import COLUMN_SEP, column, flatten
from grokscope.store.files import atomic_write
from grokscope.store.names import CONFIG, DB_NAME, ERROR, METRICS_PARQUET, SUMMARY, SWEEP

log = logging.getLogger(__name__)

ALIASES = {alias: column(key) for alias, key in {
    "p": "task.p", "op": "task.op", "wd": "optim.weight_decay", "lr": "optim.lr", "frac": "task.frac_train",
    "width": "model.d_mlp", "noise": "task.noise", "seed": "train.seed", "data_seed": "task.data_seed"}.items()}


# `query` reads the index and nothing else: the database is attached read-only (no CREATE, INSERT,
# CHECKPOINT writes), and external access is off (no COPY TO, EXPORT DATABASE, read_csv / read_parquet /
# read_text / glob of any file, ATTACH, http(s) URLs), no extension may be installed or loaded, and the
# configuration is locked so SQL cannot SET any of it back (tests/faults/test_query_sandbox.py).
SANDBOX = {"enable_external_access": False, "autoinstall_known_extensions": False,
           "autoload_known_extensions": False, "allow_community_extensions": False,
           "allow_unsigned_extensions": False, "lock_configuration": True}


class StoreError(GrokscopeError):
    """The index cannot be built or queried."""


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise StoreError("the run index needs duckdb: pip install duckdb") from None
    return duckdb


def find_runs(root: str | Path) -> list[tuple[Path, str]]:
    """(run directory, sweep name) of every run under root (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise StoreError(f"{root} is not a directory")
    out: list[tuple[Path, str]] = []
    if (root / CONFIG).exists():  # a single run directory
        return [(root, "")]
    own = root.name if (root / SWEEP).exists() else ""
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        if (child / CONFIG).exists():
            out.append((child, own))
        elif (child / SWEEP).exists():
            out += [(d, child.name) for d in sorted(child.iterdir()) if (d / CONFIG).exists()]
    return out


def _fingerprint(runs: list[tuple[Path, str]]) -> str:
    h = hashlib.sha256()
    for path, sweep in runs:
        h.update(f"{path}|{sweep}".encode())
        for name in (CONFIG, SUMMARY, ERROR):
            try:
                h.update(str((path / name).stat().st_mtime_ns).encode())
            except FileNotFoundError:
                h.update(b"-")
    return h.hexdigest()




REDO = "delete it and train the run again (grokscope run --force, or re-run the sweep)"


def _json(file: Path) -> Any:
    """A JSON object from a run directory, or a one-line reason why it is unreadable."""
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        return _Corrupt(f"{file} is corrupt ({getattr(e, 'msg', type(e).__name__)}); {REDO}")
    return data if isinstance(data, dict) else _Corrupt(f"{file} is corrupt (not a JSON object); {REDO}")


class _Corrupt(str):
    """The message for an unreadable file: the run is indexed with status 'corrupt' and this error."""


def _run_record(path: Path, sweep: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"run_id": None, "sweep": sweep, "path": str(path.resolve())}
    cfg = _json(path / CONFIG)
    if isinstance(cfg, _Corrupt):  # still listed, so a query shows it and says what to do
        log.warning("%s", cfg)
        return {**rec, "run_id": path.name, "status": "corrupt", "error": str(cfg)}
    flat = flatten(cfg, sep=COLUMN_SEP)
    rec.update(flat)
    for alias, col in ALIASES.items():
        rec[alias] = flat.get(col)
    summary_file, error_file = path / SUMMARY, path / ERROR
    rec["status"], rec["error"] = "unfinished", None
    summary = _json(summary_file) if summary_file.exists() else None
    err = _json(error_file) if summary is None and error_file.exists() else None
    if isinstance(summary, _Corrupt) or isinstance(err, _Corrupt):
        log.warning("%s", summary or err)
        rec["status"], rec["error"] = "corrupt", str(summary or err)
    elif summary is not None:
        for k, v in summary.items():
            if k not in rec or k in ("run_id",):
                rec[k] = v if not isinstance(v, list | dict) else json.dumps(v)
        rec["status"] = "diverged" if summary.get("stop_reason") == "diverged" else "finished"
    elif err is not None:
        rec["status"], rec["error"] = "failed", f"{err.get('error')}: {err.get('message')}"
    if rec["run_id"] is None:
        from grokscope.config import RunConfig

        try:
            rec["run_id"] = RunConfig.from_dict(cfg).run_id
        except GrokscopeError:
            rec["run_id"] = path.name
    return rec


def build_index(root: str | Path, db_path: str | Path | None = None, force: bool = True) -> Path:
    """(Re)build root's index; returns the database path. force=False: only if out of date."""
    duckdb = _duckdb()
    root = Path(root)
    db_path = Path(db_path) if db_path else root / DB_NAME
    runs = find_runs(root)
    fp = _fingerprint(runs)
    try:
        lock_fd = os.open(str(db_path.with_name(f".{db_path.name}.lock")), os.O_CREAT | os.O_RDWR)
    except OSError as e:
        raise StoreError(f"cannot write the index beside {db_path}: {e.strerror}; query an existing index with "
                         "--db FILE, or fix the directory's permissions") from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # one index writer at a time
        if not force and db_path.exists() and _stored_fingerprint(db_path) == fp:
            return db_path
        records = [_run_record(p, s) for p, s in runs]
        atomic_write(db_path, lambda tmp: _write_index(duckdb, tmp, root, fp, records))
        return db_path
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def _write_index(duckdb: Any, tmp: str, root: Path, fp: str, records: list[dict[str, Any]]) -> None:
    """The tables runs, metrics and _index of `records`, into the new database file `tmp`."""
    import pyarrow as pa

    os.unlink(tmp)  # DuckDB makes its own file
    con = duckdb.connect(tmp)
    try:
        files = [(r["run_id"], str(Path(r["path"]) / METRICS_PARQUET)) for r in records
                 if r["status"] in ("finished", "diverged") and (Path(r["path"]) / METRICS_PARQUET).exists()]
        if files:
            _repair_metrics(duckdb, con, files)
            con.register("_files", pa.table({"run_id": [f[0] for f in files], "file": [f[1] for f in files]}))
            con.execute("CREATE TEMP TABLE wide AS SELECT f.run_id, m.* EXCLUDE (filename) FROM "
                        "read_parquet(?, filename = true, union_by_name = true) m JOIN _files f ON m.filename = f.file",
                        [[f[1] for f in files]])
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM (DESCRIBE wide) WHERE column_name NOT IN ('run_id', 'step')").fetchall()]
            selects = " UNION ALL ".join(
                f"SELECT run_id, CAST(step AS BIGINT) AS step, '{c}' AS metric, CAST(\"{c}\" AS DOUBLE) AS value "
                f"FROM wide WHERE \"{c}\" IS NOT NULL" for c in cols)
            con.execute(f"CREATE TABLE metrics AS {selects} ORDER BY run_id, step, metric")
            # t_train90 / t_val90 (`events.first_step` in SQL: NaN never crosses) -> Liu labels
            t90 = {rid: (tt, tv) for rid, tt, tv in con.execute(
                "SELECT run_id, min(step) FILTER (WHERE train_acc >= $1 AND NOT isnan(train_acc)), "
                "min(step) FILTER (WHERE test_acc >= $1 AND NOT isnan(test_acc)) "
                "FROM wide GROUP BY run_id", [LIU_THRESHOLD]).fetchall()}
        else:
            con.execute("CREATE TABLE metrics (run_id VARCHAR, step BIGINT, metric VARCHAR, value DOUBLE)")
            t90 = {}
        for r in records:
            tt, tv = t90.get(r["run_id"], (None, None))
            r["t_train90"], r["t_val90"] = tt, tv
            r["liu_phase"] = r["doshi_phase"] = None
            if r["status"] == "finished":
                r["liu_phase"] = liu_phase_from_events(tt, tv, LIU_DELAY)
                if r.get("final_train_acc") is not None and r.get("final_test_acc") is not None:
                    r["doshi_phase"] = doshi_phase(r["final_train_acc"], r["final_test_acc"],
                                                   r.get("task_noise") or 0.0, DOSHI_THRESHOLD)
        keys: list[str] = []
        for r in records:
            keys += [k for k in r if k not in keys]
        table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in records]) if records else None
        if table is not None and table.num_columns:
            con.register("_runs", table)
            con.execute("CREATE TABLE runs AS SELECT * FROM _runs")
        else:
            con.execute("CREATE TABLE runs (run_id VARCHAR, sweep VARCHAR, path VARCHAR, status VARCHAR)")
        con.execute("CREATE TABLE _index (root VARCHAR, fingerprint VARCHAR, n_runs BIGINT)")
        con.execute("INSERT INTO _index VALUES (?, ?, ?)", [str(root.resolve()), fp, len(records)])
    finally:
        con.close()
    Path(tmp + ".wal").unlink(missing_ok=True)


def _repair_metrics(duckdb: Any, con: Any, files: list[tuple[str, str]]) -> None:
    """Rebuild any unreadable metrics.parquet from its run's metrics.jsonl (the fast path, one
    bulk read, is tried first; only when it fails is every file checked on its own)."""
    try:
        con.execute("SELECT count(*) FROM read_parquet(?, union_by_name = true)", [[f for _, f in files]]).fetchall()
        return
    except duckdb.Error:
        pass
    from grokscope.store.files import read_parquet
    from grokscope.store.rundir import read_metrics  # torch-importing: only on this rare path

    for _, file in files:
        try:
            read_parquet(file)
        except Exception:  # noqa: BLE001 — any unreadable file: rebuild it (RunDirError if it cannot be)
            read_metrics(Path(file).parent)


def _stored_fingerprint(db_path: Path) -> str | None:
    try:
        con = _duckdb().connect(str(db_path), read_only=True)
        try:
            return con.execute("SELECT fingerprint FROM _index").fetchone()[0]
        finally:
            con.close()
    except Exception:  # noqa: BLE001 — missing / old / corrupt index: rebuild
        return None


def ensure_index(root: str | Path) -> Path:
    """The index of root, rebuilt first if any run directory changed since it was built."""
    return build_index(root, force=False)


def query(sql: str, root: str | Path | None = None, db: str | Path | None = None):
    """Run SQL against the index of `root` (refreshed if stale) or an existing `db` file -> DataFrame."""
    duckdb = _duckdb()
    if db is None:
        if root is None:
            raise StoreError("query needs a root directory or a database file")
        db = ensure_index(root)
    elif not Path(db).exists():
        raise StoreError(f"no index at {db}; build one with grokscope query --root DIR")
    try:
        con = duckdb.connect(str(db), read_only=True, config=SANDBOX)
    except duckdb.Error as e:
        raise StoreError(f"{db} is not a readable index ({str(e).splitlines()[0]}); delete it and run "
                         "grokscope query --root DIR to rebuild it from the run directories") from None
    try:
        result = con.execute(sql)
        if result is None or result.description is None:  # empty SQL, a comment, a statement without rows
            raise StoreError("query returned no table; give a SELECT, e.g. grokscope query 'select * from runs'")
        return result.df()
    except duckdb.Error as e:
        raise StoreError(f"query failed: {str(e).splitlines()[0]}") from None
    finally:
        con.close()
