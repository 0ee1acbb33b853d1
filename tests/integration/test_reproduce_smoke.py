"""Every `grokscope reproduce NAME` end to end on tiny models, in seconds: train-or-reuse, the
analysis, the table, the checks, reproduce.json and the printed table. The papers' claims are
asserted on the --quick models in the slow tier (tests/slow/test_reproduce_*.py)."""

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from grokscope.cli import app
from grokscope.reproduce import names, print_result, reproduce

# every model shrunk to p = 11 and 60 steps: the same code paths, nothing to learn
TINY = ["task.p=11", "model.d_mlp=32", "model.d_model=16", "model.n_heads=2", "train.steps=60",
        "train.eval_every=20", "train.checkpoint_every=20", "train.patience=0"]
TINY_SWEEP = {"seeds": 1, "set": {"task": {"p": 11}, "train": {"steps": 60, "eval_every": 20}},
              "grid": {"model": {"d_mlp": [8, 16]}, "optim": {"weight_decay": [0.0, 0.3]},
                       "task": {"frac_train": [0.3, 0.8]}}}


@pytest.fixture
def tiny(monkeypatch):
    """Shrink the configs each reproduction trains (pair2023 runs a sweep spec instead)."""
    import importlib

    from grokscope.reproduce import common

    def shrink(cfgs, paths):
        return common.train_or_reuse([c.override(TINY) for c in cfgs], paths)

    for name in names():
        module = importlib.import_module(f"grokscope.reproduce.{name}")
        if hasattr(module, "train_or_reuse"):
            monkeypatch.setattr(module, "train_or_reuse", shrink)
    pair = importlib.import_module("grokscope.reproduce.pair2023")
    monkeypatch.setattr(pair, "SPEC_QUICK", {**pair.SPEC_QUICK, **TINY_SWEEP})


@pytest.mark.parametrize("name", names())
def test_reproduction_runs_end_to_end_on_tiny_models(tiny, name, tmp_path):
    res = reproduce(name, out=tmp_path, quick=True)
    assert res.name == name and res.rows and res.claims
    assert all(c.ok in (True, False, None) for c in res.claims), res.claims
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["name"] == name and doc["quick"] and doc["seed"] == 0 and len(doc["rows"]) == len(res.rows)
    assert {"quantity", "paper", "ours", "diff"} <= set(doc["rows"][0])
    assert {"text", "status", "values", "holds", "rests_on"} <= set(doc["claims"][0])
    assert (tmp_path / "seed0" / "reproduce.json").exists()
    out = io.StringIO()
    print_result(res, Console(file=out, width=200))
    # the claims table is printed: tiny models may hold no claim (a "does not grok" claim fails with its control)
    assert res.rows[0].quantity in out.getvalue() and ("✓" in out.getvalue() or "✗" in out.getvalue())


def test_a_rerun_reuses_finished_runs_and_a_replicate_trains_new_ones(tiny, tmp_path):
    reproduce("swaroop2026", out=tmp_path / "a", quick=True)
    summary = tmp_path / "a/seed0/runs/alpha_0.00/summary.json"
    assert (summary.parent / "curves.png").stat().st_size > 0  # every trained run gets its curves
    mtime = summary.stat().st_mtime_ns
    reproduce("swaroop2026", out=tmp_path / "a", quick=True)
    assert summary.stat().st_mtime_ns == mtime  # nothing retrained
    res = reproduce("swaroop2026", out=tmp_path / "b", quick=True, seed=3)
    cfg = json.loads((tmp_path / "b/seed3/runs/alpha_0.00/config.json").read_text())
    assert res.seed == 3 and cfg["train"]["seed"] == 3 and cfg["task"]["data_seed"] == 3


