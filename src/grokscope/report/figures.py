"""Plotly figure specs of a run report, as plain dicts ({data, layout}) ready for `Plotly.newPlot`.

Built by hand rather than through plotly.graph_objects: the JSON stays small and under our
control (lists, rounded numbers), and nothing heavy is imported. The figures the checkpoint slider
redraws (neuron waves, embedding circle, spectrum, phase-sum) are drawn by the page's JS from the
frame data; their skeleton layouts are here too.
"""

from __future__ import annotations

import math
from typing import Any

from grokscope.report.data import ReportData, sig

BLUE, ORANGE, GREEN, RED, GRAY, PURPLE = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f", "#9467bd"
EVENTS = (("t_train99", BLUE, "train 99%"), ("t_val99", ORANGE, "test 99%"))
PHASES = (("memorisation", "#ff7f0e"), ("circuit formation", "#2ca02c"), ("cleanup", "#d62728"))
# ColorBrewer RdBu as matplotlib draws it (negative red, 0 white, positive blue); plotly.js's own
# "RdBu" is a different, grey-centred scale, so it is spelled out here.
RDBU = [[i / 10, c] for i, c in enumerate(
    ("#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac",
     "#053061"))]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12}


# Plotly's toolbar (modebar) sits in the top 30 px of a figure's right corner: the title goes below
# that strip, anchored to the container (not the plot area), so a long title in a narrow panel never
# runs under the icons. run.html.j2's JS figures use the same numbers.
MODEBAR_PX = 30
TITLE_TOP = {"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": MODEBAR_PX + 2},
             "xref": "container", "x": 0.02, "xanchor": "left"}
MARGIN_TOP = MODEBAR_PX + 34


