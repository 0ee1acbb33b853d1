"""The `grokscope` command. Heavy imports (torch) happen inside commands so --help is instant."""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from grokscope.analysis.measures import MEASURES
from grokscope.config import CHOICES
from grokscope.reproduce import REPRODUCTIONS
from grokscope.store.names import FORECAST_MODEL, SWEEP
from grokscope.sweep import BACKENDS


class _Group(TyperGroup):
    """Bad option values (a choice not in the list, a non-integer, ...) end in one red line and exit 2,
    like every other CLI error, instead of click's usage block."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _UsageError as e:  # also an unknown option or a missing value: one line, not a usage block
            where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
            _fail(escape(e.format_message().replace("Value error, ", "")) + where)


# typer >= 0.24 vendors click (not click.UsageError) and exports only BadParameter: its base is UsageError
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="grokscope: train, dissect, sweep and look at models that grok.",
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    # messages are plain text: "pip install 'grokscope[wandb]'" must keep its [...] (not rich markup)
    from rich.markup import escape

    # emoji=False: a message quoting "RUN:soon:" must not turn ":soon:" into an emoji
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True, emoji=False)
    raise typer.Exit(code)


# Choice options, read from the registry or constant that defines each choice (all torch-free: a registry
# knows its names before it imports a plug-in's module), so `--help` stays instant and lists nothing twice.
def _choices(name: str, values: Any) -> Any:
    return enum.StrEnum(name, {v: v for v in values})


Backend = _choices("Backend", BACKENDS)
Measure = _choices("Measure", MEASURES)
Device = _choices("Device", CHOICES["train.device"])


def _version(value: bool) -> None:
    if value:
        from grokscope import __version__

        typer.echo(f"grokscope {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


# `run --resume DIR` continues DIR with its own config.json: these options would be silently ignored.
_NOT_WITH_RESUME = {"preset": "--preset", "set_": "--set", "out": "--out", "name": "--name", "force": "--force",
                    "init_from": "--init-from"}


@app.command()
def run(
    ctx: typer.Context,
    preset: Annotated[str, typer.Option(help="Recipe to start from (see `grokscope presets`).")] = "swaroop2026",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Directory that holds run directories.")] = Path("runs"),
    name: Annotated[str | None, typer.Option(help="Run directory name (default: the run id).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue an interrupted run directory.")] = None,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", help="Start from another run's checkpoint: RUN or RUN:STEP (STEP an int or final | saturation "
                            "| first; default final). The config is that run's (or --preset's) with --set on top.")] = None,
    force: Annotated[bool, typer.Option(help="Retrain even if the run directory exists.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    threads: Annotated[int, typer.Option(help="CPU threads for torch (default 0: the cores free now, i.e. cores "
                                              "minus the 1-minute load, so a busy machine is not oversubscribed).")] = 0,
    log: Annotated[str | None, typer.Option("--log", help=LOG_HELP)] = None,
) -> None:
    """Train one model; writes runs/<id>/ (config, metrics, checkpoints, curves, summary)."""
    from grokscope.errors import GrokscopeError

    if resume is not None:
        # by name: typer vendors its own click, so click.core.ParameterSource is not the enum used here
        given = [flag if flag != "--force" or force else "--no-force" for key, flag in _NOT_WITH_RESUME.items()
                 if getattr(ctx.get_parameter_source(key), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")]
        if given:
            _fail(f"{', '.join(given)} cannot be used with --resume (a resumed run keeps its own config.json "
                  f"and directory); drop {'it' if len(given) == 1 else 'them'}")
    if threads < 0:
        _fail(f"--threads must be >= 0, got {threads}")
    path: Path | None = None  # the run directory, once known (for the Ctrl-C message)
    try:
        from grokscope.cores import CoreWatch, free_cores

        watch = CoreWatch() if not threads else None  # the free cores are sampled while torch loads
        import torch

        torch.set_num_threads(threads or free_cores(watch))  # a single run: every free core
        from grokscope import api
        from grokscope.presets import load_preset

        history: list[dict] = []  # a resumed run's rows so far: the progress line continues from them
        source = None  # --init-from's checkpoint
        if resume is not None:
            from grokscope.store.rundir import load_resume

            cfg, state = load_resume(resume)  # refuses a finished or torn run before anything is printed
            path, history = resume, state.history
        else:
            from grokscope.config import check_name

            if init_from is not None:
                from grokscope.store.init_from import load_source

                source = load_source(init_from)  # not a run, no such step: one line, nothing written
            preset_given = getattr(ctx.get_parameter_source("preset"), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")
            # --init-from without --preset continues the source's recipe (e.g. only a smaller task.frac_train)
            base = load_preset(preset) if source is None or preset_given else api.load_run(source.path).config
            cfg = base.override(set_ or [])
            if source is not None and name is None:
                name = api.init_name(cfg, source.params, source.info())  # checks the shapes: a mismatch is one line
            path = out / (check_name(name, "--name") if name is not None else cfg.run_id)
        sinks = _tracker_sinks(log, path, cfg)  # before training: a missing extra fails first
        if resume is not None:
            console.print(f"continuing {path} from step {state.step:,} (of {cfg.train.steps:,})",
                          highlight=False, soft_wrap=True, markup=False)
        else:
            start = "" if source is None else f" (from {escape(str(source.path))} step {source.step:,})"
            console.print(f"[bold]grokscope run[/bold] {cfg.run_id} -> {escape(str(path))}{start}", highlight=False,
                          soft_wrap=True)
        with _progress(cfg, quiet, history) as on_row:
            if resume is not None:
                result = api.resume(resume, on_row=on_row, sinks=sinks)
            else:
                result = api.run(cfg, out, name=name, force=force, on_row=on_row, sinks=sinks, init_from=init_from)
    except GrokscopeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(_interrupted(path), code=130)
    _print_summary(result.summary or {}, result.path)


LOG_HELP = ("Also log to experiment trackers: wandb (offline, <run>/wandb/), tensorboard (<run>/tensorboard/); "
            "comma-separated; optional extras grokscope[wandb] / grokscope[tensorboard].")


def _tracker_sinks(log: str | None, path: Path, cfg: Any) -> list:
    """`--log` -> tracker sinks for one run directory (GrokscopeError for unknown / uninstalled)."""
    if not log:
        return []
    from grokscope.train.trackers import parse_log, tracker_sinks

    return tracker_sinks(parse_log(log), path, cfg)


def _tracker_factory(log: str | None) -> Any:
    """`--log` -> a per-run sink factory for sweeps (None without trackers)."""
    if not log:
        return None
    from grokscope.train.trackers import parse_log, tracker_factory

    return tracker_factory(parse_log(log))


def _interrupted(path: Path | None) -> str:
    """The Ctrl-C message for `run`: how to go on, if there is anything to go on from."""
    if path is None:
        return "interrupted"
    from grokscope.store.rundir import STATE, is_finished  # imported by now: `path` is set after `api`

    if is_finished(path):
        return f"interrupted; the run had finished: {path}"
    if (path / STATE).exists():
        return f"interrupted; continue with: grokscope run --resume {path}"
    return f"interrupted before the first checkpoint; nothing to resume in {path} (start again with --force)" \
        if path.exists() else "interrupted"


def _steps(n: int) -> str:
    """A step count as the terminal shows it everywhere: 21,600."""
    return f"{int(n):,}"


def _acc(x: float) -> str:
    return f"{x:.3f}"


def _loss(x: float) -> str:
    return f"{x:.3g}"


def _pct(x: float) -> str:
    """A threshold as a percentage: 0.999 -> 99.9%."""
    return f"{x * 100:g}%"


def _clock(seconds: float) -> str:
    """A duration as h:mm:ss (rich's elapsed-time format)."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


_TREND_ROWS = 4  # evaluations the test-accuracy trend is read from
_TREND_FROM = 0.5  # ... once most test pairs are right (grokking under way): below, logit(acc) is mostly noise


def _trend_crossing(rows: list[dict], target: float) -> float | None:
    """The step at which test accuracy reaches `target` if logit(test acc) keeps its straight line over
    the last evaluations (a grokking transition is close to logistic in the step); None while test
    accuracy is below half or not rising."""
    recent = [r for r in rows[-_TREND_ROWS:] if r.get("test_acc") is not None and math.isfinite(r["test_acc"])]
    if len(recent) < 2 or recent[-1]["test_acc"] < _TREND_FROM:
        return None
    eps = 1e-4  # a test accuracy of exactly 0 or 1 has no logit
    logit = lambda a: math.log(min(max(a, eps), 1 - eps) / (1 - min(max(a, eps), 1 - eps)))  # noqa: E731
    xs = [float(r["step"]) for r in recent]
    ys = [logit(r["test_acc"]) for r in recent]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx > 0 else 0.0
    if not slope > 0:
        return None
    return xs[-1] + max(0.0, logit(target) - ys[-1]) / slope


class _progress:
    """The live display of `grokscope run` (stderr), fed by the engine's evaluation rows. Everything it
    shows is true at the last evaluation:

        step 21,600  ━━━━━━━━━━━━━━━━━━━━  0:01:02  eta 0:00:41 to test acc ≥ 99.9% (≈ step 31,000, by its trend)
        train acc 1.000 loss 0.0046 · test acc 0.310 loss 2.1
        forecast: … (made at that evaluation)   |   grokked at step 450 (test acc ≥ 99%)

    The ETA is to the run's stop condition: where the test-accuracy trend (or the forecast, when it
    predicts the stop threshold itself) puts it; otherwise it says what the run waits for, with the
    time to the step budget as an upper bound. A bar is drawn only towards a step the run is expected
    to stop at. The display is kept 2 columns short of the terminal so the "^C" the terminal echoes
    at Ctrl-C does not wrap it onto a new line (which left the last line printed twice).
    """

    def __init__(self, cfg: Any, quiet: bool, history: list[dict] | None = None):
        from grokscope.events import EVENT_THRESHOLD, first_step

        self.quiet, self.cfg = quiet, cfg
        self.rows: list[dict] = list(history or [])  # a resumed run's rows so far, then this process's
        self.budget = int(cfg.train.steps)
        self.stop_acc = float(cfg.train.stop_test_acc)  # > 1: the accuracy stop rule is off
        self.t_val99: int | None = first_step(self.rows, "test_acc", EVENT_THRESHOLD)
        self.tracker: Any = None
        self._first: tuple[int, float] | None = None  # (step, wall_s) of this process's first row
        self._rate: float | None = None  # steps per second in this process
        self.shown = self.texts()

    def __enter__(self):
        if self.quiet:
            return None
        import time

        from rich.live import Live

        from grokscope.forecast import ForecastTracker, recipe_of

        # from memorisation on, the forecast is remade at every evaluation (numpy only)
        self.tracker = ForecastTracker(recipe_of(self.cfg), self.budget, history=self.rows)
        self._t0, self._now, self._t_end = time.monotonic(), time.monotonic, None
        self.shown = self.texts()
        self.live = Live(self, console=console, refresh_per_second=4)
        self.live.__enter__()
        return self.on_row

    def __exit__(self, *exc: Any) -> None:
        if not self.quiet:
            self.live.__exit__(*exc)  # draws the last state once (also at Ctrl-C)

    def on_row(self, row: dict) -> None:
        from grokscope.events import EVENT_THRESHOLD, first_step

        self.rows.append(row)
        if self.t_val99 is None:
            self.t_val99 = first_step([row], "test_acc", EVENT_THRESHOLD)
        self.tracker.on_row(row)  # its line is shown only while t_val99 is unknown
        wall = row.get("wall_s")
        if isinstance(wall, int | float) and math.isfinite(wall):
            if self._first is None:
                self._first = (int(row["step"]), float(wall))
            elif wall > self._first[1] and row["step"] > self._first[0]:
                self._rate = (row["step"] - self._first[0]) / (wall - self._first[1])
        self.shown = self.texts()  # one assignment: the refresh thread never sees half an update
        if self.shown["eta"].startswith("done") and self.tracker is not None:  # training is over: stop the clock
            self._t_end = self._now()

    # what the display says, from the rows so far

    def texts(self) -> dict[str, Any]:
        """step, bar (the step the bar runs to, or None), eta, stats and event (the last line) as shown."""
        if not self.rows:
            return {"step": 0, "bar": None, "eta": "", "stats": "", "event": ""}
        last = self.rows[-1]
        expected = self._expected_stop()
        return {"step": int(last["step"]), "bar": None if expected is None else expected[0],
                "eta": self._eta(last, expected), "stats": self._stats(last), "event": self._event(last)}

    def _stops_on_acc(self) -> bool:
        return self.stop_acc <= 1.0

    def _expected_stop(self) -> tuple[int, str] | None:
        """(step, how it was estimated) of the evaluation the run is expected to stop at, or None."""
        if not self._stops_on_acc():
            return self.budget, ""
        from grokscope.events import EVENT_THRESHOLD

        at = _trend_crossing(self.rows, self.stop_acc)
        how = "by its trend"
        fc = self.tracker.forecast if self.tracker is not None else None
        if at is None and fc is not None and fc.cut_step == int(self.rows[-1]["step"]) and not fc.observed \
                and fc.p_groks >= 0.5 and self.stop_acc >= EVENT_THRESHOLD:
            # the forecast is of t_val99: the stop itself at a 99% stop rule, its earliest step at a higher one
            at = float(fc.t_val99)
            how = "by the forecast" if math.isclose(self.stop_acc, EVENT_THRESHOLD) else "the forecast of 99%"
        if at is None:
            return None
        every = max(1, int(self.cfg.train.eval_every))
        step = math.ceil(at / every) * every  # the run stops at an evaluation
        return (step, how) if step < self.budget else None

    def _eta(self, last: dict, expected: tuple[int, str] | None) -> str:
        step = int(last["step"])
        if self._stops_on_acc() and last.get("test_acc") is not None and last["test_acc"] >= self.stop_acc:
            return f"done: test acc ≥ {_pct(self.stop_acc)}"
        if step >= self.budget:
            return f"done: step {_steps(self.budget)} (the budget)"
        time_to = lambda s: "-:--:--" if self._rate is None else _clock((s - step) / self._rate)  # noqa: E731
        if expected is None:
            cfg = self.cfg.train
            waits = [f"test acc ≥ {_pct(self.stop_acc)}"]
            if cfg.patience > 0:
                waits.append(f"no gain in {_steps(cfg.patience)} steps")
            warmup = round(0.2 * self.budget)  # the forecast stop rule's one look (forecast.stop_rule)
            if cfg.stop_forecast_p > 0 and step < warmup:
                waits.append(f"P(groks) < {cfg.stop_forecast_p:g} at step {_steps(warmup)}")
            waits.append(f"step {_steps(self.budget)}")
            until = ", ".join(waits[:-1]) + (", or " if len(waits) > 2 else " or ") + waits[-1]
            bound = f" (at most {time_to(self.budget)})" if self._rate is not None else ""
            return f"eta: until {until}{bound}"
        at, how = expected
        if not how:
            return f"eta {time_to(at)} to step {_steps(at)}"
        return f"eta {time_to(at)} to test acc ≥ {_pct(self.stop_acc)} (≈ step {_steps(at)}, {how})"

    @staticmethod
    def _stats(last: dict) -> str:
        return (f"train acc {_acc(last['train_acc'])} loss {_loss(last['train_loss'])} · "
                f"test acc {_acc(last['test_acc'])} loss {_loss(last['test_loss'])}")

    def _event(self, last: dict) -> str:
        """The truth once known (t_val99), else the forecast made at the last evaluation, if any."""
        from grokscope.events import EVENT_THRESHOLD

        if self.t_val99 is not None:
            return f"grokked at step {_steps(self.t_val99)} (test acc ≥ {_pct(EVENT_THRESHOLD)})"
        if int(last["step"]) >= self.budget:
            return f"not grokked: test acc < {_pct(EVENT_THRESHOLD)} up to step {_steps(self.budget)} (the budget)"
        line = self.tracker.line if self.tracker is not None else None
        fc = self.tracker.forecast if line else None
        if fc is not None and fc.cut_step != int(last["step"]):
            return ""  # never a forecast older than the last evaluation
        return line or ""

    def __rich_console__(self, cons: Any, options: Any):
        from rich.console import Group
        from rich.constrain import Constrain
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        shown = self.shown
        head = Table.grid(padding=(0, 2))
        cells: list[Any] = [Text(f"step {_steps(shown['step'])}")]
        if shown["bar"] is not None:
            cells.append(ProgressBar(total=shown["bar"], completed=min(shown["step"], shown["bar"]), width=20))
        cells += [Text(_clock((self._t_end or self._now()) - self._t0), style="progress.elapsed"), Text(shown["eta"])]
        head.add_row(*cells)
        lines: list[Any] = [head, Text(shown["stats"])]
        if shown["event"]:
            lines.append(Text(shown["event"]))
        yield Constrain(Group(*lines), width=max(20, options.max_width - 2))


def _print_summary(summary: dict, path: Path) -> None:
    from rich.table import Table

    from grokscope.store.names import REPORT

    table = Table(title=f"run {summary.get('run_id', path.name)}", show_header=False)

    def fmt(key: str, v: Any) -> str:
        if v is None:
            return "—"
        if key == "wall_s":
            return _clock(v)
        if key.endswith("_acc"):
            return _acc(v)
        if key.endswith("_loss"):
            return _loss(v)
        return _steps(v) if isinstance(v, int) and not isinstance(v, bool) else str(v)

    labels = {"wall_s": "wall time"}
    for key in ("stop_reason", "steps", "t_train99", "t_val99", "delta_t", "saturation_step",
                "final_train_acc", "final_test_acc", "final_test_loss", "wall_s"):
        if key in summary:
            table.add_row(labels.get(key, key), fmt(key, summary[key]))
    init = _init_line(path)
    if init:
        table.add_row("initialised from", init)
    verdict = _verdict_line(path)
    if verdict:
        table.add_row("is this grokking?", verdict)
    out = Console()
    out.print(table)
    report = path / REPORT
    out.print(f"run directory: {path}", highlight=False, soft_wrap=True, markup=False)
    out.print(f"report:        {report}" if report.exists() else "report:        not written (see the warning above)",
              highlight=False, soft_wrap=True, markup=False)


def _init_line(path: Path) -> str | None:
    """Where a run's start weights came from (its init.json), or None for a seeded init."""
    from grokscope.store.init_from import read_init

    info = read_init(path)
    if info is None:
        return None
    source, step, run_id = info.get("source"), info.get("step"), info.get("source_run_id")
    return f"{source} step {step:,} ({run_id})" if isinstance(step, int) else f"{source} ({run_id})"


def _verdict_line(path: Path) -> str | None:
    """The forecast verdict on a finished run ("grokking — ΔT = ..."), or None if it cannot be made."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import verdict_run

    try:
        return verdict_run(path).text()
    except (GrokscopeError, OSError, ValueError, KeyError):
        return None


@app.command()
def tasks() -> None:
    """List the tasks (datasets): what each yields, its config fields and the model families that take it."""
    from rich.markup import escape
    from rich.table import Table

    from grokscope.config import FAMILIES, TASKS

    table = Table("task.name", "yields", "fields (task.*)", "model.arch", "description")
    for name, kind in TASKS.items():
        archs = ", ".join(a for a, f in FAMILIES.items() if f.inputs == kind.inputs)
        table.add_row(name, f"{kind.inputs} -> {kind.targets}", ", ".join(kind.fields), archs, escape(kind.about))
    Console().print(table)


@app.command()
def presets() -> None:
    """List the presets (published recipes) with one-line descriptions."""
    from rich.markup import escape
    from rich.table import Table

    from grokscope.presets import DEFAULT, describe

    table = Table("preset", "description")
    for preset_name, text in describe().items():
        table.add_row(preset_name + (" (default)" if preset_name == DEFAULT else ""), escape(text))
    Console().print(table)


@app.command()
def analyze(
    path: Annotated[Path, typer.Argument(help="A run directory.")],
    measure: Annotated[list[Measure] | None, typer.Option(help="Measure to compute (repeatable; default: all that apply).")] = None,
    step: Annotated[list[int] | None, typer.Option(help="Only these checkpoint steps (repeatable).")] = None,
    figures: Annotated[bool, typer.Option(help="Write figures/*.png.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Mechanistic measures over every checkpoint -> analysis.parquet, analysis.json, figures/."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from grokscope.analysis.pipeline import analyze_run, resolve_measures
    from grokscope.errors import GrokscopeError
    from grokscope.store.run import load_run

    measures = [m.value for m in measure] if measure else None
    try:
        resolve_measures(load_run(path), measures)  # a bad measure is one line, before the progress bar
        if quiet:
            result = analyze_run(path, measures=measures, steps=step or None)
        else:
            with Progress(TextColumn("checkpoints"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as bar:
                task = bar.add_task("analyze", total=None)
                result = analyze_run(path, measures=measures, steps=step or None,
                                     on_step=lambda i, n: bar.update(task, completed=i, total=n))
        if figures:
            from grokscope.report.analysis_figures import write_analysis_figures

            write_analysis_figures(path, result)
    except GrokscopeError as e:
        _fail(str(e))
    s = result.summary
    table = Table(title=f"analysis {s.get('run_id', path.name)}", show_header=False)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    keys = s.get("key_freqs")
    if isinstance(keys, str) and keys.count(",") > 11:
        keys = ",".join(keys.split(",")[:12]) + f",… ({keys.count(',') + 1})"
    rows = [("key frequencies (W_L ≥ max/4)", keys),
            ("structured neurons", f"{s.get('n_structured')} / {s.get('n_neurons')}" if "n_structured" in s else None),
            ("frequency agreement (all / structured)",
             f"{fmt(s['freq_agreement'])} / {fmt(s.get('freq_agreement_structured'))}" if "freq_agreement" in s else None),
            ("phase-sum r (structured, Jammalamadaka–Sarma)", s.get("phase_sum_r_structured")),
            ("square-vs-cosine t (structured)", s.get("sq_vs_cos_t_structured"))]
    for label in ("final", "saturation", "first"):
        if f"ideal_sq_cos_test_nu_{label}" in s:
            rows.append((f"idealized Sq→Cos test acc, {label} (φ_out at ν / own bin)",
                         f"{fmt(s[f'ideal_sq_cos_test_nu_{label}'])} / {fmt(s[f'ideal_sq_cos_test_own_{label}'])}"))
    if "algorithm" in s:
        algo = (f"{s['algorithm']}  (gradsym {fmt(s['gradient_symmetricity'])}, "
                f"DI {fmt(s['distance_irrelevance'])})")
        rows.append(("algorithm (clock / pizza)", algo))
    rows += [("phase (Liu / Doshi)", f"{s.get('liu_phase')} / {s.get('doshi_phase')}"),
             ("events t_train99 / t_circuit / t_cleanup / t_val99",
              f"{s.get('t_train99')} / {s.get('t_circuit')} / {s.get('t_cleanup')} / {s.get('t_val99')}"),
             ("checkpoints analysed", s.get("n_checkpoints")), ("wall s", s.get("analysis_wall_s")),
             ("written", ", ".join(f.name for f in result.files[:3]) + (" + figures" if figures else ""))]
    for key, value in rows:
        if value is not None:
            table.add_row(key, fmt(value))
    Console().print(table)


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec TOML (see sweeps/pair_phase.toml).")],
    backend: Annotated[Backend, typer.Option(help="local (process pool) or ray.")] = Backend.local,
    workers: Annotated[int | None, typer.Option(help="Worker processes / Ray CPUs (default: one per free core, at most one per chunk); 0 = in this process.")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per worker (default: free cores / workers).")] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep directory (default: runs/<spec name>).")] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address to join (ray backend).")] = None,
    chunk: Annotated[int | None, typer.Option(help="Most models per ensemble (default: the spec's chunk, 256).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Expand the spec, print the plan, train nothing.")] = False,
    plots: Annotated[bool, typer.Option(help="Write phase-diagram PNGs at the end.")] = True,
    x: Annotated[str | None, typer.Option(help="Phase-diagram x axis (config key).")] = None,
    y: Annotated[str | None, typer.Option(help="Phase-diagram y axis (config key).")] = None,
    facet: Annotated[str | None, typer.Option(help="Phase-diagram facet (config key).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    log: Annotated[str | None, typer.Option("--log", help=LOG_HELP)] = None,
    stop_forecast: Annotated[float | None, typer.Option(
        "--stop-forecast", metavar="P", help="Stop a run at 20% of its budget when the forecast P(groks) < P "
        "(sets train.stop_forecast_p on every run; off by default; prints the rule's measured false-negative "
        "rate).")] = None,
) -> None:
    """Train every run of a sweep spec (resumable) -> runs/<name>/, grokscope.duckdb, phase_*.png."""
    import logging

    from rich.table import Table

    from grokscope.errors import GrokscopeError
    from grokscope.sweep.runner import plan, run_sweep, with_stop_forecast
    from grokscope.sweep.spec import expand, load_spec

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    backend_name = backend.value
    path = out
    try:
        parsed = load_spec(spec)
        if stop_forecast is not None:
            parsed = with_stop_forecast(parsed, stop_forecast)
        trackers = _tracker_factory(log)
        cfgs = expand(parsed)
        path = out or Path("runs") / parsed.name
        chunks, n_workers, n_threads = plan(cfgs, chunk or parsed.chunk, workers, threads)
        console.print(f"[bold]grokscope sweep[/bold] {parsed.name}: {len(cfgs)} runs in {len(chunks)} chunks "
                      f"(<= {chunk or parsed.chunk} models each), backend {backend_name}, "
                      f"workers {n_workers} × {n_threads} thread(s) -> {path}", highlight=False)
        stop_ps = sorted({c.train.stop_forecast_p for c in cfgs if c.train.stop_forecast_p > 0})
        for line in _stop_rule_lines(stop_ps):
            console.print(line, highlight=False)
        if dry_run:
            return
        with _SweepProgress(len(cfgs), quiet) as on_progress:
            result = run_sweep(parsed, path, backend=backend_name, workers=workers, threads=threads, address=address,
                               chunk=chunk, on_progress=on_progress, sinks=trackers)
        paths: list = []
        if plots:
            from grokscope.report.phase import summary_rows, sweep_phase_diagrams

            paths, df, (_, _, fcol) = sweep_phase_diagrams(result.path, x, y, facet)
            if len(df):
                header, rows = summary_rows(df, fcol)
                table = Table(*header, title=f"sweep {parsed.name}: Liu phases")
                for row in rows:
                    table.add_row(*row)
                Console().print(table)
    except GrokscopeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; re-run the same command to resume ({path})" if path else "interrupted", code=130)
    console.print(
        f"{result.n_runs} runs: {result.skipped} already done, {result.finished} finished, "
        f"{result.diverged} diverged, {result.failed} failed/unfinished"
        + (f" ({result.forecast_stopped} of the finished stopped as forecast never to grok)" if stop_ps else "")
        + f"; {result.wall_s:.1f} s -> {result.path}"
        + (f"; {len(paths)} phase diagrams" if paths else ""), highlight=False)


def _stop_rule_lines(ps: list[float]) -> list[str]:
    """One line per forecast stop threshold of a sweep: the rule and its measured false-negative rate."""
    if not ps:
        return []
    from grokscope.forecast import ForecastError, load_model, stop_rule_line

    try:
        model = load_model()
    except ForecastError as e:
        return [f"stopping runs forecast never to grok: P < {', '.join(f'{p:g}' for p in ps)}, but {e}; "
                "the rule will not apply (the runs train on)"]
    return [stop_rule_line(p, model) for p in ps]


@app.command()
def compare(
    spec: Annotated[Path, typer.Argument(help="Compare spec TOML: base preset, seeds, [set], [[arm]] tables with method and lr grid.")],
    out: Annotated[Path | None, typer.Option(help="Output directory (default: runs/<spec name>).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: min(2, cores)); 0 = in this process.")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per worker (default: free cores / workers).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    log: Annotated[str | None, typer.Option("--log", help=LOG_HELP)] = None,
    extend: Annotated[bool | None, typer.Option("--extend/--no-extend", help="Extend an arm's lr grid while its best lr "
                                                "is on the grid's edge (default: the spec's extend_lr, true).")] = None,
) -> None:
    """A method against baselines over seeds (lr grid per arm, same budget) -> t_val99 table, speed-up CI, plot."""
    import logging

    from rich.table import Table

    from grokscope.compare import run_compare
    from grokscope.compare.spec import load_compare, sweep_spec
    from grokscope.errors import GrokscopeError
    from grokscope.report.compare import describe
    from grokscope.sweep.spec import expand

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    path = out
    try:
        parsed = load_compare(spec)
        trackers = _tracker_factory(log)
        n_runs = len(expand(sweep_spec(parsed)))
        path = out or Path("runs") / parsed.name
        console.print(f"[bold]grokscope compare[/bold] {parsed.name}: {len(parsed.arms)} arms, {n_runs} runs -> {path}",
                      highlight=False)
        with _SweepProgress(n_runs, quiet) as on_progress:
            result = run_compare(parsed, path, workers=workers, threads=threads, on_progress=on_progress,
                                 sinks=trackers, extend=extend)
    except GrokscopeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; re-run the same command to resume ({path})" if path else "interrupted", code=130)
    from rich.markup import escape

    fmt = lambda x: "never" if x == float("inf") else f"{x:.0f}"  # noqa: E731
    table = Table("arm", "method", "best lr", "optimizer (wd)", "grokked", escape("t_val99 median [IQR]"),
                  "t_val95 median", "wall s", "state MB", title=f"compare {parsed.name}")
    for a in result.arms:
        q = a["t_val99"]
        table.add_row(a["arm"], a["method"], f"{a['lr']:.3g}" + (f" ({a['edge']} edge)" if a.get("edge") else ""), f"{a['optimizer']} ({a['wd_coupling']} {a['weight_decay']:g})",
                      f"{a['grokked']:.0%}", escape(f"{fmt(q['median'])} [{fmt(q['q25'])}, {fmt(q['q75'])}]"),
                      fmt(a["t_val95"]["median"]), f"{a['wall_s']:.1f}", f"{a['state_mb']:.2f}")
    Console().print(table)
    for sp in result.speedups:
        console.print(f"{sp['event']}: {sp['arm']} vs {sp['baseline_arm']}: speed-up {describe(sp)} "
                      f"({round(sp['level'] * 100)}% bootstrap CI)", highlight=False, markup=False)
    console.print(f"{result.wall_s:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB -> {result.path}"
                  + (f" ({result.plot.name})" if result.plot else ""), highlight=False)


class _SweepProgress:
    """One aggregate bar for a sweep: runs done / running / failed, elapsed, ETA."""

    def __init__(self, total: int, quiet: bool):
        self.total, self.quiet = total, quiet

    def __enter__(self):
        if self.quiet:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console)
        self.task = self.bar.add_task("sweep", total=self.total, stats="")
        self.bar.__enter__()

        def on_progress(t) -> None:
            stats = f"running {len(t.running)}  failed {len(t.failed)}  diverged {len(t.diverged)}"
            self.bar.update(self.task, completed=t.completed, stats=stats)

        return on_progress

    def __exit__(self, *exc: Any) -> None:
        if not self.quiet:
            self.bar.__exit__(*exc)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the tables runs and metrics (see grokscope.store.db).")],
    db: Annotated[Path | None, typer.Option(help="An existing grokscope.duckdb file.")] = None,
    root: Annotated[Path, typer.Option(help="Directory of runs / sweeps to index (refreshed if stale).")] = Path("runs"),
    limit: Annotated[int, typer.Option(help="Most rows to print.")] = 50,
) -> None:
    """Query the DuckDB index of a runs directory; prints a table."""
    from rich.table import Table

    from grokscope.errors import GrokscopeError
    from grokscope.store.db import query as run_query

    try:
        df = run_query(sql, root=None if db else root, db=db)
    except GrokscopeError as e:
        _fail(str(e))
    table = Table(*[str(c) for c in df.columns], caption=f"{len(df)} rows" + (f" (first {limit} shown)" if len(df) > limit else ""))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    for row in df.head(limit).itertuples(index=False):
        table.add_row(*[fmt(v) for v in row])
    Console().print(table)


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(
        metavar="PATH", help="A run directory (or a sweep directory with sweep.json); two or more run "
                                "directories: one page that compares them.")],
    out: Annotated[Path | None, typer.Option(help="Write the HTML here (default: <path>/report.html; comparing "
                                                  "runs: compare.html in the current directory).")] = None,
    frames: Annotated[int, typer.Option(help="Most checkpoints in the slider.")] = 60,
    png: Annotated[bool, typer.Option(help="Also write static PNGs into <path>/report_figures/.")] = True,
    run_reports: Annotated[bool, typer.Option(help="Sweep: also write a report for every finished run (~5 MB each).")] = False,
) -> None:
    """Self-contained HTML report (opens offline): curves, events, Fourier weights, checkpoint slider; given two or more runs, one page comparing their curves, events and configs."""
    import time

    from grokscope.errors import GrokscopeError

    t0 = time.perf_counter()
    path = paths[0]
    try:
        if len(paths) > 1:
            from grokscope.report.compare_runs import write_compare_report

            if run_reports:
                _fail("--run-reports is for a sweep directory; comparing runs takes two or more run directories")
            written = write_compare_report(paths, out=out)
        elif (path / SWEEP).exists():
            from grokscope.report.sweep_html import write_sweep_report
            from grokscope.store.files import read_json

            read_json(path / SWEEP, "re-run the sweep (grokscope sweep SPEC --out DIR) to write it again")

            written = write_sweep_report(path, out=out, run_reports=run_reports)
        else:
            from grokscope.report.html import write_run_report

            written = write_run_report(path, out=out, max_frames=frames, png=png)
    except GrokscopeError as e:
        _fail(str(e))
    console.print(f"report {written} ({written.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)",
                  highlight=False)


@app.command()
def reproduce(
    name: Annotated[str, typer.Argument(help=f"Which paper: {', '.join(REPRODUCTIONS)}.")],
    quick: Annotated[bool, typer.Option("--quick", help="Small variant (about a minute on a CPU) with the same qualitative claims.")] = False,
    out: Annotated[Path | None, typer.Option(help="Output folder (default runs/reproduce/<name>[_quick]).")] = None,
    device: Annotated[Device, typer.Option(help="Where to train.")] = Device.cpu,
    seed: Annotated[int, typer.Option(help="First replicate: shifts every run's init and data seed (0 = the paper's).")] = 0,
    seeds: Annotated[int, typer.Option(help="Replicates (seed, seed + 1, …) the claims are read over, trained as one stack.")] = 3,
) -> None:
    """A paper's experiment end to end: our numbers beside the paper's, the largest difference, and each
    of the paper's claims ✓ / ✗ / not tested at this scale over the seeds."""
    import logging

    from grokscope.errors import GrokscopeError
    from grokscope.reproduce import reproduce as run_reproduction

    try:
        REPRODUCTIONS.get(name)  # an unknown name: one line naming the choices, before any logging
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        run_reproduction(name, out=out, quick=quick, device=device.value, console=Console(), seed=seed, seeds=seeds)
    except GrokscopeError as e:
        _fail(str(e))


class _ForecastGroup(_Group):
    """`grokscope forecast RUN` is `grokscope forecast show RUN`: a first argument that is not a subcommand
    (fit, eval, show) or an option is a run directory."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


forecast_app = typer.Typer(cls=_ForecastGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                           help="Forecast grokking from early training: `grokscope forecast runs/<id>`, fit, eval.")
app.add_typer(forecast_app, name="forecast")


@forecast_app.command("show")
def forecast_show(
    path: Annotated[Path, typer.Argument(help="A run directory (finished or not).")],
    fraction: Annotated[float | None, typer.Option(help="Forecast from this fraction of the steps trained (or of the "
                                                        "budget, if earlier; default 0.2), not before memorisation.")] = None,
    step: Annotated[int | None, typer.Option(help="Forecast from the rows up to this step instead.")] = None,
    model: Annotated[Path | None, typer.Option(help="A model JSON from `grokscope forecast fit` (default: the shipped one).")] = None,
) -> None:
    """t_val99 with an 80% interval and P(groks by the horizon), from the run's rows up to the cut only, and
    the verdict: is this grokking?"""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import forecast_run
    from grokscope.store.rundir import read_summary

    try:
        fc, verdict = forecast_run(path, fraction=fraction, step=step, model=model)
        summary = read_summary(path)
    except GrokscopeError as e:
        _fail(str(e))
    typer.echo(f"{path}: memorised at step {fc.t_mem:,}; at step {fc.cut_step:,}: {fc.line()}")
    if summary is not None:
        typer.echo(f"actual: t_val99 = {summary.get('t_val99')}, final test acc {summary.get('final_test_acc')}")
    typer.echo(verdict.line())


@forecast_app.command("fit")
def forecast_fit(
    roots: Annotated[list[Path], typer.Argument(help="Run stores (sweep folders or run directories).")],
    out: Annotated[Path | None, typer.Option(help="Model JSON to write (default: <first store>/forecast_model.json).")] = None,
) -> None:
    """Fit the forecaster on every finished run of the stores (needs scipy: grokscope[forecast]); the
    feature set and penalty are chosen by leave-one-sweep-out inside them."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast.fit import fit_store

    try:
        m = fit_store(roots)
        path = m.save(out or roots[0] / FORECAST_MODEL)
    except GrokscopeError as e:
        _fail(str(e))
    i = m.info
    typer.echo(f"fitted on {i['runs']} runs ({i['n_examples']} run×cut examples, {i['n_grok_runs']} grokking runs; "
               f"families {', '.join(f'{k} {v}' for k, v in i['families'].items())}) -> {path}")
    typer.echo(f"chosen by {i['inner_cv']}: features {i['feature_set']!r}, "
               f"L2 {i['alpha']:g}; sigma {m.sigma:.3f}; null band ≤ {m.null_band:.2f}× chance ({i['null_runs']} runs)")
    if "stop_rule" in i:
        from grokscope.forecast import stop_rule_line

        typer.echo(stop_rule_line(i["stop_rule"]["p"], m))
    for fam, law in sorted(m.laws.items()):
        typer.echo(f"  weight-norm law {fam:<16} kappa {law['kappa']:.3f}  V*/V_mem {law['rho']:.3f}  ({law['n']} runs)")
    typer.echo("standardized coefficients of ln((t_val99 - cut) / cut):")
    for name, c in sorted(zip(m.features, m.coef), key=lambda t: -abs(t[1])):
        typer.echo(f"  {name:<22} {c:+.3f}")


@forecast_app.command("eval")
def forecast_eval(
    roots: Annotated[list[Path], typer.Argument(help="Run stores (sweep folders or run directories).")],
    by: Annotated[list[str] | None, typer.Option(help="Hold out by region, leave-one-value-out (repeatable): "
                                                      "family, sweep, width, op, p, noise, seed.")] = None,
    unseen: Annotated[list[Path] | None, typer.Option(help="Stores never fitted on (repeatable): fit on ROOTS, "
                                                           "score only these runs.")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write calibration and forecast-vs-actual PNGs (and the "
                                                    "held-out forecasts as JSON) into this folder.")] = None,
    features: Annotated[list[str] | None, typer.Option(help="Let the nested choice pick only from these feature "
                                                           "sets (repeatable): all, no law, core.")] = None,
) -> None:
    """Held-out evaluation: for each protocol (when the forecast is made) and method, AUROC of P(groks by
    the horizon), Brier, calibration, t_val99 error and 80%-interval coverage, beside the weight-norm law
    and the test-loss trend."""
    import time

    from rich.table import Table

    from grokscope.errors import GrokscopeError
    from grokscope.forecast.fit import (
        FEATURE_SETS,
        METHODS,
        PROTOCOLS,
        REGIONS,
        STOP_P,
        evaluate,
        law_error,
        load_runs,
    )

    regions = by or ([] if unseen else ["family"])
    bad = [r for r in regions if r not in REGIONS]
    if bad:
        _fail(f"unknown region {bad[0]!r}; choose from {', '.join(REGIONS)}")
    sets = features or list(FEATURE_SETS)
    if any(f not in FEATURE_SETS for f in sets):
        _fail(f"unknown feature set {next(f for f in sets if f not in FEATURE_SETS)!r}; choose from "
              f"{', '.join(FEATURE_SETS)}")
    try:
        runs = load_runs(roots)
        tests: list[tuple[str, str, Any, list[str] | None]] = []
        for region in regions:
            n_regions = len({str(REGIONS[region](r)) for r in runs})
            tests.append((region, f"held out by {region} ({n_regions} regions, {len(runs)} runs", REGIONS[region], None))
        if unseen:
            new = load_runs(unseen)
            new_paths = {r.path for r in new}
            tests.append(("unseen", f"fitted on {len(runs)} runs, tested on {len(new)} unseen runs "
                          f"({', '.join(map(str, unseen))}", lambda r: "unseen" if r.path in new_paths else "fit", ["unseen"]))
            runs = runs + new
        for name, title, region, only in tests:
            t0 = time.perf_counter()
            raw: dict = {}
            scores = evaluate(runs, region, only=only, raw=raw, sets=sets)
            table = Table("cut", "method", "n", "known, grok by H", "AUROC", "Brier", "ECE", "med rel err t_val99",
                          "80% covers", f"stop P<{STOP_P}: n, FN", title=f"{title}, {time.perf_counter() - t0:.0f} s)")
            for (proto, method), s in sorted(scores.items(), key=lambda kv: (list(PROTOCOLS).index(kv[0][0]),
                                                                               METHODS.index(kv[0][1]))):
                table.add_row(proto, method, str(s.n), f"{s.n_label}, {s.n_grok}", f"{s.auroc:.3f}", f"{s.brier:.3f}",
                              f"{s.ece:.3f}", f"{s.med_rel_err:.1%} (n {s.n_time})", f"{s.coverage:.0%}",
                              f"{s.n_stop}, {s.stop_fn:.1%}")
            Console(width=150).print(table)
            if plots is not None:
                from grokscope.report.forecast_eval import write_eval_plots

                for path in write_eval_plots(raw, plots, name):
                    typer.echo(f"wrote {path}")
        from grokscope.forecast.law import fit_laws

        laws = fit_laws((r.rows, r.recipe, r.t_val99) for r in runs)
        errs = law_error(runs, laws)
        typer.echo("weight-norm law, its own error (in-sample, as its paper reports it: MAPE of t_val99 - t_mem "
                   "predicted at memorisation): " + "; ".join(f"{k} {v:.1%} (n {n})" for k, (v, n) in sorted(errs.items())))
    except GrokscopeError as e:
        _fail(str(e))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
