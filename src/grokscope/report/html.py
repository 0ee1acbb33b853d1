"""Self-contained HTML reports: one `report.html` per run (a sweep's is `report.sweep_html`).

    grokscope report runs/<id>
    grokscope.report.write_run_report("runs/<id>")

The page opens offline: plotly.js is inlined once in one <script>, every figure is a JSON spec
drawn with `Plotly.newPlot`, nothing is fetched. A checkpoint slider scrubs through training and
redraws the neuron waves, the embedding circle, the Fourier spectrum and the phase-sum scatter
together (frames from `analysis.snapshots`, at most `max_frames`). Static PNGs of the main figures go to
`<run>/report_figures/` (matplotlib).

What a person sees must be true: a panel the model family does not declare
(`StackedModel.report_panels`) is absent, not empty, and the navigation lists only the sections
present; config chips show the fields the model reads (`StackedModel.config_fields`); every
figure has one sentence saying what it shows; numbers are written one way (`fmt`: 21,600, 1e-4);
the run directory's files are linked. The forecast-history panel (`report.forecast_panel`) shows the
forecast of t_val99 the run would have shown from memorisation on, made at report time; the events
table ends with the forecast at 20% of the steps trained and the verdict on whether it is grokking.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from grokscope.config import FAMILIES
from grokscope.store.names import (
    ANALYSIS_JSON,
    ANALYSIS_PARQUET,
    CHECKPOINT_GLOB,
    CHECKPOINTS,
    CONFIG,
    CURVES,
    FIGURES,
    METRICS_JSONL,
    METRICS_PARQUET,
    REPORT,
    SUMMARY,
)

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"

CONFIG_KEYS = {  # the compact config table: the keys a reader looks for first, per section
    "task": ("op", "p", "frac_train", "split", "noise", "data_seed"),
    "model": ("arch",),  # then the fields of the run's model family (grokscope.config.FAMILIES)
    "optim": ("name", "lr", "weight_decay", "beta1", "beta2"),
    "train": ("steps", "batch_size", "loss", "seed", "stop_test_acc", "device"),
}
EVENT_LABELS = {
    "t_train99": "train accuracy ≥ 99% (t_train99)", "t_val99": "test accuracy ≥ 99% (t_val99)",
    "delta_t": "grokking delay ΔT = t_val99 − t_train99", "saturation_step": "saturation step",
    "t_mem_end": "memorisation ends (excluded and train loss stop falling together; Nanda §5.2)",
    "t_circuit": "circuit formation starts (excluded loss rises, Σθ² falls, restricted loss falls)",
    "t_cleanup": "cleanup starts (test loss and Σθ² drop sharply, Gini jumps)",
    "t_cleanup_end": "cleanup ends (test loss and Gini settle)", "liu_phase": "phase (Liu et al.)",
    "doshi_phase": "phase (Doshi et al.)", "stop_reason": "stopped because", "steps": "steps trained",
    "final_train_acc": "final train accuracy", "final_test_acc": "final test accuracy",
    "final_test_loss": "final test loss", "wall_s": "training wall time (s)", "key_freqs": "key frequencies",
    "n_structured": "structured neurons", "n_neurons": "neurons",
    "phase_sum_r_structured": "phase-sum r (structured)", "sq_vs_cos_t_structured": "square-vs-cosine t",
}
# t_mem_end's label by the rule analysis applied (`analysis.phases.mem_end_rule`)
MEM_END_LABELS = {
    "excluded_and_train_loss": EVENT_LABELS["t_mem_end"],
    "train_loss_only": "memorisation ends (train loss stops falling; excluded loss not computed, so not "
                       "Nanda §5.2's rule)",
}
NANDA_PHASES = ("t_mem_end", "t_circuit", "t_cleanup", "t_cleanup_end", "t_mem_end_rule")
SECTIONS = (  # (id, navigation name): the page's sections, in order; only those present are listed
    ("summary", "summary"), ("curves", "training curves"), ("scrub", "through training"),
    ("fourier", "Fourier weights"), ("algorithms", "clock vs pizza"), ("files", "run directory"))
SLIDER_PANELS = {"clock": "fig-pca", "spectrum": "fig-spectrum", "waves": "fig-waves", "phase_sum": "fig-phase"}


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (read once per process)."""
    import importlib.resources

    try:
        return importlib.resources.files("plotly").joinpath("package_data/plotly.min.js").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError):
        from plotly.offline import get_plotlyjs

        return get_plotlyjs()