def _layout(title: str, **kw: Any) -> dict[str, Any]:
    out = {"title": {"text": title, "font": {"size": 14}, **TITLE_TOP}, "font": FONT,
           "margin": {"l": 60, "r": 20, "t": MARGIN_TOP, "b": 45}, "height": 320 + MARGIN_TOP - 40,
           "legend": {"orientation": "h", "y": -0.22, "font": {"size": 11}},
           "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "x unified"}
    out.update(kw)
    return out


def _axis(title: str, log: bool = False, **kw: Any) -> dict[str, Any]:
    out = {"title": {"text": title}, "gridcolor": "#e5e5e5", "zeroline": False, "showline": True,
           "linecolor": "#999", "mirror": True}
    if log:
        out["type"] = "log"
    out.update(kw)
    return out


def _x1(step: Any) -> float:
    return max(float(step), 1.0)  # step 0 drawn at 1 on the log axis


def phase_bands(data: ReportData) -> list[tuple[str, str, float, float]]:
    """(name, colour, x0, x1) of the training phases, from the events:
    memorisation  first step → t_mem_end (train accuracy ≥ 99.9%)
    circuit       t_circuit (or t_mem_end) → t_cleanup (or t_val99)
    cleanup       t_cleanup → t_val99 (or the last step when test accuracy got there first)."""
    ev = data.events
    steps = [r["step"] for r in data.rows] or [0, 1]
    first, last = _x1(steps[0]), _x1(steps[-1])
    mem, circ, clean, val = (ev.get(k) for k in ("t_mem_end", "t_circuit", "t_cleanup", "t_val99"))
    out = []
    if mem is not None:
        out.append(("memorisation", PHASES[0][1], first, _x1(mem)))
        start = _x1(circ if circ is not None else mem)
        end = clean if clean is not None else val
        if end is not None and _x1(end) > start:
            out.append(("circuit formation", PHASES[1][1], start, _x1(end)))
        if clean is not None:
            stop = val if val is not None and val > clean else last
            if _x1(stop) > _x1(clean):
                out.append(("cleanup", PHASES[2][1], _x1(clean), _x1(stop)))
    return out


def _decorate(data: ReportData, layout: dict[str, Any], xref: str = "x", bands: bool = True) -> None:
    """Phase bands (shaded) and event lines (dashed) on a log-step x axis, whose range is fixed to
    the run's steps (the same on every curve figure)."""
    steps = [r["step"] for r in data.rows] or [1, 10]
    layout["xaxis"]["range"] = [0, math.log10(_x1(max(steps))) + 0.02]  # log axes take log10 ranges
    shapes = layout.setdefault("shapes", [])
    if bands:
        for _, color, x0, x1 in phase_bands(data):
            shapes.append({"type": "rect", "xref": xref, "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                           "fillcolor": color, "opacity": 0.09, "line": {"width": 0}, "layer": "below"})
    for key, color, _ in EVENTS:
        step = data.events.get(key)
        if step is not None:
            shapes.append({"type": "line", "xref": xref, "yref": "paper", "x0": _x1(step), "x1": _x1(step),
                           "y0": 0, "y1": 1, "line": {"color": color, "width": 1, "dash": "dash"}})


def _line(x: list, y: list, name: str, color: str, dash: str | None = None, width: float = 1.6,
          yaxis: str | None = None) -> dict[str, Any]:
    tr = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name,
          "line": {"color": color, "width": width, **({"dash": dash} if dash else {})}}
    if yaxis:
        tr["yaxis"] = yaxis
    return tr


def curves(data: ReportData) -> dict[str, dict[str, Any]]:
    """Accuracy, loss, weight norm and progress measures against step (log x)."""
    rows = data.rows
    x = [_x1(r["step"]) for r in rows]
    col = lambda k: sig([r.get(k, math.nan) for r in rows])  # noqa: E731
    figs: dict[str, dict[str, Any]] = {}
    acc = [_line(x, col("train_acc"), "train", BLUE), _line(x, col("test_acc"), "test", ORANGE)]
    lay = _layout("accuracy", xaxis=_axis("step", log=True), yaxis=_axis("accuracy", range=[-0.02, 1.02]))
    _decorate(data, lay)
    x_end = lay["xaxis"]["range"][1]
    for key, color, label in EVENTS:  # annotations take log10 of the x on a log axis
        step = data.events.get(key)
        if step is not None:
            x_log = math.log10(_x1(step))
            lay.setdefault("annotations", []).append(
                {"x": x_log, "y": 0.04 if key == "t_train99" else 0.14, "xref": "x", "yref": "y",
                 "text": f" {label} @ {step} ", "showarrow": False, "xanchor": "left" if x_log < 0.7 * x_end else "right",
                 "font": {"color": color, "size": 11}})
    figs["fig-acc"] = {"data": acc, "layout": lay}

    s = data.series
    sx = [_x1(v) for v in s.get("step", [])]
    loss = [_line(x, col("train_loss"), "train", BLUE), _line(x, col("test_loss"), "test", ORANGE)]
    for key, color, dash, name in (("restricted_loss_test", GREEN, "dash", "restricted (test)"),
                                   ("excluded_loss_train", RED, "dot", "excluded (train)")):
        if key in s:
            loss.append(_line(sx, s[key], name, color, dash=dash))
    lay = _layout("loss" + (" and progress measures" if len(loss) > 2 else ""), xaxis=_axis("step", log=True),
                  yaxis=_axis("cross-entropy", log=True))
    _decorate(data, lay)
    figs["fig-loss"] = {"data": loss, "layout": lay}

    norm = []
    if any(r.get("weight_norm") is not None for r in rows):
        norm.append(_line(x, col("weight_norm"), "‖θ‖ (weight norm)", PURPLE))
    if "sum_sq_weights" in s:
        norm.append(_line(sx, s["sum_sq_weights"], "Σθ² (checkpoints)", GRAY, dash="dash", yaxis="y2"))
    lay = _layout("weight norm", xaxis=_axis("step", log=True), yaxis=_axis("‖θ‖"),
                  yaxis2={"title": {"text": "Σθ²"}, "overlaying": "y", "side": "right", "showgrid": False})
    lay["margin"]["r"] = 60
    _decorate(data, lay)
    figs["fig-norm"] = {"data": norm, "layout": lay}

    gini = [_line(sx, s[k], name, color) for k, name, color in
            (("gini_embed", "Gini, embedding freqs", BLUE), ("gini_W_L", "Gini, W_L freqs", RED)) if k in s]
    lay = _layout("Fourier sparsity (Gini)", xaxis=_axis("step", log=True), yaxis=_axis("Gini", range=[0, 1.02]))
    _decorate(data, lay)
    figs["fig-gini"] = {"data": gini, "layout": lay}

    algo = [_line(sx, s[k], k, c) for k, c in (("gradient_symmetricity", BLUE), ("distance_irrelevance", ORANGE),
                                               ("circularity", GREEN), ("fve_clock", RED), ("fve_pizza", PURPLE))
            if k in s]
    if algo:
        lay = _layout("clock vs pizza measures", xaxis=_axis("step", log=True), yaxis=_axis("value"))
        _decorate(data, lay)
        figs["fig-algo"] = {"data": algo, "layout": lay}
    return figs


def heatmaps(data: ReportData) -> dict[str, dict[str, Any]]:
    """Final-checkpoint weights in the Fourier basis: RdBu centred on 0, component names on the axis."""
    f = data.final
    if not f:
        return {}
    names = f["names"]
    figs = {}
    specs = (("W_E", "W_E in the Fourier basis", "embedding dimension", names),
             ("W_a", "W_a in the Fourier basis (neurons sorted by frequency)", "neuron (sorted by dominant frequency)", names),
             ("W_b", "W_b in the Fourier basis", "neuron (sorted by dominant frequency)", names),
             ("W_L", f"W_L = {data.W_L_formula} in the Fourier basis (logit axis)",
              "neuron (sorted by dominant frequency)", names))
    for key, title, xtitle, ynames in specs:
        if key not in f:
            continue
        z = f[key]
        lim = max((abs(v) for row in z for v in row if v is not None), default=1.0) or 1.0
        xs = f["order"] if key != "W_E" else list(range(len(z[0])))
        trace = {"type": "heatmap", "z": z, "y": ynames[: len(z)], "x": [str(i) for i in xs], "colorscale": RDBU,
                 "zmid": 0, "zmin": -lim, "zmax": lim, "colorbar": {"thickness": 12},
                 "hovertemplate": "%{y} · " + ("neuron " if key != "W_E" else "dim ") + "%{x}<br>%{z}<extra></extra>"}
        lay = _layout(title + f" · step {f['step']}", height=460,
                      xaxis=_axis(xtitle, type="category", showticklabels=len(xs) <= 64, mirror=False),
                      yaxis=_axis("Fourier component", autorange="reversed", type="category", tickfont={"size": 9},
                                  mirror=False),
                      hovermode="closest")
        lay["margin"]["l"] = 70
        figs[f"fig-heat-{key}"] = {"data": [trace], "layout": lay}
    return figs
