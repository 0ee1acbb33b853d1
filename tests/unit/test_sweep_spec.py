"""Sweep specs: expansion counts, seeds, random draws, sparse checkpoints, and one-line errors."""

import pytest
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.errors import ConfigError, GrokscopeError
from grokscope.sweep.runner import plan_chunks
from grokscope.sweep.spec import expand, load_spec, parse_spec
from grokscope.train.loop import stack_key

TINY = {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 8}, "train": {"steps": 20, "eval_every": 10}}


def spec(**kw):
    return parse_spec({"base": "swaroop2026", "set": TINY, **kw}, name="t")


def test_grid_is_a_cartesian_product_and_set_applies():
    cfgs = expand(spec(grid={"optim": {"weight_decay": [0.1, 1.0, 3.0]}, "task.frac_train": [0.3, 0.5]}))
    assert len(cfgs) == 6
    assert {(c.optim.weight_decay, c.task.frac_train) for c in cfgs} == {
        (w, f) for w in (0.1, 1.0, 3.0) for f in (0.3, 0.5)}
    assert all(c.task.p == 7 and c.model.d_mlp == 8 and c.preset == "swaroop2026" for c in cfgs)
    assert len({c.run_id for c in cfgs}) == 6


def test_zip_varies_keys_together():
    cfgs = expand(spec(zip={"optim.lr": [1e-3, 3e-3, 1e-2], "optim.weight_decay": [1.0, 0.3, 0.1]},
                       grid={"model.d_mlp": [8, 16]}))
    assert len(cfgs) == 6
    assert {(c.optim.lr, c.optim.weight_decay) for c in cfgs} == {(1e-3, 1.0), (3e-3, 0.3), (1e-2, 0.1)}


def test_seeds_expand_both_seed_keys_or_a_chosen_one():
    cfgs = expand(spec(seeds=4, grid={"optim.weight_decay": [0.1, 1.0]}))
    assert len(cfgs) == 8
    assert sorted({(c.train.seed, c.task.data_seed) for c in cfgs}) == [(s, s) for s in range(4)]
    only = expand(spec(seeds=[5, 9], seed_keys=["train.seed"]))
    assert [(c.train.seed, c.task.data_seed) for c in only] == [(5, 0), (9, 0)]


def test_random_draws_are_seeded_in_range_and_counted():
    s = spec(samples=5, seed=3, random={"optim.lr": {"min": 1e-4, "max": 1e-2, "log": True},
                                        "model.d_mlp": {"min": 4, "max": 16, "n": 2}})
    a, b = expand(s), expand(s)
    assert len(a) == 10 and [c.run_id for c in a] == [c.run_id for c in b]
    assert all(1e-4 <= c.optim.lr <= 1e-2 and 4 <= c.model.d_mlp <= 16 for c in a)
    assert all(isinstance(c.model.d_mlp, int) for c in a)
    assert expand(spec(samples=5, seed=4, random={"optim.lr": {"min": 1e-4, "max": 1e-2}}))[0].optim.lr != a[0].optim.lr


def test_sparse_checkpoints_by_default_unless_set():
    cfg = expand(spec())[0]
    assert (cfg.train.checkpoint_every, cfg.train.checkpoint_log_points, cfg.train.save_saturation) == (20, 0, False)
    dense = expand(spec(sparse_checkpoints=False))[0]
    assert dense.train.checkpoint_log_points == 20  # the preset's
    mine = expand(parse_spec({"base": "swaroop2026", "set": {**TINY, "train": {"steps": 20, "checkpoint_every": 5}}}))[0]
    assert mine.train.checkpoint_every == 5


def test_duplicates_are_dropped():
    assert len(expand(spec(grid={"optim.weight_decay": [1.0, 1.0, 1]}))) == 1


def test_chunks_group_by_stack_key_and_respect_the_cap():
    cfgs = expand(spec(seeds=10, grid={"model.d_mlp": [8, 16], "optim.weight_decay": [0.1, 1.0]}))
    chunks = plan_chunks(cfgs, chunk=8, workers=1)
    assert sorted(len(c) for c in chunks) == [6, 6, 7, 7, 7, 7]  # 2 groups of 20 -> 3 chunks of <= 8 each
    assert all(len({stack_key(c) for c in ch}) == 1 for ch in chunks)
    assert sorted(c.run_id for ch in chunks for c in ch) == sorted(c.run_id for c in cfgs)
    assert len(plan_chunks(cfgs, chunk=256, workers=2)) == 4  # big groups are shared between workers


