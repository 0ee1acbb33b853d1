"""The sweep report and the run comparison as a person sees them (issue #26): headless Chromium opens
the pages from disk, offline, at 1000 px.

Needs Playwright (pip) and a system Chromium at /usr/bin/chromium (apt: chromium), as
tests/slow/test_report_browser.py; skipped when either is missing, unless GROKSCOPE_REQUIRE_BROWSER=1
(CI sets it), where that is a failure. Leaves screenshots in artifacts/.
"""

from pathlib import Path

import pytest
from tests.browser import ARGS, ARTIFACTS, CHROMIUM, browser_or_skip
from tests.helpers import tiny_mlp

import grokscope
from grokscope.keys import label

pytestmark = pytest.mark.slow

NARROW = {"width": 1000, "height": 800}


def _open(pw, path: Path, errors: list, fetched: list):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(viewport=NARROW)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)

    def offline(route):  # the page must not need the network
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.grokscopeReport && window.grokscopeReport.ready", timeout=60_000)
    page.wait_for_timeout(300)
    return browser, page


N_CURVES = "document.getElementById('fig-curves')._fullData.length"


def test_sweep_report_at_1000px_names_axes_keeps_the_key_columns_in_view_and_draws_ticked_curves(tmp_path):
    sync_playwright = browser_or_skip()
    from grokscope.report.sweep_html import write_sweep_report
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import parse_spec

    spec = parse_spec({"base": "swaroop2026", "seeds": 2,
                       "set": {"task": {"p": 7}, "train": {"steps": 60, "eval_every": 20}, "optim": {"lr": 3e-3}},
                       "grid": {"optim.weight_decay": [0.1, 1.0], "task.frac_train": [0.5, 0.7],
                                "model.d_mlp": [16, 32]},
                       "plot": {"x": "optim.weight_decay", "y": "task.frac_train", "facet": "model.d_mlp"}},
                      name="narrow")
    path = write_sweep_report(run_sweep(spec, tmp_path / "sweep", workers=0).path)
    errors, fetched = [], []
    with sync_playwright() as pw:
        browser, page = _open(pw, path, errors, fetched)
        try:
            heads = page.evaluate("""() => Array.from(document.querySelectorAll('.phase-row'))
                                          .map(r => r.previousElementSibling.textContent.trim())""")
            axis_titles = page.evaluate("""() => Array.from(document.querySelectorAll(
                '[id^=fig-liu-] .g-xtitle, [id^=fig-liu-] .g-ytitle, [id^=fig-grok-] .g-xtitle, [id^=fig-grok-] .g-ytitle'))
                .map(t => t.textContent)""")
            page.locator("#runs").scroll_into_view_if_needed()
            cols = page.evaluate("""() => {
                const box = document.querySelector('.table-scroll');
                return {scrolled: box.scrollLeft, width: document.documentElement.clientWidth,
                        heads: Array.from(document.querySelectorAll('#runs-table th')).map(th => ({
                          key: th.dataset.key || 'run', right: Math.round(th.getBoundingClientRect().right)}))};
            }""")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "sweep_table_1000px.png"))

            first = page.evaluate(N_CURVES)
            ticked = page.evaluate("window.grokscopeReport.ticked.length")
            page.locator("#runs-table input.pick:not(:checked)").first.check()  # a person ticks one more run
            page.wait_for_timeout(200)
            after_tick = page.evaluate(N_CURVES)
            page.click("#untick-all")
            page.wait_for_timeout(200)
            after_clear = page.evaluate(N_CURVES)
            # a click on the top-right cell of the first Liu diagram ticks that cell's runs
            page.locator("#fig-liu-0").scroll_into_view_if_needed()
            xy = page.evaluate("""() => { const el = document.getElementById('fig-liu-0'), L = el._fullLayout;
                const r = el.getBoundingClientRect(), xa = L.xaxis, ya = L.yaxis;
                return [r.left + xa._offset + xa.l2p(xa._categories.length - 1),
                        r.top + ya._offset + ya.l2p(ya._categories.length - 1)]; }""")
            page.mouse.click(xy[0], xy[1])
            page.wait_for_timeout(300)
            cell = page.evaluate("""() => { const D = window.grokscopeReport.data, L = document.getElementById('fig-liu-0')._fullLayout;
                return {want: D.cell_runs[[D.facets[0], L.yaxis._categories.at(-1), L.xaxis._categories.at(-1)].join('|')],
                        got: window.grokscopeReport.ticked, traces: document.getElementById('fig-curves')._fullData.length}; }""")
            page.locator("#curves").screenshot(path=str(ARTIFACTS / "sweep_curves.png"))
        finally:
            browser.close()
    assert heads == [f"{label('model.d_mlp')} = {w}" for w in (16, 32)]
    assert axis_titles and set(axis_titles) == {label("optim.weight_decay"), label("task.frac_train")}, axis_titles
    keys = [h["key"] for h in cols["heads"]]
    key_cols = ["run", "optim_weight_decay", "task_frac_train", "model_d_mlp", "train_seed", "task_data_seed",
                "t_train99", "t_val99", "grokked", "stop_reason"]
    assert keys[:len(key_cols)] == key_cols
    assert cols["scrolled"] == 0
    off = [h for h in cols["heads"][:len(key_cols)] if h["right"] > cols["width"]]
    assert not off, (off, cols["width"])  # the columns a person reads first are on screen without scrolling
    assert ticked == 8 and first == 2 * ticked  # one representative run per cell (2 facets x 2 x 2)
    assert after_tick == first + 2 and after_clear == 0
    assert cell["want"] and sorted(cell["got"]) == sorted(cell["want"]) and cell["traces"] == 2 * len(cell["want"])
    assert not errors, errors
    assert not fetched, fetched


def test_compare_page_overlays_the_runs(tmp_path):
    sync_playwright = browser_or_skip()
    from grokscope.report.compare_runs import write_compare_report

    runs = [grokscope.run(tiny_mlp(f"optim.weight_decay={wd}"), out=tmp_path).path for wd in (0.3, 1.0)]
    path = write_compare_report(runs, tmp_path / "compare.html")
    errors, fetched = [], []
    with sync_playwright() as pw:
        browser, page = _open(pw, path, errors, fetched)
        try:
            figs = page.evaluate("""() => Object.fromEntries(['fig-acc', 'fig-loss'].map(id => {
                const d = document.getElementById(id);
                return [id, {traces: d._fullData.length, svg: d.querySelectorAll('svg.main-svg').length,
                             lines: d.querySelectorAll('.scatterlayer .trace path.js-line').length,
                             xtype: d._fullLayout.xaxis.type}]; }))""")
            diff = page.evaluate("""() => Array.from(document.querySelectorAll('#config-diff tbody tr'))
                                          .map(r => r.dataset.key)""")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
        finally:
            browser.close()
    assert figs["fig-acc"]["traces"] == 6 and figs["fig-loss"]["traces"] == 4, figs  # 2 runs x (2 curves [+ events])
    assert figs["fig-acc"]["lines"] >= 4 and figs["fig-loss"]["lines"] >= 4, figs
    assert figs["fig-acc"]["xtype"] == figs["fig-loss"]["xtype"] == "log"
    assert diff == ["optim.weight_decay"]
    assert not errors, errors
    assert not fetched, fetched
