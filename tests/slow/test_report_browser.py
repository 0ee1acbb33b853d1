"""The run report as a person sees it: headless Chromium opens report.html from disk, offline.

Needs Playwright (pip) and a system Chromium at /usr/bin/chromium (apt: chromium). Skipped when
either is missing, unless GROKSCOPE_REQUIRE_BROWSER=1 (CI sets it), where that is a failure.
Leaves a screenshot at artifacts/report.png.
"""

import os
import shutil
import time
from pathlib import Path

import pytest
from tests.helpers import tiny_mlp

import grokscope
from grokscope.report.html import write_run_report

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("GROKSCOPE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run"]


def _browser_or_skip():
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


def test_report_renders_in_chromium_and_the_slider_moves_the_figures(tmp_path):
    sync_playwright = _browser_or_skip()
    run = grokscope.run(tiny_mlp("train.checkpoint_every=25"), out=tmp_path)
    report = write_run_report(run.path)
    errors, fetched = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

            def offline(route):  # the report must not need the network: refuse and record any fetch
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    fetched.append(route.request.url)
                    route.abort()

            page.route("**/*", offline)
            t0 = time.perf_counter()
            page.goto(report.as_uri(), wait_until="load")
            page.wait_for_function("window.grokscopeReport && window.grokscopeReport.ready", timeout=60_000)
            load_s = time.perf_counter() - t0

            figs = page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-fig')).map(d => ({
                id: d.id, svg: d.querySelectorAll('svg.main-svg').length, traces: (d._fullData || []).length,
                drawn: d.querySelectorAll('.scatterlayer .trace path, .scatterlayer .trace .point, ' +
                                          '.barlayer .trace .point, .heatmaplayer image, .hm image').length}))""")
            assert len(figs) >= 12, figs
            for f in figs:
                assert f["svg"] > 0 and f["traces"] > 0 and f["drawn"] > 0, f

            read = """() => ({waves: Array.from(document.getElementById('fig-waves').data[0].y),
                              pca: Array.from(document.getElementById('fig-pca').data[1].x),
                              bars: Array.from(document.getElementById('fig-spectrum').data[0].y),
                              phase: Array.from(document.getElementById('fig-phase').data[1].y),
                              label: document.getElementById('step-label').textContent})"""
            before = page.evaluate(read)
            n_frames = int(page.get_attribute("#slider", "max")) + 1
            assert n_frames > 3
            page.evaluate("""() => { const s = document.getElementById('slider'); s.value = 0;
                                     s.dispatchEvent(new Event('input', {bubbles: true})); }""")
            page.wait_for_function("window.grokscopeReport.frame === 0")
            page.wait_for_timeout(300)
            after = page.evaluate(read)
            for key in ("waves", "pca", "bars", "label"):
                assert before[key] != after[key], key
            assert "step 0 " in after["label"]
            # back to the end with the keyboard, as a person would
            page.focus("#slider")
            page.keyboard.press("End")
            page.wait_for_function(f"window.grokscopeReport.frame === {n_frames - 1}")
            assert page.evaluate(read)["waves"] == before["waves"]

            ARTIFACTS.mkdir(exist_ok=True)
            page.evaluate("window.scrollTo(0, 0)")  # what a new user sees first
            page.wait_for_timeout(200)
            page.screenshot(path=str(ARTIFACTS / "report.png"))
        finally:
            browser.close()
    assert not errors, errors
    assert not fetched, fetched
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    print(f"report {report.stat().st_size / 1e6:.1f} MB, loaded and drawn in {load_s:.2f} s")
