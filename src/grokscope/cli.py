"""The `grokscope` command. Heavy imports (torch) happen inside commands so --help is instant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="grokscope: train, dissect, sweep and look at models that grok.",
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    preset: Annotated[str, typer.Option(help="Recipe to start from (see `grokscope presets`).")] = "swaroop2026",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Directory that holds run directories.")] = Path("runs"),
    name: Annotated[str | None, typer.Option(help="Run directory name (default: the run id).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue an interrupted run directory.")] = None,
    force: Annotated[bool, typer.Option(help="Retrain even if the run directory exists.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train one model; writes runs/<id>/ (config, metrics, checkpoints, curves, summary)."""
    from grokscope import api
    from grokscope.errors import GrokscopeError
    from grokscope.presets import load_preset

    try:
        if resume is not None:
            from grokscope.store.rundir import read_config

            cfg = read_config(resume)
            path = resume
        else:
            cfg = load_preset(preset).override(set_ or [])
            path = out / (name or cfg.run_id)
        console.print(f"[bold]grokscope run[/bold] {cfg.run_id} -> {path}", highlight=False)
        with _progress(cfg, quiet) as on_row:
            if resume is not None:
                result = api.resume(resume, on_row=on_row)
            else:
                result = api.run(cfg, out, name=name, force=force, on_row=on_row)
    except GrokscopeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _fail(f"interrupted; continue with: grokscope run --resume {path}", code=130)
    _print_summary(result.summary or {}, result.path)


class _progress:
    """A rich progress bar fed by the engine's evaluation rows."""

    def __init__(self, cfg: Any, quiet: bool):
        self.total, self.quiet = cfg.train.steps, quiet or not sys.stderr.isatty() and False

    def __enter__(self):
        if self.quiet:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("step {task.completed:>7.0f}"), BarColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
        )
        self.task = self.bar.add_task("train", total=self.total, stats="")
        self.bar.__enter__()

        def on_row(row: dict) -> None:
            stats = (f"train {row['train_acc']:.3f}/{row['train_loss']:.2e}  "
                     f"test {row['test_acc']:.3f}/{row['test_loss']:.2e}")
            self.bar.update(self.task, completed=row["step"], stats=stats)

        return on_row

    def __exit__(self, *exc: Any) -> None:
        if not self.quiet:
            self.bar.__exit__(*exc)


def _print_summary(summary: dict, path: Path) -> None:
    from rich.table import Table

    table = Table(title=f"run {summary.get('run_id', path.name)}", show_header=False)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    for key in ("stop_reason", "steps", "t_train99", "t_val99", "delta_t", "saturation_step",
                "final_train_acc", "final_test_acc", "final_test_loss", "wall_s"):
        if key in summary:
            table.add_row(key, fmt(summary[key]))
    table.add_row("directory", str(path))
    Console().print(table)


@app.command()
def presets() -> None:
    """List the presets (published recipes) with one-line descriptions."""
    from rich.table import Table

    from grokscope.presets import DEFAULT, describe

    table = Table("preset", "description")
    for preset_name, text in describe().items():
        table.add_row(preset_name + (" (default)" if preset_name == DEFAULT else ""), text)
    Console().print(table)


@app.command()
def analyze(
    path: Annotated[Path, typer.Argument(help="A run directory.")],
    measure: Annotated[list[str] | None, typer.Option(help="progress|neurons|idealized|numerics|algorithms (repeatable; default: all that apply).")] = None,
    step: Annotated[list[int] | None, typer.Option(help="Only these checkpoint steps (repeatable).")] = None,
    figures: Annotated[bool, typer.Option(help="Write figures/*.png.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Mechanistic measures over every checkpoint -> analysis.parquet, analysis.json, figures/."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from grokscope.analysis.series import analyze_run
    from grokscope.errors import GrokscopeError

    try:
        if quiet:
            result = analyze_run(path, measures=measure or None, steps=step or None, figures=figures)
        else:
            with Progress(TextColumn("checkpoints"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as bar:
                task = bar.add_task("analyze", total=None)
                result = analyze_run(path, measures=measure or None, steps=step or None, figures=figures,
                                     on_step=lambda i, n: bar.update(task, completed=i, total=n))
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
