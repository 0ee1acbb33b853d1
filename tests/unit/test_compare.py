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

    res = run_compare(parse_compare(_spec()), tmp_path / "c", workers=0)
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert [s["arm"] for s in data["settings"]] == ["adamw", "adamw", "gf", "gf_matched"]
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
