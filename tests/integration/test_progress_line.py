"""What `grokscope run` shows in a terminal is true: the ETA is to the run's stop condition (or says
what the run waits for), "grokked at step N" replaces any forecast once test accuracy crossed 99%,
no forecast older than the last evaluation, labelled numbers, steps with thousands separators, the
step a resume continues from, where report.html went, and Ctrl-C leaves the last line once.

The live display is driven with a terminal console (ANSI, fixed width) and read back through a
small terminal emulator, i.e. as a person would see the screen."""

from __future__ import annotations

import io
import math
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from grokscope import cli
from grokscope.cli import app
from grokscope.events import EVENT_THRESHOLD
from grokscope.forecast import ForecastTracker, recipe_of
from grokscope.presets import load_preset

runner = CliRunner()
TINY = ["--set", "task.p=11", "--set", "model.d_mlp=32", "--set", "train.eval_every=100",
        "--set", "train.stop_test_acc=1.1", "--set", "train.patience=0", "--set", "train.eval_log_points=0",
        "--set", "train.checkpoint_log_points=0", "--set", "train.save_saturation=false"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def screen(text: str, cols: int) -> list[str]:
    """The final screen of a terminal `cols` wide after `text` (CR, LF, erase line, cursor up, wrap)."""
    rows: list[list[str]] = [[]]
    r = c = 0
    for m in re.finditer(r"\x1b\[([?0-9;]*)([A-Za-z])|(\r)|(\n)|(.)", text, re.S):
        if m.group(2):
            arg, cmd = m.group(1), m.group(2)
            if cmd == "K":
                rows[r] = [] if arg == "2" else rows[r][:c]
            elif cmd == "A":
                r = max(0, r - (int(arg) if arg.isdigit() else 1))
        elif m.group(3):
            c = 0
        elif m.group(4) or (m.group(5) and c >= cols):  # a newline, or a character past the last column
            r, c = r + 1, 0
            rows.extend([] for _ in range(r + 1 - len(rows)))
        if m.group(5):
            rows[r].extend(" " * (c + 1 - len(rows[r])))
            rows[r][c] = m.group(5)
            c += 1
    return [line for line in ("".join(row).rstrip() for row in rows) if line]


def terminal(monkeypatch, cols: int = 120) -> Console:
    con = Console(file=io.StringIO(), force_terminal=True, width=cols, height=40, color_system="standard")
    monkeypatch.setattr(cli, "console", con)
    return con


def show(monkeypatch, cfg, rows, cols: int = 120, history=None) -> list[str]:
    """Feed `rows` to the run's progress display; the screen after it closes."""
    con = terminal(monkeypatch, cols)
    args = (cfg, False) if history is None else (cfg, False, history)
    with cli._progress(*args) as on_row:
        for row in rows:
            on_row(row)
    return screen(con.file.getvalue(), cols)


def row(step, train_acc, test_acc, train_loss=1e-3, test_loss=2.0, wall_s=None, weight_norm=100.0):
    return {"step": step, "train_acc": train_acc, "test_acc": test_acc, "train_loss": train_loss,
            "test_loss": test_loss, "weight_norm": weight_norm, "wall_s": step / 100 if wall_s is None else wall_s}


# The fast preset's own run (docs/data/swaroop2026_fast/metrics.jsonl, rounded): test acc crosses 99% at 450.
FAST = [row(*r[:3], train_loss=r[3], test_loss=r[4], weight_norm=r[5], wall_s=r[6]) for r in [
    (0, 0.0096, 0.0105, 4.58, 4.58, 10.85, 0.0), (1, 0.0192, 0.0085, 4.71, 5, 39.86, 0.04),
    (2, 0.1024, 0.0009, 4.66, 5.34, 49.65, 0.09), (5, 0.2975, 0.0003, 3.42, 5.21, 73.6, 0.14),
    (11, 0.9421, 0.0, 0.829, 7.78, 106.6, 0.22), (26, 1.0, 0.0, 0.139, 8.28, 113.8, 0.39),
    (50, 1.0, 0.0006, 0.0623, 7.74, 112.2, 0.65), (58, 1.0, 0.0006, 0.0487, 7.5, 112.3, 0.74),
    (100, 1.0, 0.0108, 0.0159, 5.76, 112.2, 1.15), (131, 1.0, 0.0884, 0.0073, 4.21, 111.8, 1.41),
    (150, 1.0, 0.1848, 0.00461, 3.44, 112, 1.56), (200, 1.0, 0.4744, 0.00145, 2.08, 114, 2.03),
    (250, 1.0, 0.7174, 0.00048, 1.21, 116.8, 2.53), (295, 1.0, 0.8607, 0.000187, 0.709, 119.3, 2.95),
    (300, 1.0, 0.8727, 0.00017, 0.665, 119.6, 3.0), (350, 1.0, 0.9518, 6.53e-05, 0.324, 121.3, 3.45),
    (400, 1.0, 0.9842, 2.99e-05, 0.153, 121.8, 3.94), (450, 1.0, 0.9944, 1.79e-05, 0.0719, 121.4, 4.43),
]]


def test_far_from_its_budget_the_eta_says_what_the_run_waits_for(monkeypatch):
    cfg = load_preset("swaroop2026")  # 500,000-step budget, stops at 99.9% test acc or 50,000 steps without a gain
    lines = show(monkeypatch, cfg, [row(s, min(1.0, s / 1000), 0.01) for s in range(0, 21_700, 100)])
    head = next(line for line in lines if line.startswith("step "))
    assert head.startswith("step 21,600  ")
    # 100 steps/s here: 478,400 steps to the budget at most
    assert head.endswith("eta: until test acc ≥ 99.9%, no gain in 50,000 steps, or step 500,000 (at most 1:19:44)"), head
    assert "━" not in head  # no bar towards a budget the run is not expected to use
    assert "eta at max steps" not in "\n".join(lines)


def test_a_run_without_an_accuracy_stop_shows_its_eta_to_the_budget_with_a_bar(monkeypatch):
    cfg = load_preset("swaroop2026").override(["train.stop_test_acc=1.1", "train.steps=30000"])
    lines = show(monkeypatch, cfg, [row(s, 1.0, 0.01) for s in range(0, 10_100, 100)])
    head = lines[0]
    assert head.startswith("step 10,000  ") and head.endswith("eta 0:03:20 to step 30,000"), head
    assert "━" in head


def test_once_grokking_is_under_way_the_eta_is_to_the_stop_threshold(monkeypatch):
    cfg = load_preset("swaroop2026")
    logistic = lambda s: 1 / (1 + math.exp(-(s - 20_000) / 1_500))  # noqa: E731
    lines = show(monkeypatch, cfg, [row(s, 1.0, logistic(s)) for s in range(0, 21_100, 100)])
    # logit(0.999) = 6.907 -> step 30,360 -> the evaluation at 30,400; 9,400 steps at 100 steps/s
    assert lines[0].endswith("eta 0:01:34 to test acc ≥ 99.9% (≈ step 30,400, by its trend)"), lines[0]
    assert "━" in lines[0]  # a bar towards the expected stop


def test_the_numbers_are_labelled_and_steps_have_thousands_separators(monkeypatch):
    cfg = load_preset("swaroop2026")
    lines = show(monkeypatch, cfg, [row(21_600, 1.0, 0.31, train_loss=4.6e-3, test_loss=2.1)])
    assert lines[0].startswith("step 21,600 ")
    assert lines[1] == "train acc 1.000 loss 0.0046 · test acc 0.310 loss 2.1"


def test_after_test_acc_crosses_99_percent_it_says_grokked_and_no_forecast(monkeypatch):
    cfg = load_preset("swaroop2026_fast")  # stops at 99% test acc; forecasts from memorisation
    assert [r["step"] for r in FAST if r["test_acc"] >= EVENT_THRESHOLD] == [450]
    lines = show(monkeypatch, cfg, FAST)
    text = "\n".join(lines)
    assert "grokked at step 450 (test acc ≥ 99%)" in lines
    assert "forecast" not in text and "groks ≈" not in text, text
    assert lines[0].endswith("done: test acc ≥ 99%"), lines[0]


def test_the_forecast_shown_is_the_one_made_at_the_last_evaluation(monkeypatch):
    cfg = load_preset("swaroop2026_fast")
    rows = [r for r in FAST if r["step"] <= 400]
    fresh = ForecastTracker(recipe_of(cfg), cfg.train.steps)
    for r in rows:
        expected = fresh.on_row(r)
    assert expected.startswith("forecast: groks ≈ step")
    lines = show(monkeypatch, cfg, rows)
    assert lines[-1] == expected, lines  # not the one made at step 300


def test_a_resumed_display_knows_what_happened_before_the_resume(monkeypatch):
    cfg = load_preset("swaroop2026")
    before = [row(s, 1.0, 0.995 if s >= 20_000 else 0.2) for s in range(0, 21_000, 100)]
    lines = show(monkeypatch, cfg, [row(21_000, 1.0, 0.997)], history=before)
    assert "grokked at step 20,000 (test acc ≥ 99%)" in lines


STATS = "train acc 0.848 loss 1.33 · test acc 0.011 loss 2.91"


@pytest.mark.parametrize("cols", [len(STATS), len(STATS) + 1, 120])  # the last line as wide as the terminal, or nearly
def test_ctrl_c_echo_does_not_wrap_the_display(monkeypatch, cols):
    """The terminal echoes "^C" where the cursor is (the end of the live display); a last line as
    wide as the terminal wrapped it onto a new line, and the final redraw left the old line above."""
    import time

    cfg = load_preset("swaroop2026").override(["train.stop_test_acc=1.1", "train.steps=100000"])
    con = terminal(monkeypatch, cols)
    with pytest.raises(KeyboardInterrupt), cli._progress(cfg, False) as on_row:
        on_row(row(100, 0.7, 0.0, train_loss=2.0, test_loss=2.5))
        on_row(row(200, 0.848, 0.011, train_loss=1.33, test_loss=2.91))
        time.sleep(0.6)  # the display redraws itself (4-10 times a second)
        con.file.write("^C")  # the tty's echo, at the cursor
        raise KeyboardInterrupt
    lines = screen(con.file.getvalue(), cols)
    assert sum(line.startswith("step ") for line in lines) == 1, "\n".join(lines)
    assert sum(line.startswith("train acc 0.848") for line in lines) == 1, "\n".join(lines)
    assert not any(line.startswith("train acc 0.700") or line == "^C" for line in lines), "\n".join(lines)


@pytest.mark.parametrize("cols", [60, 120])
def test_ctrl_c_during_a_run_leaves_the_last_progress_line_once(monkeypatch, tmp_path, cols):
    """The same through `grokscope run`: Ctrl-C raised from the engine's row callback."""
    con = terminal(monkeypatch, cols)
    real = cli._progress

    class interrupted_at_200(real):
        def __enter__(self):
            on_row = super().__enter__()

            def interrupting(row):
                on_row(row)
                if row["step"] >= 200:
                    con.file.write("^C")  # the tty's echo, at the cursor
                    raise KeyboardInterrupt

            return interrupting

    monkeypatch.setattr(cli, "_progress", interrupted_at_200)
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY, "--set", "train.steps=100000",
                                 "--set", "train.checkpoint_every=100"])
    assert result.exit_code == 130, result.output
    lines = screen(con.file.getvalue(), cols)
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == 1 and steps[0].startswith("step 200 "), "\n".join(lines)
    assert any(line.startswith("error: interrupted; continue with: grokscope run --resume") for line in lines)


