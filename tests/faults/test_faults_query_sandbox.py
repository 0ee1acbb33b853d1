"""`grokscope query` reads the store and nothing else: no writes, no other files, no extensions,
no network, and no SQL that switches any of that back on."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.store.db import StoreError, build_index, query


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    (base / "runs").mkdir()
    build_index(base / "runs")
    (base / "outside.csv").write_text("secret\n42\n")
    return base


@pytest.fixture
def tmp_path(base):  # every test looks at (and must not change) the one directory tree
    return base


@pytest.fixture
def store(base):
    return base / "runs"


def _files(tmp_path):
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))


ATTEMPTS = [
    "copy (select 1) to '{t}/somefile.csv'",                      # the example
    "copy runs to '{t}/runs.parquet' (format parquet)",
    "export database '{t}/exported'",
    "select * from read_csv('{t}/outside.csv')",
    "select * from '{t}/outside.csv'",                               # replacement scan of a path
    "select * from read_text('{t}/outside.csv')",
    "select * from read_blob('/etc/hostname')",
    "select * from read_parquet('{t}/runs/grokscope.duckdb')",
    "select * from read_json_auto('/etc/passwd')",
    "select * from glob('{t}/*')",
    "install httpfs",
    "load httpfs",
    "load '{t}/evil.duckdb_extension'",
    "select * from read_csv('https://example.com/data.csv')",
    "select * from read_parquet('s3://bucket/x.parquet')",
    "attach '{t}/other.duckdb' as other",
    "attach ':memory:' as scratch",
    "set enable_external_access = true",
    "reset enable_external_access",
    "set lock_configuration = false",
    "set allow_unsigned_extensions = true",
    "set temp_directory = '{t}/spill'",
    "create table evil as select 1",
    "insert into runs (run_id) values ('x')",
    "drop table runs",
    "create view v as select 1",
    "create macro m() as 1",
]


@pytest.mark.parametrize("sql", ATTEMPTS)
def test_query_cannot_escape_the_store(tmp_path, store, sql):
    before = _files(tmp_path)
    with pytest.raises(StoreError, match="query failed|no table"):
        query(sql.format(t=tmp_path), db=store / "grokscope.duckdb")
    assert _files(tmp_path) == before
    assert query("select count(*) n from runs", db=store / "grokscope.duckdb").n.tolist() == [0]  # store intact


def test_cli_query_copy_to_is_one_line_exit_2_and_writes_nothing(tmp_path, store):
    before = _files(tmp_path)
    r = CliRunner().invoke(app, ["query", f"copy (select 1) to '{tmp_path}/somefile.csv'", "--root", str(store)])
    assert r.exit_code == 2 and "query failed" in r.output and "file system operations are disabled" in r.output
    assert len(r.output.strip().splitlines()) == 1 and _files(tmp_path) == before


def test_the_store_itself_is_still_readable(tmp_path, store):
    ok = query("select table_name from information_schema.tables order by 1", db=store / "grokscope.duckdb")
    assert {"runs", "metrics", "_index"} <= set(ok.table_name)
    assert query("select current_setting('enable_external_access') v", root=store).v.tolist() == [False]
