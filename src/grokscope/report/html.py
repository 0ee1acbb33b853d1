"""Self-contained HTML reports: one `report.html` per run (a sweep's is `report.sweep_html`).

    grokscope report runs/<id>
    grokscope.report.write_run_report("runs/<id>")

The page opens offline: plotly.js is inlined once in one <script>, every figure is a JSON spec
drawn with `Plotly.newPlot`, nothing is fetched. A checkpoint slider scrubs through training and
redraws the neuron waves, the embedding circle, the Fourier spectrum and the phase-sum scatter
together (frames from `analysis.snapshots`, at most `max_frames`). Static PNGs of the main figures go to
`<run>/report_figures/` (matplotlib).
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from grokscope.config import FAMILIES
from grokscope.store.names import CHECKPOINT_GLOB, CHECKPOINTS, REPORT

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
    "t_cleanup": "cleanup starts (test loss and Σθ² drop sharply, Gini jumps)", "liu_phase": "phase (Liu et al.)",
    "doshi_phase": "phase (Doshi et al.)", "stop_reason": "stopped because", "steps": "steps trained",
    "final_train_acc": "final train accuracy", "final_test_acc": "final test accuracy",
    "final_test_loss": "final test loss", "wall_s": "training wall time (s)", "key_freqs": "key frequencies",
    "n_structured": "structured neurons", "n_neurons": "neurons",
    "phase_sum_r_structured": "phase-sum r (structured)", "sq_vs_cos_t_structured": "square-vs-cosine t",
}


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
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
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


def _forecast_line(run_dir: Path) -> str:
    """What the forecaster said from the first 20% of the budget, to read beside what happened."""
    from grokscope.errors import GrokscopeError
    from grokscope.forecast import forecast_run

    try:
        return forecast_run(run_dir, fraction=0.2).line().removeprefix("forecast: ")
    except GrokscopeError as e:
        return f"n/a ({str(e).removeprefix('cannot forecast: ')})"


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
    from grokscope.store.files import write_text

    t0 = time.perf_counter()
    run_dir = Path(path)
    with single_thread():
        data = D.collect(run_dir, max_frames=max_frames, progress_budget_s=progress_budget_s)
    figs = {**F.curves(data), **F.heatmaps(data)}
    pngs: list[str] = []
    if png:
        t = time.perf_counter()
        from grokscope.report.static import PNG_DIR, write_pngs

        with single_thread():
            pngs = [f"{PNG_DIR}/{p.name}" for p in write_pngs(run_dir, data)]
        data.timings["png"] = time.perf_counter() - t
    cfg = data.config
    config_rows = []
    for sec, keys in CONFIG_KEYS.items():
        if sec == "model":
            keys = (*keys, *FAMILIES.get(cfg["model"]["arch"]).fields)
        config_rows.append((sec, [(k, cfg[sec][k]) for k in keys if k in cfg.get(sec, {})]))
    events = [(EVENT_LABELS.get(k, k), v, k) for k, v in data.events.items()]
    events.append(("forecast made at 20% of the budget", _forecast_line(run_dir), "forecast"))
    payload = {
        "figs": figs, "frames": data.frames, "steps": data.frame_steps, "neurons": data.neurons,
        "events": {k: data.events.get(k) for k in ("t_train99", "t_val99", "saturation_step", "t_mem_end",
                                                      "t_circuit", "t_cleanup")},
        "n": data.n, "arch": data.arch, "neuron_labels": data.neuron_labels, "rows_last_step": data.rows[-1]["step"] if data.rows else None,
        "acc": {"step": [r["step"] for r in data.rows], "train": D.sig([r.get("train_acc") for r in data.rows]),
                "test": D.sig([r.get("test_acc") for r in data.rows])},
        "title_top": F.TITLE_TOP, "margin_top": F.MARGIN_TOP,  # the slider figures' titles clear the toolbar too
    }
    html = render(
        "run.html.j2", run_id=data.run_id, verdict=_verdict(data.events), events=events, config_rows=config_rows,
        full_config=json.dumps(cfg, indent=1), notes=data.notes, series_source=data.series_source, algorithms=data.algorithms,
        frame_steps=data.frame_steps, n_checkpoints=len(_ckpts(run_dir)), max_frames=max_frames, pngs=pngs,
        has_frames=bool(data.frames), figs=figs, heat_ids=[k for k in figs if k.startswith("fig-heat")], payload=script_json(payload), arch=data.arch,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), version=_version(),
        phase_bands=F.phase_bands(data), subtitle=_subtitle(cfg, data.model_desc), clock_k=data.clock_k,
        clock_default=_clock_default(data),
    )
    target = Path(out) if out is not None else run_dir / REPORT
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


def _subtitle(cfg: dict[str, Any], model: str) -> str:
    t, o = cfg["task"], cfg["optim"]
    return (f"preset {cfg.get('preset') or '—'} · {t['op']} mod {t['p']} · {t['frac_train']:.0%} train"
            + (f" · noise {t['noise']:g}" if t.get("noise") else "")
            + f" · {model} · {o['name']} lr {o['lr']:g} wd {o['weight_decay']:g}")


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