def test_resume_says_from_which_step_it_continues_and_every_run_where_its_report_is(monkeypatch, tmp_path):
    real = cli._progress

    class interrupted_at_1100(real):
        def __enter__(self):
            on_row = super().__enter__()

            def interrupting(row):
                if row["step"] >= 1100:
                    raise KeyboardInterrupt
                on_row(row)

            return interrupting

    monkeypatch.setattr(cli, "_progress", interrupted_at_1100)
    terminal(monkeypatch)
    args = ["run", "--out", str(tmp_path), *TINY, "--set", "train.steps=1200", "--set", "train.checkpoint_every=1000"]
    assert runner.invoke(app, args).exit_code == 130
    (run_dir,) = tmp_path.iterdir()

    monkeypatch.undo()
    con = terminal(monkeypatch, 250)  # wide enough for a pytest tmp path on one line
    result = runner.invoke(app, ["run", "--resume", str(run_dir)])
    assert result.exit_code == 0, result.output
    shown = screen(con.file.getvalue(), 250)
    assert shown[0] == f"continuing {run_dir} from step 1,000 (of 1,200)", shown
    out = [line for line in ANSI.sub("", result.output).splitlines() if line.strip()]
    assert out[-2:] == [f"run directory: {run_dir}", f"report:        {run_dir / 'report.html'}"], out
    assert (run_dir / "report.html").exists()
    assert re.search(r"│ steps\s+│ 1,200\s+│", result.output), result.output  # one number format


