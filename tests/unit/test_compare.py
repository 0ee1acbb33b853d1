"""`grokscope compare`: spec checks (one line, exit 2, nothing written), the statistics (order
statistics with never = inf, seeded bootstrap CI of the speed-up), and a tiny end-to-end compare
that writes a sweep store with compare.json and compare.png."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from grokscope.compare.spec import parse_compare, sweep_spec
from grokscope.compare.stats import quantiles, speedup
from grokscope.errors import ConfigError

TINY_SET = {"task": {"p": 7, "frac_train": 0.6}, "model": {"d_mlp": 16},
            "train": {"steps": 40, "eval_every": 20, "eval_log_points": 0}}


def _spec(**over):
    data = {"name": "c", "base": "swaroop2026", "seeds": 2, "bootstrap": 200, "set": TINY_SET,
            "arm": [{"name": "adamw", "method": "baseline", "lr": [3e-3, 1e-2]},
                    {"name": "gf", "method": "grokfast_ema", "lr": [3e-3], "set": {"optim.grokfast_lamb": 2.0}}]}
    data.update(over)
    return data


def test_quantiles_are_order_statistics_with_never_as_inf():
    assert quantiles([100, 300, 200, 400]) == {"median": 200.0, "q25": 100.0, "q75": 300.0}
    q = quantiles([100, None, None, 50])
    assert q["median"] == 100.0 and q["q75"] == math.inf and q["q25"] == 50.0


def test_speedup_and_its_bootstrap_interval():
    base, method = [1000, 1200, 900, 1100, 1000], [100, 110, 90, 105, 100]
    out = speedup(base, method, n_boot=500, seed=3)
    assert out["speedup"] == pytest.approx(10.0)
    assert out["ci_low"] <= 10.0 <= out["ci_high"] and out["ci_low"] > 7 and out["ci_high"] < 14
    assert speedup(base, method, n_boot=500, seed=3) == out  # seeded
    assert speedup([None, None, 5], [10, 10, 10])["speedup"] == math.inf  # the baseline never grokked
    assert math.isnan(speedup([None, None], [None, None])["speedup"])


def test_degenerate_speedups_are_said_in_words():
    from grokscope.report.compare import describe

    assert describe(speedup([None, None], [None, None])).startswith("undefined: neither")
    assert describe(speedup([10, 10], [None, None])).startswith("×0: the method's median never")
    assert describe(speedup([None, None], [10, 10])).startswith("∞: only the method")
    assert describe({"speedup": 2.0, "ci_low": 1.5, "ci_high": 3.0}) == "×2 [1.5, 3]"


def test_spec_expands_to_one_zip_sweep_with_a_matched_baseline():
    spec = parse_compare(_spec())
    assert [a.name for a in spec.arms] == ["adamw", "gf", "gf_matched"]
    matched = spec.arms[2]
    assert matched.is_baseline and matched.lr == [pytest.approx(9e-3)] and matched.matched_to == "gf"
    assert "optim.grokfast_lamb" not in matched.set
    sweep = sweep_spec(spec)
    assert sweep.zip["optim.lr"] == [3e-3, 1e-2, 3e-3, pytest.approx(9e-3)]
    assert sweep.zip["optim.grokfast_lamb"] == [0.0, 0.0, 2.0, 0.0] and sweep.seeds == [0, 1]


@pytest.mark.parametrize("over, message", [
    ({"arm": [{"name": "gf", "method": "grokfast_ema", "lr": [1e-3]}]}, "no baseline arm"),
    ({"arm": [{"name": "a", "method": "baseline", "lr": [1e-3]}, {"name": "x", "method": "grokfastt", "lr": [1e-3]}]},
     "unknown method 'grokfastt'"),
    ({"arm": [{"name": "a", "method": "baseline", "lr": [1e-3], "set": {"train.steps": 10}}]}, "may not set 'train.steps'"),
    ({"arm": [{"name": "a", "method": "baseline", "lr": []}]}, "non-empty list"),
    ({"arm": [{"name": "a", "method": "baseline", "lr": [1e-3], "set": {"optim.grokfast_lamb": -1}}]},
     "optim.grokfast_lamb must be >= 0"),
    ({"arm": [{"name": "a", "method": "baseline", "lr": [1e-3], "set": {"optim.bogus": 1}}]}, "bogus"),
    ({"seeds": 0}, "seeds"),
])
def test_bad_specs_are_one_config_error(over, message):
    with pytest.raises(ConfigError, match=message):
        parse_compare(_spec(**over))


def test_cli_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path):
    from grokscope.cli import app

    spec = tmp_path / "c.toml"
    spec.write_text('base = "swaroop2026"\n[[arm]]\nname = "gf"\nmethod = "grokfast_ema"\nlr = [1e-3]\n')
    result = CliRunner().invoke(app, ["compare", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "no baseline arm" in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_tiny_compare_writes_a_queryable_store_json_and_plot(tmp_path):
    from grokscope.compare import run_compare
    from grokscope.store.db import query

    res = run_compare(parse_compare(_spec(extend_lr=False)), tmp_path / "c", workers=0)
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [s["arm"] for s in data["settings"]] == ["adamw", "adamw", "gf", "gf_matched"]
    # one-point grids are never tuned: flagged even with the extension off
    assert [a["edge"] for a in data["arms"]][1:] == ["single", "single"] and data["extend_lr"] is False
    assert all(s["n"] == 2 for s in data["settings"])  # every seed of every setting found its runs
    assert {s["wd_coupling"] for s in data["settings"]} == {"decoupled"}
    assert [(s["arm"], s["event"]) for s in data["speedups"]] == [("gf", "t_val99"), ("gf", "t_val95")]
    gf = next(s for s in data["settings"] if s["arm"] == "gf")
    base = next(s for s in data["settings"] if s["arm"] == "adamw")
    assert gf["state_mb"] > base["state_mb"]  # the EMA buffer
    assert res.plot and res.plot.stat().st_size > 1000
    assert "| adamw" in (tmp_path / "c" / "compare.md").read_text()
    df = query("select count(*) as n from runs", root=tmp_path / "c")
    assert int(df["n"][0]) == 8


def test_plot_draws_grokked_and_never_seeds(tmp_path):
    from grokscope.report.compare import plot_compare

    def setting(arm, baseline, times):
        return {"arm": arm, "lr": 1e-3, "baseline": baseline, "runs": [{"t_val99": t} for t in times],
                "t_val99": quantiles(times)}

    settings = [setting("adamw", True, [800, 1200, None]), setting("gf", False, [100, 150, 120])]
    sp = [{"event": "t_val99", "arm": "gf", "lr": 1e-3, "baseline_arm": "adamw", "baseline_lr": 1e-3,
           **speedup([800, 1200, None], [100, 150, 120], n_boot=200)}]
    path = plot_compare(settings, sp, 2000, tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and not list(tmp_path.glob(".*tmp"))


def test_recipe_arm_is_a_method_with_its_own_settings_and_no_matched_control():
    spec = parse_compare(_spec(arm=[{"name": "adamw", "method": "baseline", "lr": [1e-3, 1e-2]},
                                    {"name": "fast", "method": "recipe", "lr": [1e-2],
                                     "set": {"optim.weight_decay": 2.0}}]))
    assert [a.name for a in spec.arms] == ["adamw", "fast"] and not spec.arms[1].is_baseline
    sweep = sweep_spec(spec)
    assert sweep.zip["optim.weight_decay"] == [1.0, 1.0, 2.0]  # the base's wd where the arm is silent


def test_markdown_tables_mark_the_best_setting_and_show_never():
    from grokscope.report.compare import markdown_tables

    def setting(arm, lr, baseline, times):
        return {"arm": arm, "lr": lr, "baseline": baseline, "optimizer": "adamw", "wd_coupling": "decoupled",
                "weight_decay": 1.0, "grokked": sum(t is not None for t in times) / len(times), "n": len(times),
                "t_val99": quantiles(times), "t_val95": quantiles(times), "state_mb": 0.5}

    settings = [setting("adamw", 1e-3, True, [None, None, None]), setting("adamw", 1e-2, True, [800, 900, 1000]),
                setting("gf", 3e-3, False, [400, 500, 600])]
    sp = [{"event": "t_val99", "arm": "gf", "lr": 3e-3, "baseline_arm": "adamw", "baseline_lr": 1e-2,
           **speedup([800, 900, 1000], [400, 500, 600], n_boot=200)}]
    md = markdown_tables({"settings": settings, "arms": [settings[1], settings[2]], "speedups": sp})
    lines = md.splitlines()
    assert "| adamw | 0.001 |" in lines[2] and "never [never, never]" in lines[2] and "0% of 3" in lines[2]
    assert "adamw **(best)** | 0.01" in lines[3] and "900 [800, 1,000]" in lines[3]
    assert "| gf (0.003) | adamw (0.01) | t_val99 | ×1.8 [" in md


def test_best_setting_ties_on_never_break_by_final_accuracy():
    from grokscope.compare import _best

    def setting(lr, acc):
        return {"lr": lr, "t_val99": quantiles([None]), "t_val95": quantiles([None]), "grokked": 0.0,
                "final_test_acc": acc}

    assert _best([setting(1e-3, 0.4), setting(1e-2, 0.7), setting(3e-2, float("nan"))])["lr"] == 1e-2


def test_cli_compare_unknown_log_tracker_is_one_line_exit_2_and_writes_nothing(tmp_path):
    from grokscope.cli import app

    spec = tmp_path / "c.toml"
    spec.write_text('base = "swaroop2026"\n[[arm]]\nname = "a"\nmethod = "baseline"\nlr = [1e-3]\n')
    result = CliRunner().invoke(app, ["compare", str(spec), "--out", str(tmp_path / "out"), "--log", "nosuch"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "'nosuch' is not a tracker" in lines[0], result.output
    assert not (tmp_path / "out").exists()


def test_grid_edge_and_next_grid():
    from grokscope.compare import grid_edge, next_grid

    grid = [1e-3, 3e-3, 1e-2]
    assert grid_edge(grid, 3e-3) is None and next_grid(grid, 3e-3) == grid  # interior: tuned, kept
    assert grid_edge(grid, 1e-2) == "high" and next_grid(grid, 1e-2) == pytest.approx([1e-3, 3e-3, 1e-2, 1e-2 * 10 / 3])
    assert grid_edge(grid, 1e-3) == "low" and next_grid(grid, 1e-3) == pytest.approx([1e-3 / 3, 1e-3, 3e-3, 1e-2])
    assert grid_edge([2e-3], 2e-3) == "single" and next_grid([2e-3], 2e-3) == pytest.approx([2e-3 / 3, 2e-3, 6e-3])
    assert next_grid([1e-3, 1.1e-3], 1.1e-3)[-1] == pytest.approx(1.65e-3)  # at least x1.5 per step


def _fake_training(response):
    """A stand-in for training: t_val99 of every seed of a setting = response(arm, lr) (None = never)."""
    from grokscope.compare.stats import quantiles

    calls = []

    def train_and_read(spec, path, **kw):
        calls.append({a.name: sorted(a.lr) for a in spec.arms})
        rows = []
        for arm, lr in spec.settings():
            t = response(arm.name, lr)
            rows.append({"arm": arm.name, "method": arm.method, "lr": lr, "baseline": arm.is_baseline,
                         "matched_to": arm.matched_to, "optimizer": "adamw", "weight_decay": 1.0,
                         "wd_coupling": "decoupled", "n": 2, "n_seeds": 2, "grokked": float(t is not None),
                         "t_val99": quantiles([t, t]), "t_val95": quantiles([t, t]), "wall_s": 1.0,
                         "final_test_acc": 1.0 if t else 0.5, "state_mb": 0.1,
                         "runs": [{"t_val99": t, "t_val95": t}] * 2})
        return rows, 1.0

    return train_and_read, calls


def test_monotone_arm_is_extended_until_the_cap_and_an_interior_optimum_is_not(tmp_path, monkeypatch):
    import grokscope.compare as compare
    from grokscope.report.compare import markdown_tables

    def response(arm, lr):
        if arm == "adamw":  # monotone: the larger the lr the faster, without end
            return round(1.0 / lr)
        return round(100 * (1 + math.log10(lr / 3e-3) ** 2))  # an optimum at 3e-3 (gf) / 3e-3 (gf_matched)

    fake, calls = _fake_training(response)
    monkeypatch.setattr(compare, "_train_and_read", fake)
    data = _spec(max_extensions=2, arm=[{"name": "adamw", "method": "baseline", "lr": [1e-3, 3e-3]},
                                        {"name": "gf", "method": "grokfast_ema", "lr": [1e-3, 3e-3, 1e-2]}])
    res = compare.run_compare(parse_compare(data), tmp_path / "c", plot=False)
    arms = {a["arm"]: a for a in res.arms}
    # the monotone arm grew at its top edge, twice (the cap), and is still flagged there
    assert arms["adamw"]["grid"] == pytest.approx([1e-3, 3e-3, 9e-3, 2.7e-2])
    assert arms["adamw"]["edge"] == "high" and arms["adamw"]["extensions"] == 2 and arms["adamw"]["edge_capped"]
    # the interior optimum is neither flagged nor extended
    assert arms["gf"]["grid"] == pytest.approx([1e-3, 3e-3, 1e-2]) and arms["gf"]["edge"] is None
    assert arms["gf"]["extensions"] == 0 and arms["gf"]["lr"] == pytest.approx(3e-3)
    # gf_matched (lr x 3: 3e-3, 9e-3, 3e-2) had its optimum on its low edge: one extension down made it interior
    assert arms["gf_matched"]["grid"][0] == pytest.approx(1e-3) and arms["gf_matched"]["edge"] is None
    assert arms["gf_matched"]["extensions"] == 1
    assert len(calls) == 3 and calls[0]["adamw"] == [1e-3, 3e-3]
    sp = next(s for s in res.speedups if s["event"] == "t_val99")
    assert sp["baseline_arm"] == "adamw" and sp["baseline_edge"] == "high" and sp["method_edge"] is None
    doc = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [s["lr"] for s in doc["settings"] if s["added"]] == pytest.approx([9e-3, 2.7e-2, 1e-3])
    md = markdown_tables(doc)
    assert "adamw **(best)** ⚠ top edge of its lr grid | 0.027 (ext)" in md
    assert "baseline's best lr on the top edge of its lr grid" in md and "the cap" in md


def test_extension_off_flags_the_edge_but_trains_the_grid_once(tmp_path, monkeypatch):
    import grokscope.compare as compare

    fake, calls = _fake_training(lambda arm, lr: round(10.0 / lr))
    monkeypatch.setattr(compare, "_train_and_read", fake)
    res = compare.run_compare(parse_compare(_spec()), tmp_path / "c", plot=False, extend=False)
    assert len(calls) == 1
    assert {a["arm"]: a["edge"] for a in res.arms} == {"adamw": "high", "gf": "single", "gf_matched": "single"}


@pytest.mark.parametrize("over, message", [({"extend_lr": "yes"}, "extend_lr"), ({"max_extensions": -1}, "max_extensions")])
def test_bad_extension_keys(over, message):
    with pytest.raises(ConfigError, match=message):
        parse_compare(_spec(**over))


def test_lr_normalised_grokfast_arm_runs_at_lr_over_one_plus_lambda_and_is_matched_at_the_base_lr():
    spec = parse_compare(_spec(arm=[{"name": "adamw", "method": "baseline", "lr": [3e-3]},
                                    {"name": "gfn", "method": "grokfast_ema_norm", "lr": [3e-3, 9e-3],
                                     "set": {"optim.grokfast_lamb": 2.0}}]))
    gfn, matched = spec.arms[1], spec.arms[2]
    assert gfn.lr == pytest.approx([1e-3, 3e-3]) and not gfn.is_baseline
    assert matched.name == "gfn_matched" and matched.lr == pytest.approx([3e-3, 9e-3])
    sweep = sweep_spec(spec)
    assert sweep.zip["optim.grokfast_lamb"] == [0.0, 2.0, 2.0, 0.0, 0.0]
