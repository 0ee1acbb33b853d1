"""Property-based fuzzing of everything a user types or writes: configs, --set overrides, sweep specs
(TOML and parsed tables), run and sweep names, and the CLI's arguments. Every input either works or
is one GrokscopeError line (CLI: exit 2) — never another exception, never a file outside the chosen
output root, never a directory left behind by an input that was refused."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import grokscope.api as api
from grokscope.cli import app
from grokscope.config import SECTIONS, RunConfig, check_name
from grokscope.errors import ConfigError, GrokscopeError
from grokscope.presets import load_preset
from grokscope.store.rundir import RunWriter
from grokscope.sweep.spec import expand, load_spec, parse_spec

FUZZ = settings(max_examples=100, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
KEYS = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
NASTY_TEXT = st.sampled_from(["", ".", "..", "../x", "../../etc", "/tmp/x", "a/b", "a\\b", "x\x00y", ".hidden",
                              "ok", "swaroop2026", "nan", "inf", "-1", "1e400", "9" * 5000, "true", "é", " "])
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=30))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.integers(-3, 200),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT)
VALUE = st.recursive(SCALAR, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
                     max_leaves=6)


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


@st.composite
def config_tables(draw):
    """A preset's table with a few keys replaced by anything (known keys, unknown keys, any values)."""
    data = load_preset(draw(st.sampled_from(["swaroop2026", "nanda2023", "pair2023"]))).to_dict()
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(st.sampled_from(KEYS + ["preset", "task", "train"]), TEXT))
        section, _, name = key.partition(".")
        if name and isinstance(data.get(section), dict):
            data[section][name] = draw(VALUE)
        else:
            data[key] = draw(VALUE)
    return data


@FUZZ
@given(config_tables())
def test_any_config_table_is_a_config_or_one_config_error(data):
    try:
        cfg = RunConfig.from_dict(data)
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    check_name(cfg.run_id, "run id")  # a run id is always one plain directory name
    assert RunConfig.from_dict(json.loads(cfg.to_json())) == cfg  # strict JSON round trip (no NaN)


@FUZZ
@given(st.lists(st.tuples(st.one_of(st.sampled_from(KEYS + ["preset", "task", "x.y.z", ""]), TEXT),
                          st.one_of(TEXT, st.integers().map(str), st.floats().map(str)),
                          st.sampled_from(["=", "", "=="])), min_size=1, max_size=4))
def test_any_set_override_is_a_config_or_one_config_error(items):
    try:
        cfg = load_preset().override([f"{k}{sep}{v}" for k, v, sep in items])
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    check_name(cfg.run_id, "run id")


SPEC_KEYS = ["name", "description", "base", "seeds", "seed_keys", "samples", "seed", "chunk",
             "sparse_checkpoints", "set", "grid", "zip", "random", "plot", "bogus"]
# large counts start above sweep.spec.MAX_RUNS: exactly 10⁶ seeds or samples is a valid spec that takes minutes to
# expand (10⁶ configs at ~80 µs each), which a fuzz example must not do; above it the spec is refused in one line
SMALL = st.one_of(st.integers(-2, 3), st.integers(10**6 + 1, 10**12), st.floats(allow_nan=True), TEXT, st.booleans())


@st.composite
def spec_tables(draw):
    data = {"base": draw(st.one_of(st.just("swaroop2026"), TEXT)),
            "set": {"task.p": 7, "model.d_mlp": 8, "train.steps": 2}}
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(SPEC_KEYS))
        if key in ("grid", "zip"):
            data[key] = draw(st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT),
                                             st.one_of(st.lists(SCALAR, max_size=3), SCALAR), max_size=2))
        elif key == "random":
            data[key] = draw(st.dictionaries(
                st.one_of(st.sampled_from(["optim.lr", "train.seed", "task.frac_train"]), TEXT),
                st.one_of(st.fixed_dictionaries({"min": SMALL, "max": SMALL},
                                                optional={"log": st.booleans(), "n": SMALL}), SCALAR),
                max_size=1))
        elif key in ("set", "plot"):
            data[key] = draw(st.dictionaries(st.one_of(st.sampled_from(KEYS + ["x", "y"]), TEXT), SCALAR,
                                             max_size=2))
        elif key == "seed_keys":
            data[key] = draw(st.one_of(st.lists(st.one_of(st.sampled_from(KEYS), TEXT), max_size=2), SCALAR))
        else:
            data[key] = draw(st.one_of(SMALL, VALUE))
    return data


@FUZZ
@given(spec_tables())
def test_any_sweep_spec_expands_or_is_one_config_error(data):
    try:
        spec = parse_spec(data, name="fuzz")
        cfgs = expand(spec)
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    check_name(spec.name, "sweep name")
    assert len({c.run_id for c in cfgs}) == len(cfgs)
    for c in cfgs:
        check_name(c.run_id, "run id")


@settings(max_examples=60, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=200), spec_tables().map(lambda d: _toml(d))))
def test_any_sweep_spec_file_loads_or_is_one_config_error(tmp_path, text):
    f = tmp_path / "s.toml"
    try:
        f.write_text(text)
    except UnicodeEncodeError:
        assume(False)
    try:
        expand(load_spec(f))
    except ConfigError as e:
        assert "\n" not in str(e)


def _toml(d) -> str:
    """A (possibly invalid) TOML rendering of a spec table: strings quoted, the rest as Python repr."""
    def v(x):
        return json.dumps(x) if isinstance(x, str | list | bool) or x is None else repr(x)
    lines = [f"{k} = {v(x)}" for k, x in d.items() if not isinstance(x, dict)]
    for k, x in d.items():
        if isinstance(x, dict):
            lines.append(f"[{k}]")
            lines += [f"{json.dumps(str(kk))} = {v(xx)}" for kk, xx in x.items() if not isinstance(xx, dict)]
    return "\n".join(lines)


