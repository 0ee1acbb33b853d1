"""Figures and reports: curves.png (curves), sweep phase diagrams (phase), the self-contained
HTML run / sweep reports (html, sweep_html). Attributes load lazily (matplotlib, plotly)."""

from importlib import import_module
from typing import Any

_EXPORTS = {"write_run_report": "grokscope.report.html", "write_sweep_report": "grokscope.report.sweep_html"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'grokscope.report' has no attribute {name!r}")
