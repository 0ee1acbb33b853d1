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


# A laptop screen. Plotly's toolbar (modebar) floats over each figure's top-right corner: a title
# under it is unreadable and its icons hard to hit, so every title's box must miss the toolbar's.
LAPTOP = {"width": 1366, "height": 768}
OVERLAPS = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const out = [];
  for (const fig of document.querySelectorAll('.plotly-fig')) {
    const bar = fig.querySelector('.modebar');
    if (!bar) { out.push({id: fig.id, problem: 'no modebar'}); continue; }
    const m = box(bar), f = box(fig);
    if (m.r - m.l < 10) { out.push({id: fig.id, problem: 'empty modebar'}); continue; }
    for (const t of fig.querySelectorAll('.gtitle, .annotation-text')) {
      const b = box(t);
      if (b.r - b.l < 1) continue;
      const hit = b.l < m.r && b.r > m.l && b.t < m.b && b.b > m.t;
      if (hit || b.t < f.t - 1) out.push({id: fig.id, problem: hit ? 'under the toolbar' : 'clipped', title: t.textContent,
                                          title_box: b, modebar_box: m});
    }
  }
  return out;
}"""


def _open(pw, path: Path, errors: list):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(viewport=LAPTOP)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.grokscopeReport && window.grokscopeReport.ready", timeout=60_000)
    page.wait_for_timeout(300)
    return browser, page


def _shoot_hovered(page, fig_id: str, name: str) -> None:
    """Screenshot of one figure with the pointer on it (the toolbar shows on hover), for a person."""
    el = page.locator(f"#{fig_id}")
    el.scroll_into_view_if_needed()
    el.hover()
    page.wait_for_timeout(200)
    ARTIFACTS.mkdir(exist_ok=True)
    el.screenshot(path=str(ARTIFACTS / name))


def test_titles_clear_the_toolbar_in_the_run_report_at_laptop_width(tmp_path):
    sync_playwright = _browser_or_skip()
    run = grokscope.run(tiny_mlp("train.checkpoint_every=50"), out=tmp_path)
    report = write_run_report(run.path, png=False)
    errors: list = []
    with sync_playwright() as pw:
        browser, page = _open(pw, report, errors)
        try:
            n = page.evaluate("document.querySelectorAll('.plotly-fig').length")
            bad = page.evaluate(OVERLAPS)
            _shoot_hovered(page, "fig-loss", "report_laptop_fig.png")
        finally:
            browser.close()
    assert n >= 12
    assert not bad, bad
    assert not errors, errors


def test_sweep_report_is_a_facet_grid_with_titles_clear_of_the_toolbar(tmp_path):
    sync_playwright = _browser_or_skip()
    from grokscope.report.sweep_html import write_sweep_report
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import parse_spec

    spec = parse_spec({"base": "swaroop2026", "seeds": 1,
                       "set": {"task": {"p": 7}, "train": {"steps": 60, "eval_every": 20}, "optim": {"lr": 3e-3}},
                       "grid": {"optim.weight_decay": [0.1, 1.0], "task.frac_train": [0.5, 0.7],
                                "model.d_mlp": [8, 16, 32]},
                       "plot": {"x": "optim.weight_decay", "y": "task.frac_train", "facet": "model.d_mlp"}},
                      name="grid")
    path = write_sweep_report(run_sweep(spec, tmp_path / "sweep", workers=0).path)
    errors: list = []
    with sync_playwright() as pw:
        browser, page = _open(pw, path, errors)
        try:
            rows = page.evaluate("""() => Array.from(document.querySelectorAll('.phase-row')).map(r => ({
                head: r.previousElementSibling.textContent.trim(),
                cells: Array.from(r.children).map(c => ({id: c.id || 'empty', top: Math.round(c.getBoundingClientRect().top),
                                                         left: Math.round(c.getBoundingClientRect().left)}))}))""")
            bad = page.evaluate(OVERLAPS)
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("#phases").screenshot(path=str(ARTIFACTS / "sweep_grid.png"))
        finally:
            browser.close()
    # one row per facet value in order, one column per measure (an empty cell keeps its column)
    assert [r["head"] for r in rows] == ["model_d_mlp = 8", "model_d_mlp = 16", "model_d_mlp = 32"], rows
    for i, r in enumerate(rows):
        assert [c["id"].split("-")[1] if c["id"] != "empty" else "tval" for c in r["cells"]] == ["liu", "tval", "grok"], r
        assert [c["id"] for c in r["cells"]][0] == f"fig-liu-{i}"
        assert len({c["top"] for c in r["cells"]}) == 1, r  # side by side on one line at 1366 px
    assert [c["left"] for c in rows[0]["cells"]] == [c["left"] for c in rows[-1]["cells"]]
    assert not bad, bad
    assert not errors, errors