@settings(max_examples=300, database=None, deadline=None)
@given(TEXT)
def test_an_accepted_name_stays_inside_the_root(name):
    root = Path("/tmp/grokscope-root")
    try:
        check_name(name, "name")
    except ConfigError:
        return
    assert _inside(root, root / name) and (root / name).resolve().parent == root.resolve()


def test_names_that_would_escape_are_refused(tmp_path):
    for bad in ("..", "../x", "/abs", "a/b", ".hidden", "", "x\x00"):
        with pytest.raises(ConfigError):
            check_name(bad, "name")
    with pytest.raises(ConfigError, match="preset"):
        load_preset().override(["preset=../../escape"])
    with pytest.raises(ConfigError, match="sweep name"):
        parse_spec({"base": "swaroop2026", "name": "../../escape"})
    with pytest.raises(ConfigError, match="unknown preset"):
        load_preset("../presets/swaroop2026")
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "out"), "--name", "../escape", "--quiet"])
    assert r.exit_code == 2 and "--name must be a plain name" in r.output
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- the CLI


def _fake_run(cfg, out, *, name=None, force=False, on_row=None, sinks=(), init_from=None):
    """api.run up to the engine: the real path logic and RunWriter.create (refusals, config.json),
    no training."""
    path = Path(out) / (check_name(name, "--name") if name is not None else cfg.run_id)
    RunWriter.create(path, cfg, force=force)
    return SimpleNamespace(summary={"run_id": cfg.run_id}, path=path)


ARG = st.one_of(
    st.tuples(st.just("--set"), st.one_of(st.sampled_from(KEYS).map(lambda k: k + "="), TEXT)).map(
        lambda t: [t[0], t[1] + "1" if t[1].endswith("=") else t[1]]),
    st.tuples(st.just("--set"), st.tuples(st.sampled_from(KEYS), TEXT).map("=".join)).map(list),
    st.tuples(st.just("--name"), TEXT).map(list),
    st.tuples(st.just("--preset"), st.one_of(st.sampled_from(["nanda2023", "pair2023"]), TEXT)).map(list),
    st.tuples(st.just("--threads"), st.one_of(st.integers(-3, 3).map(str), TEXT)).map(list),
    st.sampled_from([["--force"], ["--quiet"], ["--bogus"], ["--resume"]]),
)


@settings(max_examples=40, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ARG, max_size=4).map(lambda xs: [a for x in xs for a in x]))
def test_cli_run_arguments_work_or_fail_in_one_line(tmp_path_factory, monkeypatch_module, args):
    base = tmp_path_factory.mktemp("cli")
    out = base / "out"
    r = CliRunner().invoke(app, ["run", "--out", str(out), *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
    assert r.exit_code in (0, 2), (args, r.output)
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        assert len([line for line in r.output.splitlines() if line.strip()]) == 1, (args, r.output)
        written = [p for p in out.rglob("*")] if out.exists() else []
        assert not written, (args, written)  # nothing started
    for p in base.rglob("*"):
        assert _inside(out, p) or p == out, p


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setattr(api, "run", _fake_run)
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def index_root(tmp_path_factory):
    from grokscope.store.db import build_index

    root = tmp_path_factory.mktemp("q")
    build_index(root)
    return root


@settings(max_examples=20, database=None, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=100), st.sampled_from(["", "-- c", "select 1", "select * from runs", "checkpoint",
                                                         "copy runs to 'x.csv'", "attach 'x.db'", "install httpfs"])))
def test_cli_query_of_any_text_is_a_table_or_one_line_and_writes_nothing(index_root, sql):
    root = index_root
    before = sorted(p.name for p in root.iterdir())
    r = CliRunner().invoke(app, ["query", sql, "--db", str(root / "grokscope.duckdb")])
    assert r.exception is None or isinstance(r.exception, SystemExit), (sql, r.exception)
    assert r.exit_code in (0, 2) and "Traceback" not in r.output
    if r.exit_code == 2:
        assert len([line for line in r.output.splitlines() if line.strip()]) == 1, (sql, r.output)
    assert sorted(p.name for p in root.iterdir()) == before


def test_config_errors_found_by_fuzzing_are_config_errors():
    """Regressions the fuzzers found: non-finite floats, a huge modulus, a preset that is a path."""
    base = load_preset().to_dict()
    for section, key, value in (("optim", "lr", float("inf")), ("optim", "weight_decay", float("nan")),
                                ("task", "p", 10**30)):
        data = {**base, section: {**base[section], key: value}}
        with pytest.raises(ConfigError):
            RunConfig.from_dict(data)
    with pytest.raises(GrokscopeError):
        parse_spec({"base": "swaroop2026", "random": {"optim.lr": {"min": 0.1, "max": float("inf"), "n": 2}}})
    with pytest.raises(ConfigError, match="seeds must be >= 1 and <="):
        parse_spec({"base": "swaroop2026", "seeds": 10**9})
    with pytest.raises(ConfigError, match="at most"):
        expand(parse_spec({"base": "swaroop2026", "seeds": 1000, "samples": 1000,
                           "random": {"optim.lr": {"min": 0.1, "max": 1.0}}, "grid": {"optim.weight_decay": [0, 1]}}))
    assert tomllib  # the TOML fuzzer above feeds load_spec through tomllib
