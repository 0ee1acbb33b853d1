"""Plotly figure specs of a run report, as plain dicts ({data, layout}) ready for `Plotly.newPlot`.

Built by hand rather than through plotly.graph_objects: the JSON stays small and under our
control (lists, rounded numbers), and nothing heavy is imported. The figures the checkpoint slider
redraws (neuron waves, embedding circle, spectrum, phase-sum) are drawn by the page's JS from the
frame data, with the layout constants below. Only the panels the model family declares
(`StackedModel.report_panels`) are drawn; the phase shading follows `analysis.phases` and is left
out where it would contradict the accuracy events (`unshaded`).
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
# runs under the icons (the sweep report's layout, `_layout`).
MODEBAR_PX = 30
TITLE_TOP = {"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": MODEBAR_PX + 2},
             "xref": "container", "x": 0.02, "xanchor": "left"}
MARGIN_TOP = MODEBAR_PX + 34


# The run report hides the toolbar (report.html's plotly config: displayModeBar false), so its
# titles sit at the top, and its legends sit at the bottom of the figure (container), below the
# x-axis title, whatever the plot's height. run.html.j2's JS figures use the same numbers.
RUN_TITLE = {"yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 10}, "xref": "container", "x": 0.02,
             "xanchor": "left"}
RUN_MARGIN_TOP = 42
LEGEND_BELOW = {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom", "yref": "container",
                "font": {"size": 11}}
LEGEND_ROOM = 92  # bottom margin with a legend: tick labels, the x-axis title, then one or two legend rows
# tick labels: steps as 10,000 (the page's number format, `html.fmt`), other log axes as 1e-4
STEP_TICKS = {"exponentformat": "none", "separatethousands": True}
LOG_TICKS = {"exponentformat": "e", "showexponent": "all"}


def _run_layout(title: str, legend: bool = True, **kw: Any) -> dict[str, Any]:
    """`_layout` for the run report: title at the top (no toolbar), legend below the x-axis title."""
    out = _layout(title, **kw)
    out["title"] = {"text": title, "font": {"size": 14}, **RUN_TITLE}
    out["margin"] = {"l": 64, "r": 24, "t": RUN_MARGIN_TOP, "b": LEGEND_ROOM if legend else 50, **kw.get("margin", {})}
    out["height"] = kw.get("height", 370)
    out["legend"] = LEGEND_BELOW
    out["showlegend"] = legend
    return out


def _step_axis() -> dict[str, Any]:
    return _axis("step (log scale; step 0 drawn at 1)", log=True, **STEP_TICKS)


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


def _n(step: Any) -> str:
    """A step as the page writes numbers: 21,600."""
    return f"{int(step):,}"


def phase_bands(data: ReportData) -> list[tuple[str, str, float, float]]:
    """(name, colour, x0, x1) of the training phases of Nanda et al.'s rules (`analysis.phases`), from
    the events, where `unshaded` finds no reason against them:
    memorisation       first step → t_mem_end
    circuit formation  t_circuit → t_cleanup (or t_val99)
    cleanup            t_cleanup → t_cleanup_end (or t_val99, or the last step)
    A phase whose start the rules did not find is not shaded."""
    if unshaded(data) is not None:
        return []
    ev = data.events
    steps = [r["step"] for r in data.rows] or [0, 1]
    first, last = _x1(steps[0]), _x1(steps[-1])
    mem, circ, clean, clean_end, val = (ev.get(k) for k in ("t_mem_end", "t_circuit", "t_cleanup", "t_cleanup_end",
                                                            "t_val99"))
    out = []
    if _x1(mem) > first:
        out.append(("memorisation", PHASES[0][1], first, _x1(mem)))
    end = clean if clean is not None else val
    if circ is not None and end is not None and _x1(end) > _x1(circ):
        out.append(("circuit formation", PHASES[1][1], _x1(circ), _x1(end)))
    if clean is not None:
        stop = next((s for s in (clean_end, val) if s is not None and s > clean), steps[-1])
        if _x1(stop) > _x1(clean):
            out.append(("cleanup", PHASES[2][1], _x1(clean), min(_x1(stop), last)))
    return out


def unshaded(data: ReportData) -> str | None:
    """Why no phase is shaded (None: the phases are shaded). Only where the family declares the
    "phases" panel, with the paper's memorisation rule (excluded loss), and never against the
    accuracy events: memorisation ends once train accuracy reached 99% and no phase starts after
    test accuracy did (`analysis.phases` guarantees the latter; an older analysis.json may not)."""
    ev = data.events
    if "phases" not in data.panels:
        return (f"Nanda et al.'s phases (§5.2) are defined for their one-layer transformer; they are not applied "
                f"to this {data.arch} run, whose plots mark only the accuracy events.")
    if ev.get("t_mem_end_rule") != "excluded_and_train_loss":
        return ("Nanda et al.'s phase rules need the excluded loss, which was not computed here: no phases are "
                "shaded.")
    mem, train, val = ev.get("t_mem_end"), ev.get("t_train99"), ev.get("t_val99")
    if mem is None:
        return "The phase rules found no end of memorisation" + (" by t_val99" if val is not None else "") + \
            ": no phases are shaded."
    # the rules see the checkpoints: memorisation may end at the last one before train accuracy reached 99%
    before = max((s for s in data.series.get("step", ()) if train is not None and s <= train), default=train)
    if train is None or mem < before:
        return (f"The phase rules put the end of memorisation (step {mem:,}) before train accuracy reached 99%"
                + (f" (step {train:,})" if train is not None else "")
                + ": memorisation and generalisation overlap in this run, so no phases are shaded.")
    bounds = [ev[k] for k in ("t_mem_end", "t_circuit", "t_cleanup") if ev.get(k) is not None]
    if bounds != sorted(bounds) or (val is not None and any(b > val for b in bounds)):
        return ("The phase events contradict the accuracy events (an analysis.json from an older grokscope? run "
                "grokscope analyze again): no phases are shaded.")
    return None


def _decorate(data: ReportData, layout: dict[str, Any], xref: str = "x", bands: bool = True,
              lines: bool = True) -> None:
    """Phase bands (shaded) and event lines (dashed) on a log-step x axis, whose range is fixed to
    the run's steps (the same on every curve figure)."""
    steps = [r["step"] for r in data.rows] or [1, 10]
    layout["xaxis"]["range"] = [0, math.log10(_x1(max(steps))) + 0.02]  # log axes take log10 ranges
    shapes = layout.setdefault("shapes", [])
    if bands:
        for _, color, x0, x1 in phase_bands(data):
            shapes.append({"type": "rect", "xref": xref, "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
                           "fillcolor": color, "opacity": 0.09, "line": {"width": 0}, "layer": "below"})
    for key, color, _ in EVENTS if lines else ():
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


