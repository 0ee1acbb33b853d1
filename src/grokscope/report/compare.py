"""The figure of `grokscope compare`: t_val99 of every seed per (arm, lr) setting, medians and
interquartile ranges, seeds that never grokked drawn above the budget line; the speed-ups with
their bootstrap intervals in the title. A bare matplotlib Figure (no pyplot, no backend switch)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _label(s: dict[str, Any]) -> str:
    return f"{s['arm']}\nlr {s['lr']:.2g}"


def plot_compare(settings: list[dict[str, Any]], speedups: list[dict[str, Any]], budget: int, path: Path,
                 title: str = "compare") -> Path:
    """Write the comparison PNG to `path` (atomically) and return it."""
    from matplotlib.figure import Figure

    from grokscope.store.files import atomic_write

    fig = Figure(figsize=(max(6.0, 0.9 * len(settings) + 2), 4.6))
    ax = fig.subplots()
    never = budget * 1.6  # where non-grokked seeds are drawn
    for i, s in enumerate(settings):
        color = "tab:gray" if s["baseline"] else "tab:blue"
        times = [r["t_val99"] for r in s["runs"]]
        hit = [t for t in times if t is not None]
        n_miss = len(times) - len(hit)
        jitter = [(j - (len(times) - 1) / 2) * 0.06 for j in range(len(times))]
        ax.scatter([i + d for d in jitter[:len(hit)]], [max(t, 1) for t in hit], s=18, color=color, zorder=3)
        if n_miss:
            ax.scatter([i + d for d in jitter[len(hit):]], [never] * n_miss, marker="x", s=22, color="tab:red",
                       zorder=3)
        q = s["t_val99"]
        if math.isfinite(q["median"]):
            ax.hlines(q["median"], i - 0.3, i + 0.3, color="black", lw=2, zorder=4)
        lo, hi = q["q25"], min(q["q75"], never)
        if math.isfinite(lo):
            ax.vlines(i, max(lo, 1), hi, color="black", lw=1, zorder=2)
    ax.axhline(budget, color="tab:red", lw=0.8, ls="--")
    ax.text(len(settings) - 0.5, budget, " budget", va="bottom", ha="right", fontsize=8, color="tab:red")
    ax.set_yscale("log")
    ax.set_xticks(range(len(settings)), [_label(s) for s in settings], fontsize=7)
    ax.set_xlim(-0.6, len(settings) - 0.4)
    ax.set_ylabel("t_val99 (step; x = never within budget)")
    lines = [f"{title}: grey = baseline arms, blue = methods; bar = median, line = IQR"]
    for sp in speedups:
        if sp["event"] == "t_val99":
            lines.append(f"{sp['arm']} (lr {sp['lr']:.2g}) vs {sp['baseline_arm']} (lr {sp['baseline_lr']:.2g}): "
                         f"x{sp['speedup']:.3g} [{sp['ci_low']:.3g}, {sp['ci_high']:.3g}] "
                         f"({round(sp['level'] * 100)}% bootstrap)")
    ax.set_title("\n".join(lines), fontsize=8, loc="left")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))  # a kill never leaves half a PNG
    return path


def _steps(x: float) -> str:
    return "never" if not math.isfinite(x) else f"{x:,.0f}"


def describe(sp: dict[str, float]) -> str:
    """A speed-up and its CI as text, with the degenerate cases said in words."""
    r = sp["speedup"]
    if math.isnan(r):
        return "undefined: neither median reached the event"
    if r == 0:
        return "×0: the method's median never reached the event, the baseline's did"
    if math.isinf(r):
        return "∞: only the method's median reached the event"
    return f"×{r:.3g} [{sp['ci_low']:.3g}, {sp['ci_high']:.3g}]"


EDGE_WORDS = {"high": "top edge of its lr grid", "low": "bottom edge of its lr grid", "single": "one-point lr grid"}


def markdown_tables(data: dict[str, Any]) -> str:
    """compare.json -> two Markdown tables (every setting; the speed-ups) for notes and docs."""
    out = ["| arm | lr | optimizer (wd) | grokked | t_val99 median [IQR] | t_val95 median | final test acc (median) "
           "| state MB |", "|---|---|---|---|---|---|---|---|"]
    best = {(a["arm"], a["lr"]): a.get("edge") for a in data["arms"]}
    for s in data["settings"]:
        q, mark = s["t_val99"], " **(best)**" if (s["arm"], s["lr"]) in best else ""
        if best.get((s["arm"], s["lr"])):  # the best lr lies on the edge of its grid: not tuned
            mark += f" ⚠ {EDGE_WORDS[best[(s['arm'], s['lr'])]]}"
        lr = f"{s['lr']:.3g}" + (" (ext)" if s.get("added") else "")
        out.append(f"| {s['arm']}{mark} | {lr} | {s['optimizer']} ({s['wd_coupling']} {s['weight_decay']:g}) "
                   f"| {s['grokked']:.0%} of {s['n']} | {_steps(q['median'])} [{_steps(q['q25'])}, {_steps(q['q75'])}] "
                   f"| {_steps(s['t_val95']['median'])} | {s.get('final_test_acc', math.nan):.3f} | {s['state_mb']:.2f} |")
    if data["speedups"]:
        out += ["", "| method (best lr) | vs best baseline (lr) | event | speed-up [95% bootstrap CI] |", "|---|---|---|---|"]
        for sp in data["speedups"]:
            edges = [f"{who}'s best lr on the {EDGE_WORDS[sp[key]]}" for who, key in (("method", "method_edge"),
                                                                                    ("baseline", "baseline_edge"))
                     if sp.get(key)]
            out.append(f"| {sp['arm']} ({sp['lr']:.3g}) | {sp['baseline_arm']} ({sp['baseline_lr']:.3g}) | {sp['event']} "
                       f"| {describe(sp)}{' ⚠ ' + ', '.join(edges) if edges else ''} |")
    flagged = [a for a in data["arms"] if a.get("edge")]
    if flagged:
        out += ["", "⚠ best lr on the edge of its arm's grid (its optimum may lie beyond; a speed-up resting on it is a "
                "bound): " + "; ".join(f"{a['arm']} ({EDGE_WORDS[a['edge']]}, lr {a['lr']:.3g}, after "
                                       f"{a.get('extensions', 0)} extension(s)"
                                       + (", the cap" if a.get("edge_capped") else "") + ")" for a in flagged)]
    extended = [a for a in data["arms"] if a.get("extensions")]
    if extended:
        out += ["", "lr grids extended (the best lr lay on an edge): " + "; ".join(
            f"{a['arm']} {', '.join(f'{x:.3g}' for x in a['spec_grid'])} → {', '.join(f'{x:.3g}' for x in a['grid'])}"
            for a in extended)]
    return "\n".join(out) + "\n"