def script_json(obj: Any) -> str:
    """JSON safe inside <script type="application/json"> (no '</' can close the tag)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


@lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    return env


def render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(plotly_js=plotly_js(), **context)


def fmt(v: Any) -> str:
    """A value as the page writes it: integers 21,600; floats to 4 significant digits, small and
    large ones as 1e-4 (as the plots' log axes); None as —."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isfinite(v) and abs(v) >= 1e4:
            return f"{v:,.0f}"
        if v != 0 and math.isfinite(v) and abs(v) < 1e-2:  # as plotly's log ticks: 0.01, then 1e-3
            mant, exp = f"{v:.3e}".split("e")
            return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"
        return f"{v:.4g}"
    return str(v)


def _verdict(ev: dict[str, Any]) -> str:
    tv, tt, dt = ev.get("t_val99"), ev.get("t_train99"), ev.get("delta_t")
    if tv is not None:
        return (f"Grokked: test accuracy reached 99% at step {tv:,}"
                + (f", {dt:,} steps after train accuracy did (step {tt:,})." if dt is not None and tt is not None else "."))
    if tt is not None:
        return f"Memorised (train ≥ 99% at step {tt:,}) but test accuracy never reached 99%."
    return "Train accuracy never reached 99%."


def _forecast_rows(run_dir: Path) -> list[tuple[str, Any, str]]:
    """What the forecaster said at 20% of the steps trained, to read beside what happened, and its verdict on
    whether what happened is grokking; "n/a (why)" where either cannot be made."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import forecast_run, verdict_run

    na = lambda e: (f"n/a ({str(e).removeprefix('cannot forecast: ')})" if isinstance(e, GrokscopeError)  # noqa: E731
                    else f"n/a ({type(e).__name__})")
    failed = (GrokscopeError, ValueError, ArithmeticError, KeyError, TypeError)  # odd rows never cost the report
    at, asked = "forecast at 20% of the steps trained", "is this grokking?"
    try:
        fc, v = forecast_run(run_dir)
        return [(at, fc.line().removeprefix("forecast: "), "forecast"), (asked, v.text(), "verdict")]
    except failed as e:
        line = na(e)
    try:  # the verdict needs only the rows and the model's null band, not a forecast
        is_it = verdict_run(run_dir).text()
    except failed as e:
        is_it = na(e)
    return [(at, line, "forecast"), (asked, is_it, "verdict")]


def write_run_report(path: str | Path, out: str | Path | None = None, *, max_frames: int = 60, png: bool = True,
                     progress_budget_s: float = 2.0) -> Path:
    """Write `<run>/report.html` (or `out`) and, with `png`, `<run>/report_figures/*.png`.

    max_frames: most checkpoints in the slider (chosen evenly, keeping the first, last, saturation
    and event checkpoints). progress_budget_s: where analysis.parquet lacks restricted/excluded
    losses (or there is none), the analysis functions compute them for the report only if they fit
    this budget (see `report.data`).
    Returns the report's path."""
    from grokscope.report import data as D
    from grokscope.report import figures as F
    from grokscope.report import forecast_panel as FP
    from grokscope.store.files import write_text

    t0 = time.perf_counter()
    run_dir = Path(path)
    with single_thread():
        data = D.collect(run_dir, max_frames=max_frames, progress_budget_s=progress_budget_s)
    figs = {**F.curves(data), **F.heatmaps(data)}
    t = time.perf_counter()
    history = FP.history_panel(run_dir)  # made here from config and rows: nothing new is stored
    if history.why is None:
        figs[FP.FIG_ID] = FP.figure(history)
    data.timings["forecast"] = time.perf_counter() - t
    pngs: list[str] = []
    if png:
        t = time.perf_counter()
        from grokscope.report.static import PNG_DIR, write_pngs

        with single_thread():
            pngs = [f"{PNG_DIR}/{p.name}" for p in write_pngs(run_dir, data)]
        if history.why is None:
            try:
                FP.plot_png(history, run_dir / PNG_DIR / FP.PNG_NAME, f"{data.run_id}: forecast of t_val99")
                pngs.append(f"{PNG_DIR}/{FP.PNG_NAME}")
            except Exception as e:  # noqa: BLE001 — one figure must not cost the report
                log.warning("report: could not draw %s: %s", FP.PNG_NAME, e)
        data.timings["png"] = time.perf_counter() - t
    cfg = data.config
    config_rows = []
    for sec, keys in CONFIG_KEYS.items():
        if sec == "model":  # the fields this run's model reads (its family's, less those its settings switch off)
            keys = (*keys, *(data.config_fields or FAMILIES.get(cfg["model"]["arch"]).fields))
        config_rows.append((sec, [(k, cfg[sec][k]) for k in keys if k in cfg.get(sec, {})]))
    panels = set(data.panels)
    slider = [fig for panel, fig in SLIDER_PANELS.items() if panel in panels] if data.frames else []
    heat_ids = [k for k in figs if k.startswith("fig-heat")]
    algorithms = data.algorithms if "algorithms" in panels else {}
    present = {"summary", "curves", "files", *(["scrub"] if slider else []), *(["fourier"] if heat_ids else []),
               *(["algorithms"] if algorithms else [])}
    target = Path(out) if out is not None else run_dir / REPORT
    payload = {
        "figs": figs, "frames": data.frames, "steps": data.frame_steps, "neurons": data.neurons, "slider": slider,
        "events": {k: data.events.get(k) for k in ("t_train99", "t_val99", "saturation_step", "t_mem_end",
                                                      "t_circuit", "t_cleanup")
                   if k not in NANDA_PHASES or "phases" in panels},
        "n": data.n, "arch": data.arch, "neuron_labels": data.neuron_labels, "rows_last_step": data.rows[-1]["step"] if data.rows else None,
        "acc": {"step": [r["step"] for r in data.rows], "train": D.sig([r.get("train_acc") for r in data.rows]),
                "test": D.sig([r.get("test_acc") for r in data.rows])},
        "title_top": F.RUN_TITLE, "margin_top": F.RUN_MARGIN_TOP, "legend": F.LEGEND_BELOW, "legend_room": F.LEGEND_ROOM,
        "step_ticks": F.STEP_TICKS, "input_label": data.input_label, "W_L": data.W_L_formula, "fit_hi": D.sig(data.fit_hi, 3),
    }
    html = render(
        "run.html.j2", run_id=data.run_id, verdict=_verdict(data.events), events=_events(data, run_dir),
        config_rows=config_rows, full_config=json.dumps(cfg, indent=1), notes=data.notes,
        series_source=data.series_source, algorithms=algorithms, frame_steps=data.frame_steps,
        n_checkpoints=len(_ckpts(run_dir)), max_frames=max_frames, figs=figs, slider=slider, heat_ids=heat_ids,
        payload=script_json(payload), arch=data.arch, sections=[sec for sec in SECTIONS if sec[0] in present],
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), version=_version(),
        phase_bands=F.phase_bands(data), phases_note=_phases_note(data), subtitle=_subtitle(cfg, data.model_desc),
        clock_k=data.clock_k, clock_default=_clock_default(data),
        captions={**F.captions(data, figs), FP.FIG_ID: FP.CAPTION}, forecast_why=history.why,
        forecast_none_id=FP.NONE_ID,
        key_text=F.key_frequency_text(data), files=run_files(run_dir, target.parent, pngs),
    )
    write_text(target, html)
    data.timings["total"] = time.perf_counter() - t0
    log.info("report %s: %.1f MB in %.2fs (%s)", target, target.stat().st_size / 1e6, data.timings["total"],
             ", ".join(f"{k} {v:.2f}s" for k, v in data.timings.items()))
    return target