def _padded(values: list, floor: float | None = None, ceil: float | None = None, pad: float = 0.08) -> list[float] | None:
    """An axis range around `values` with `pad` of their spread on each side (at least 1% of their
    size), kept inside [floor, ceil]; None when there is no value."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    lo, hi = min(v), max(v)
    room = max((hi - lo) * pad, 0.01 * max(abs(lo), abs(hi)), 1e-3)
    lo, hi = lo - room, hi + room
    return [lo if floor is None else max(lo, floor), hi if ceil is None else min(hi, ceil)]


def curves(data: ReportData) -> dict[str, dict[str, Any]]:
    """Accuracy, loss, weight norm and progress measures against step (log x)."""
    rows = data.rows
    x = [_x1(r["step"]) for r in rows]
    col = lambda k: sig([r.get(k, math.nan) for r in rows])  # noqa: E731
    figs: dict[str, dict[str, Any]] = {}
    acc = [_line(x, col("train_acc"), "train", BLUE), _line(x, col("test_acc"), "test", ORANGE)]
    for key, color, label in EVENTS:  # the event lines, named in the legend (no label over the curves)
        step = data.events.get(key)
        if step is not None:
            acc.append({**_line([_x1(step)] * 2, [-0.02, 1.02], f"{label} at step {_n(step)}", color, dash="dash",
                                width=1), "hoverinfo": "skip"})
    lay = _run_layout("accuracy", xaxis=_step_axis(), yaxis=_axis("accuracy", range=[-0.02, 1.02]))
    _decorate(data, lay, lines=False)
    figs["fig-acc"] = {"data": acc, "layout": lay}

    s = data.series
    sx = [_x1(v) for v in s.get("step", [])]
    loss = [_line(x, col("train_loss"), "train", BLUE), _line(x, col("test_loss"), "test", ORANGE)]
    for key, color, dash, name in (("restricted_loss_test", GREEN, "dash", "restricted (test)"),
                                   ("excluded_loss_train", RED, "dot", "excluded (train)")):
        if key in s:
            loss.append(_line(sx, s[key], name, color, dash=dash))
    lay = _run_layout("loss" + (" and progress measures" if len(loss) > 2 else ""), xaxis=_step_axis(),
                      yaxis=_axis("cross-entropy (log scale)", log=True, **LOG_TICKS))
    _decorate(data, lay)
    figs["fig-loss"] = {"data": loss, "layout": lay}

    norm = []
    if any(r.get("weight_norm") is not None for r in rows):
        norm.append(_line(x, col("weight_norm"), "‖θ‖ (weight norm)", PURPLE))
    if "sum_sq_weights" in s:
        norm.append(_line(sx, s["sum_sq_weights"], "Σθ² (checkpoints)", GRAY, dash="dash", yaxis="y2"))
    lay = _run_layout("weight norm", xaxis=_step_axis(), yaxis=_axis("‖θ‖"),
                      yaxis2={"title": {"text": "Σθ²"}, "overlaying": "y", "side": "right", "showgrid": False,
                              "zeroline": False, "tickmode": "sync", **STEP_TICKS})
    lay["margin"]["r"] = 64
    _decorate(data, lay)
    figs["fig-norm"] = {"data": norm, "layout": lay}

    gini_keys = (("gini_embed", f"Gini, {data.input_label} spectrum", BLUE),
                 ("gini_W_L", f"Gini, {data.W_L_formula} spectrum", RED))
    gini = [_line(sx, s[k], name, color) for k, name, color in gini_keys if k in s]
    yrange = _padded([v for k, _, _ in gini_keys if k in s for v in s[k]], floor=0.0, ceil=1.0)
    lay = _run_layout("Fourier sparsity (Gini)", xaxis=_step_axis(),
                      yaxis=_axis("Gini coefficient", **({"range": yrange} if yrange else {})))
    _decorate(data, lay)
    figs["fig-gini"] = {"data": gini, "layout": lay}

    algo = [_line(sx, s[k], k, c) for k, c in (("gradient_symmetricity", BLUE), ("distance_irrelevance", ORANGE),
                                               ("circularity", GREEN), ("fve_clock", RED), ("fve_pizza", PURPLE))
            if k in s]
    if algo and "algorithms" in data.panels:
        lay = _run_layout("clock vs pizza measures", xaxis=_step_axis(), yaxis=_axis("value"))
        _decorate(data, lay)
        figs["fig-algo"] = {"data": algo, "layout": lay}
    return figs


def heatmaps(data: ReportData) -> dict[str, dict[str, Any]]:
    """Final-checkpoint weights in the Fourier basis: RdBu centred on 0, component names on the axis
    (for the families that declare the "fourier" panel)."""
    f = data.final
    if not f or "fourier" not in data.panels:
        return {}
    names = f["names"]
    figs = {}
    sorted_neurons = "neuron (sorted by dominant frequency of " + data.neuron_labels[0] + ")"
    W_L = data.W_L_formula if data.W_L_formula == "W_out" else f"W_L = {data.W_L_formula}"
    specs = (("W_E", "W_E", "embedding dimension", "Fourier component of the operand"),
             ("W_a", data.neuron_labels[0], sorted_neurons, "Fourier component of operand a"),
             ("W_b", data.neuron_labels[1], sorted_neurons, "Fourier component of operand b"),
             ("W_L", W_L, sorted_neurons, "Fourier component of the answer c"))
    for key, name, xtitle, ytitle in specs:
        if key not in f:
            continue
        z = f[key]
        lim = max((abs(v) for row in z for v in row if v is not None), default=1.0) or 1.0
        xs = f["order"] if key != "W_E" else list(range(len(z[0])))
        trace = {"type": "heatmap", "z": z, "y": names[: len(z)], "x": [str(i) for i in xs], "colorscale": RDBU,
                 "zmid": 0, "zmin": -lim, "zmax": lim, "colorbar": {"thickness": 12},
                 "hovertemplate": "%{y} · " + ("neuron " if key != "W_E" else "dim ") + "%{x}<br>%{z}<extra></extra>"}
        lay = _run_layout(f"{name} · Fourier basis · step {_n(f['step'])}", legend=False, height=470,
                          xaxis=_axis(xtitle, type="category", showticklabels=len(xs) <= 64, mirror=False),
                          yaxis=_axis(ytitle, autorange="reversed", type="category", tickfont={"size": 9},
                                      mirror=False),
                          hovermode="closest")
        lay["margin"]["l"] = 70
        figs[f"fig-heat-{key}"] = {"data": [trace], "layout": lay}
    return figs


def key_frequency_text(data: ReportData) -> str:
    """What the Fourier panels show of the key frequencies, in words, from analysis' key frequencies
    (the final checkpoint's W_L norms ≥ 25% of the largest): a few, or spread over many."""
    keys, n_freq = data.key_freqs, (data.n - 1) // 2
    if not keys or not n_freq:
        return "No key frequencies were found at the final checkpoint."
    named = ", ".join(map(str, sorted(keys)))
    if len(keys) <= max(1, n_freq // 4):
        return (f"{len(keys)} of the {n_freq} frequencies {'carries' if len(keys) == 1 else 'carry'} the output "
                f"weights (the key {'frequency' if len(keys) == 1 else 'frequencies'}, k = {named}): "
                f"{'its' if len(keys) == 1 else 'their'} rows light up.")
    return (f"The output weights are spread over {len(keys)} of the {n_freq} frequencies (norm ≥ 25% of the "
            f"largest), so there is no small set of key frequencies: many rows light up.")


def captions(data: ReportData, figs: dict[str, Any]) -> dict[str, str]:
    """One plain sentence per figure: what it shows."""
    embed, W_L = data.input_label, data.W_L_formula
    out = {
        "fig-acc": "Train and test accuracy at every evaluated step; the dashed lines mark where each first "
                   "reaches 99%.",
        "fig-loss": "Train and test cross-entropy" + (
            "; restricted loss keeps only the key frequencies of the logits and excluded loss removes them "
            "(Nanda et al.)" if "restricted_loss_test" in data.series else "") + ".",
        "fig-norm": "The size of all the weights: ‖θ‖ at every evaluated step" + (
            " and the sum of their squares Σθ² at the checkpoints" if "sum_sq_weights" in data.series else "") + ".",
        "fig-gini": f"How concentrated the Fourier spectra of the {embed} and of {W_L} are: 0 spread evenly over "
                    "the frequencies, 1 a single frequency.",
        "fig-algo": "Zhong et al.'s measures that tell the clock algorithm from the pizza algorithm, at each "
                    "checkpoint.",
        "fig-pca": f"Each residue's row of the {embed}, projected on two directions; a clock is a circle "
                   "walked in order of k·x mod p.",
        "fig-spectrum": f"How much of the {embed} and of {W_L} lies at each frequency, relative to the largest "
                        "value over all shown checkpoints.",
        "fig-waves": "The weights of a few neurons against the operand (dots), with the square and cosine wave "
                     "fitted where the periodicity score marks the vector as periodic.",
        "fig-phase": "Each neuron's output phase against the sum of its two input phases; the dashed line is "
                     "φ_out = φ_a + φ_b.",
        "fig-mini": "Where the slider is on the accuracy curves.",
        "fig-heat-W_E": "The embedding W_E with each operand's row expressed in the Fourier basis.",
        "fig-heat-W_a": f"Each neuron's weights on operand a ({data.neuron_labels[0]}) in the Fourier basis.",
        "fig-heat-W_b": f"Each neuron's weights on operand b ({data.neuron_labels[1]}) in the Fourier basis.",
        "fig-heat-W_L": f"Each neuron's effect on the logits ({W_L}) in the Fourier basis of the answer.",
    }
    return out
