"""The clock-or-pizza share's sensitivity to the classification thresholds (the zhong2023 reproduction's
rate × width sweep, `grokscope.reproduce.zhong2023.share_report`), beside the article's ≈ 40%.

Drawn on a bare `matplotlib.figure.Figure` (no pyplot), like every figure in this layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_share_sensitivity(curves: dict[str, dict[str, Any]], path: Path, *, article: float, n: int,
                           di_cut: float = 0.8, circ_cut: str = "0.6", gs_cut: float = 0.9) -> Path:
    """Left: the share of generalised runs classified clock or pizza against the distance-irrelevance cut,
    one line per circularity cut, from the runs' medians after generalising (solid) and, for the default
    circularity cut, from the final checkpoint alone (dashed). Right: the same share against the
    gradient-symmetricity cut. A horizontal line marks the article's share; dotted verticals the
    default cuts. `curves`: {'median' | 'final': `share_curves(...)`}."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 3.8), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.5, 1]})
    med, fin = curves["median"], curves.get("final")
    colors = ("tab:purple", "tab:blue", "tab:green", "tab:orange", "tab:red")
    for color, (circ, ys) in zip(colors, med["by_di"].items(), strict=False):
        ax.plot(med["di_cuts"], ys, color=color, lw=1.8 if circ == circ_cut else 1.2,
                label=f"circularity cut {circ} (median after generalising)")
    if fin is not None and circ_cut in fin["by_di"]:
        ax.plot(fin["di_cuts"], fin["by_di"][circ_cut], color="black", lw=1.2, ls="--",
                label=f"circularity cut {circ_cut}, final checkpoint alone")
    ax2.plot(med["gs_cuts"], med["by_gs"], color="tab:blue", lw=1.8, label="median after generalising")
    if fin is not None:
        ax2.plot(fin["gs_cuts"], fin["by_gs"], color="black", lw=1.2, ls="--", label="final checkpoint alone")
    for a, cut, xlabel in ((ax, di_cut, "distance-irrelevance cut (clock ≥ cut > pizza)"),
                           (ax2, gs_cut, "gradient-symmetricity cut (pizza ≥ cut > clock)")):
        a.axhline(article, color="gray", lw=1.5, ls="-.", label="the article: about 40%")
        a.axvline(cut, color="gray", lw=0.8, ls=":")
        a.set_xlabel(xlabel)
        a.set_ylim(0, 1.02)
        a.grid(alpha=0.3)
    ax.set_ylabel("clock or pizza, share of the runs that generalised")
    ax.set_title(f"{n} runs: share against the DI cut (symmetricity cut {gs_cut:g})", fontsize=9)
    ax2.set_title(f"against the symmetricity cut (DI {di_cut:g}, circularity {circ_cut})", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax2.legend(fontsize=7, loc="lower left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


__all__ = ["plot_share_sensitivity"]
