"""Every figure and report: curves.png (curves), the figures of an analysis (analysis_figures),
sweep phase diagrams (phase), the self-contained HTML run / sweep / run-comparison reports (html,
sweep_html, compare_runs) and their static PNGs (static). Attributes load lazily (matplotlib, plotly). Figures are drawn on bare
`matplotlib.figure.Figure`s: nothing here selects or switches the caller's matplotlib backend."""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "write_analysis_figures": "grokscope.report.analysis_figures",
    "write_compare_report": "grokscope.report.compare_runs",
    "write_curves": "grokscope.report.curves",
    "write_run_report": "grokscope.report.html",
    "write_sweep_report": "grokscope.report.sweep_html",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grokscope.report' has no attribute {name!r}")
