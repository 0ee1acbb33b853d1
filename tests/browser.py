"""Headless Chromium for the report tests (slow tier): where it is, how it is started, and the
skip-or-fail rule (CI sets GROKSCOPE_REQUIRE_BROWSER=1, so a missing browser fails there)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GROKSCOPE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run"]


def browser_or_skip():
    """playwright's sync_playwright, or skip (fail where a browser is required)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed"
    else:
        if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
            return sync_playwright
        reason = f"no Chromium at {CHROMIUM}"
    if os.environ.get("GROKSCOPE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required but {reason}")
    pytest.skip(reason)