def test_a_quiet_run_also_says_where_its_report_is(tmp_path):
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY, "--set", "train.steps=100", "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    out = [line for line in ANSI.sub("", result.output).splitlines() if line.strip()]
    assert out[-1] == f"report:        {run_dir / 'report.html'}", out


@pytest.mark.parametrize("stop, p, expected", [
    (0.99, 0.8, "eta 0:00:10 to test acc ≥ 99% (≈ step 1,300, by the forecast)"),
    (0.99, 0.3, "eta: until test acc ≥ 99% or step 1,500 (at most 0:00:12)"),  # a forecast it does not believe
    (0.999, 0.8, "eta 0:00:10 to test acc ≥ 99.9% (≈ step 1,300, the forecast of 99%)"),  # its earliest step
])
def test_the_forecast_gives_the_eta_only_where_it_forecasts_the_stop(monkeypatch, stop, p, expected):
    import grokscope.forecast
    from grokscope.forecast.predict import Forecast

    class Tracker:  # stands in for the forecast model: at every evaluation, t_val99 ≈ 1,290 with P = p
        def __init__(self, recipe, budget=None, model=None, history=()):
            self.line, self.forecast = None, None

        def on_row(self, row):
            self.forecast = Forecast(row["step"], 100, 1500, p, 1290, 1000, 1400)
            self.line = self.forecast.line()
            return self.line

    monkeypatch.setattr(grokscope.forecast, "ForecastTracker", Tracker)
    cfg = load_preset("swaroop2026_fast").override([f"train.stop_test_acc={stop}"])
    lines = show(monkeypatch, cfg, [row(s, 1.0, 0.2) for s in range(0, 350, 50)])  # 100 steps/s
    assert lines[0].endswith(expected), lines[0]
    if p >= 0.5:
        assert lines[-1] == f"forecast: groks ≈ step 1,290 (80% interval 1,000–1,400), P(by step 1,500) = {p:.2f}"
    else:
        assert lines[-1] == (f"forecast: P(groks by step 1,500) = {p:.2f}; if it does, ≈ step 1,290 "
                             "(80% interval 1,000–1,400)")


def test_the_default_run_shows_a_forecast_from_memorisation_on(monkeypatch):
    """The default preset's budget is 500,000 steps; its forecast does not wait for any fraction of it: the
    line is there at the first evaluations after train accuracy reaches 99% (step 300 here), not before."""
    cfg = load_preset("swaroop2026")
    rows = [row(s, min(1.0, 0.2 + s / 375), 0.01 + s / 2e5, test_loss=4.0 - s / 5000, train_loss=2.0 / (1 + s),
                weight_norm=60.0 - s / 200) for s in range(0, 900, 50)]
    before = show(monkeypatch, cfg, [r for r in rows if r["step"] < 300])
    assert not any(line.startswith("forecast") for line in before), before
    after = show(monkeypatch, cfg, rows)
    assert after[-1].startswith("forecast: "), after  # made at step 850, the last evaluation
    fresh = ForecastTracker(recipe_of(cfg), cfg.train.steps)
    assert [fresh.on_row(r) for r in rows][-1] == after[-1]