def test_seeds_train_as_one_stack_and_claims_are_read_over_them(tiny, tmp_path, monkeypatch):
    """Two replicates: their runs are trained in one call per stage (as one stack), and each claim
    carries one value per seed and the number of seeds it held in."""
    from grokscope.reproduce import common

    calls = []
    real = common.train_or_reuse

    def spy(cfgs, paths):
        if common._pending is None:
            calls.append(sorted({c.train.seed for c in cfgs}))
        return real(cfgs, paths)

    monkeypatch.setattr(common, "train_or_reuse", spy)
    res = reproduce("swaroop2026", out=tmp_path, quick=True, seeds=2)
    assert calls and all(len(seeds) >= 2 for seeds in calls), calls  # both replicates in every training call
    assert res.seeds == [0, 1] and [r.seed for r in res.replicates] == [0, 1]
    assert all(c.seeds == 2 and 0 <= c.holds <= 2 for c in res.claims)
    assert all((c.ok is True) == (c.holds == 2) for c in res.claims if c.ok is not None)
    doc = json.loads((tmp_path / "reproduce.json").read_text())
    assert doc["seeds"] == [0, 1] and len(doc["replicates"]) == 2


def test_claims_over_seeds_held_in_all_failed_in_one_or_not_tested():
    from grokscope.reproduce.common import Result, over_seeds

    runs = []
    for seed, (a, b) in enumerate([(True, None), (True, None), (False, None)]):
        r = Result("x", "t", seed=seed)
        r.claim("a", a, value=seed + 1.0, rests_on="steps")
        r.claim("b", b)
        if seed < 2:
            r.claim("c", True, value=2.0)
        runs.append(r)
    merged = over_seeds(runs)
    a, b, c = merged.claims
    assert (a.status, a.holds, a.values, a.shown_value()) == ("✗", 2, [1.0, 2.0, 3.0], "2 [1–3]")
    assert b.status == "not tested at this scale" and "b" not in merged.checks
    assert (c.status, c.holds, c.values) == ("✓", 2, [2.0, 2.0, None])  # missing in a seed: not tested there
    assert merged.checks == {"a": False, "c": True}


def test_replicate_zero_is_the_published_config():
    from grokscope.reproduce import nanda2023, swaroop2026, zhong2023

    assert swaroop2026.configs(True) == swaroop2026.configs(True, seed=0)
    one = nanda2023.configs(True, seed=1)[0]
    zero = nanda2023.configs(True)[0]
    assert (one.train.seed - zero.train.seed, one.task.data_seed - zero.task.data_seed) == (1, 1)
    seeds = [c.train.seed for cs in (zhong2023.configs(True, seed=s)["clock"] for s in (0, 1)) for c in cs]
    assert len(set(seeds)) == len(seeds)  # replicates share no model


def test_reproduce_unknown_name_exits_2():
    result = CliRunner().invoke(app, ["reproduce", "nope2099"])
    assert result.exit_code == 2
    assert "swaroop2026" in result.output and "nanda2023" in result.output


def test_power2022_runs_each_regime_with_its_own_recipe():
    from grokscope.reproduce import power2022

    groups = power2022.configs(False)
    fig1 = groups["fig1"]["div"]  # Figure 1 (§3.1, A.1.2): Adam, no weight decay, 10⁶ steps, x/y mod 97 at 50%
    assert (fig1.optim.name, fig1.optim.weight_decay, fig1.train.steps) == ("adam", 0.0, 1_000_000)
    assert (fig1.task.op, fig1.task.p, fig1.task.frac_train, fig1.train.batch_size) == ("div", 97, 0.5, 512)
    for cfg in [*groups["ops"].values(), *groups["fracs"].values()]:  # the A.1.2 default: AdamW wd 1
        assert (cfg.optim.name, cfg.optim.weight_decay) == ("adamw", 1.0)
    quick = power2022.configs(True)["fig1"]["div"]
    assert (quick.optim.name, quick.optim.weight_decay) == ("adam", 0.0) and quick.task.p < 97


def test_reproduce_bad_seed_count_exits_2_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "swaroop2026", "--quick", "--seeds", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--seeds must be ≥ 1" in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing trained or written