@pytest.mark.parametrize("data, message", [
    ({"set": TINY}, "needs base"),
    ({"base": "nope"}, "unknown preset"),
    ({"base": "swaroop2026", "grid": {"model.widht": [1, 2]}}, "unknown config key 'model.widht'"),
    ({"base": "swaroop2026", "grid": {"model": {"d_mlp": []}}}, "model.d_mlp is empty"),
    ({"base": "swaroop2026", "grid": {"model.d_mlp": 8}}, "must be a list"),
    ({"base": "swaroop2026", "zip": {"optim.lr": [1, 2], "optim.weight_decay": [1]}}, "equal lengths"),
    ({"base": "swaroop2026", "grid": {"model.d_mlp": [8, 1.5]}}, "model.d_mlp must be int"),
    ({"base": "swaroop2026", "grid": {"optim.weight_decay": [-1.0]}}, "weight_decay must be >= 0"),
    ({"base": "swaroop2026", "zip": {"optim.lr": [1]}, "grid": {"optim.lr": [1, 2]}}, "both [grid] and [zip]"),
    ({"base": "swaroop2026", "random": {"optim.lr": {"min": 1, "max": 2}}}, "no n"),
    ({"base": "swaroop2026", "random": {"optim.lr": {"min": 0, "max": 2, "log": True, "n": 2}}}, "min > 0"),
    ({"base": "swaroop2026", "seeds": 0}, "seeds must be >= 1"),
    ({"base": "swaroop2026", "grdi": {}}, "unknown sweep spec key 'grdi'"),
    ({"base": "swaroop2026", "grid": {"model": [1]}}, "is a section"),
])
def test_bad_specs_raise_one_line_config_errors(data, message):
    with pytest.raises(ConfigError) as e:
        expand(parse_spec(data))
    assert message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, GrokscopeError)


def test_load_spec_reads_toml_dotted_and_quoted_keys(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('base = "swaroop2026"\nseeds = 2\n[set]\ntask.p = 7\n"model.d_mlp" = 8\n[grid]\noptim.weight_decay = [0.1, 1.0]\n')
    s = load_spec(f)
    assert s.name == "s" and len(expand(s)) == 4
    bad = tmp_path / "bad.toml"
    bad.write_text("base = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "missing.toml")


def test_shipped_specs_expand(request):
    root = request.config.rootpath
    pair = expand(load_spec(root / "sweeps/pair_phase.toml"))
    assert len(pair) >= 1000
    assert all(c.task.p == 67 and c.model.input == "shared" and c.task.symmetric for c in pair)
    noise = expand(load_spec(root / "sweeps/noise.toml"))
    assert sorted({c.task.noise for c in noise}) == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    from grokscope.compare.spec import load_compare

    for spec in sorted((root / "sweeps").glob("*.toml")):  # every shipped spec loads (and expands)
        if "[[arm]]" in spec.read_text():
            assert load_compare(spec).arms, spec.name
        else:
            assert expand(load_spec(spec)), spec.name


def test_the_matched_compromise_grid_has_the_notebook_diagrams_cells(request):
    # sweeps/pair_phase_matched.toml is set beside sweeps/pair_tied_phase.toml cell by cell: the same
    # (width, fraction, weight decay, seed, split) for every model, only the model and recipe differ
    root = request.config.rootpath
    cell = lambda c: (c.model.d_mlp, c.task.frac_train, c.optim.weight_decay, c.train.seed, c.task.data_seed)  # noqa: E731
    tied = expand(load_spec(root / "sweeps/pair_tied_phase.toml"))
    matched = expand(load_spec(root / "sweeps/pair_phase_matched.toml"))
    assert len(tied) == 240 and sorted(map(cell, tied)) == sorted(map(cell, matched))
    assert {c.model.input for c in tied} == {"tied_embed"} and {c.model.input for c in matched} == {"shared"}


@pytest.mark.parametrize("body", ['base = "swaroop2026"\n[grid]\nmodel.nope = [1]\n',
                                  '[grid]\nmodel.d_mlp = [8]\n',
                                  'base = "swaroop2026"\n[zip]\noptim.lr = [1e-3]\noptim.weight_decay = [1.0, 2.0]\n'])
def test_cli_bad_spec_exits_2_and_starts_nothing(tmp_path, body):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(f), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