@contextmanager
def single_thread():
    """torch on one thread while the report computes: its matrices are tiny (≤ p × p), and with
    several threads on a busy machine a 97 × 97 eigh took 0.3–0.7 s instead of 3 ms."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def write_run_report_safe(path: str | Path, **kw: Any) -> Path | None:
    """`write_run_report` for the end of training: a report must never cost the run, so any
    error is logged as a warning and None returned."""
    try:
        return write_run_report(path, **kw)
    except Exception as e:  # noqa: BLE001
        log.warning("could not write the report of %s: %s", path, e)
        return None


def _events(data: Any, run_dir: Path) -> list[tuple[str, Any, str]]:
    """(label, value, key) rows of the events table: Nanda et al.'s phase events only for the families
    that declare the "phases" panel, t_mem_end labelled by the rule that produced it."""
    rows = []
    for k, v in data.events.items():
        if k == "t_mem_end_rule" or (k in NANDA_PHASES and "phases" not in data.panels):
            continue
        label = EVENT_LABELS.get(k, k)
        if k == "t_mem_end":
            label = MEM_END_LABELS.get(data.events.get("t_mem_end_rule") or "", label)
        if k in ("t_mem_end", "t_circuit", "t_cleanup") and v is None and data.events.get("t_val99") is not None:
            v = "not found by t_val99"
        rows.append((label, v, k))
    return rows + _forecast_rows(run_dir)


def _phases_note(data: Any) -> str:
    """Which phase rule the shading follows, or why nothing is shaded, in words."""
    from grokscope.report.figures import unshaded

    return unshaded(data) or "Phases by Nanda et al.'s rules (§5.2); no phase starts after test accuracy reaches 99%."


FILE_NOTES = (  # (name in the run directory, what it holds), in the order a reader looks for them
    (CONFIG, "the resolved config this run was trained with"),
    (METRICS_PARQUET, "train / test loss and accuracy at every evaluated step"),
    (METRICS_JSONL, "the same rows, appended while the run trained"),
    (SUMMARY, "events (t_train99, t_val99, …) and final values, written when training finished"),
    (CHECKPOINTS, "the weights at each checkpoint step (safetensors), and the resumable state"),
    (CURVES, "accuracy and loss against step (PNG)"),
    (ANALYSIS_PARQUET, "grokscope analyze: the progress measures at every checkpoint"),
    (ANALYSIS_JSON, "grokscope analyze: its summary (phase events, key frequencies, …)"),
    (FIGURES, "grokscope analyze: its figures (PNG)"),
)


def run_files(run_dir: Path, page_dir: Path, pngs: list[str]) -> list[tuple[str, str, str]]:
    """(link relative to the page, name, what it holds) of the run directory's files that exist,
    and of the report's static PNGs."""
    import os

    out = []
    for name, note in FILE_NOTES:
        path = run_dir / name
        if path.exists():
            if name == CHECKPOINTS:
                note = f"{note}: {len(_ckpts(run_dir)):,} checkpoints"
            slash = "/" if path.is_dir() else ""
            out.append((Path(os.path.relpath(path, page_dir)).as_posix() + slash, name + slash, note))
    for png in pngs:
        out.append((Path(os.path.relpath(run_dir / png, page_dir)).as_posix(), png,
                    "a static (matplotlib) version of one of the report's figures"))
    return out


def _subtitle(cfg: dict[str, Any], model: str) -> str:
    t, o = cfg["task"], cfg["optim"]
    return (f"preset {cfg.get('preset') or '—'} · {t['op']} mod {t['p']} · {t['frac_train']:.0%} train"
            + (f" · noise {fmt(float(t['noise']))}" if t.get("noise") else "")
            + f" · {model} · {o['name']} lr {fmt(float(o['lr']))} wd {fmt(float(o['weight_decay']))}")


def _clock_default(data: Any) -> str:
    """The top-2 PCs when they hold a clear circle (≥ 25% of the variance at the final checkpoint),
    else the plane of the strongest frequency (an MLP that spreads over many frequencies)."""
    if not data.frames:
        return "pca"
    return "pca" if sum(data.frames[-1]["pca"]["var"]) >= 0.25 else "plane"


def _ckpts(run_dir: Path) -> list[Path]:
    return sorted((run_dir / CHECKPOINTS).glob(CHECKPOINT_GLOB))


def _version() -> str:
    from grokscope import __version__

    return __version__
