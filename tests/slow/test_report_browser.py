"""The run report as a person sees it: headless Chromium opens report.html from disk, offline.

Needs Playwright (pip) and a system Chromium at /usr/bin/chromium (apt: chromium). Skipped when
either is missing, unless GROKSCOPE_REQUIRE_BROWSER=1 (CI sets it), where that is a failure.
Leaves screenshots in artifacts/ (report.png, report_<family>_<width>.png) for a person to look at;
everything asserted is read from the DOM and plotly's drawn layout.
"""

import re
import time
from pathlib import Path

import pytest
from tests.browser import ARGS, ARTIFACTS, CHROMIUM, browser_or_skip
from tests.helpers import tiny_mlp, tiny_transformer

import grokscope
from grokscope.report.data import collect
from grokscope.report.figures import phase_bands
from grokscope.report.html import write_run_report

pytestmark = pytest.mark.slow



def test_report_renders_in_chromium_and_the_slider_moves_the_figures(tmp_path):
    sync_playwright = browser_or_skip()
    # p = 23: random weights score below the analysis' periodicity threshold, trained ones above it
    run = grokscope.run(tiny_mlp("task.p=23", "train.checkpoint_every=25"), out=tmp_path)
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
            assert len(figs) >= 11, figs  # a two-hot MLP has no embedding circle
            for f in figs:
                assert f["svg"] > 0 and f["traces"] > 0 and f["drawn"] > 0, f

            read = """() => ({waves: Array.from(document.getElementById('fig-waves').data[0].y),
                              bars: Array.from(document.getElementById('fig-spectrum').data[0].y),
                              phase: Array.from(document.getElementById('fig-phase').data[1].y),
                              label: document.getElementById('step-label').textContent})"""
            # the square / cosine fits are drawn only over a vector the analysis scores as periodic
            fits = """() => { const el = document.getElementById('fig-waves'), D = window.grokscopeReport.data;
              const fr = D.frames[window.grokscopeReport.frame], out = [];
              fr.waves.flat().forEach((w, i) => out.push({fit: w.fit, score: w.score,
                drawn: el.data[3 * i + 1].x.length + el.data[3 * i + 2].x.length,
                label: el.layout.annotations[i].text}));
              return out; }"""
            final_fits = page.evaluate(fits)
            before = page.evaluate(read)
            n_frames = int(page.get_attribute("#slider", "max")) + 1
            assert n_frames > 3
            page.evaluate("""() => { const s = document.getElementById('slider'); s.value = 0;
                                     s.dispatchEvent(new Event('input', {bubbles: true})); }""")
            page.wait_for_function("window.grokscopeReport.frame === 0")
            page.wait_for_timeout(300)
            after = page.evaluate(read)
            for key in ("waves", "bars", "label"):
                assert before[key] != after[key], key  # the spectrum is scaled over all frames: it moves too
            assert "step 0 " in after["label"]
            first_fits = page.evaluate(fits)
            for w in final_fits + first_fits:
                assert (w["drawn"] > 0) == w["fit"], w
                assert ("no fit" in w["label"]) == (not w["fit"]) and f"periodicity {w['score']}" in w["label"], w
            assert any(w["fit"] for w in final_fits) and not all(w["fit"] for w in first_fits)
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


# What the page shows, read from the DOM: sections, toolbar, titles, legends, tick labels, numbers,
# captions, links and the phase shading plotly drew.
LAYOUT = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return {l: r.left, r: r.right, t: r.top, b: r.bottom}; };
  const hit = (a, b) => a.l < b.r && a.r > b.l && a.t < b.b && a.b > b.t;
  const text = (sel) => Array.from(document.querySelectorAll(sel)).map(e => e.textContent.trim()).filter(Boolean);
  const figs = [];
  for (const fig of document.querySelectorAll('.plotly-fig')) {
    const f = box(fig), L = fig._fullLayout, holder = fig.closest('figure'), cap = holder && holder.querySelector('figcaption');
    const plots = Array.from(fig.querySelectorAll('.draglayer .nsewdrag')).map(box);
    const titles = Array.from(fig.querySelectorAll('.gtitle')).map(box);
    const legend = fig.querySelector('.legend') ? box(fig.querySelector('.legend')) : null;
    const xtitles = Array.from(fig.querySelectorAll('.g-xtitle')).map(box);
    const ann = Array.from(fig.querySelectorAll('.annotation')).map(a => ({box: box(a), text: a.textContent}));
    const ticks = (axis) => Array.from(fig.querySelectorAll(`.${axis}tick text`)).map(t => t.textContent);
    figs.push({id: fig.id, fig: f, plots, titles, legend, xtitles, ann, caption: cap ? cap.textContent.trim() : "",
      xlog: L.xaxis && L.xaxis.type === "log", ylog: L.yaxis && L.yaxis.type === "log", xticks: ticks("x"),
      yticks: ticks("y"), yrange: L.yaxis ? L.yaxis.range : null,
      y: (fig.data || []).filter(t => t.type === "scatter" && !t.hoverinfo).map(t => Array.from(t.y || [])),
      rects: (fig.layout.shapes || []).filter(s => s.type === "rect").map(s => [s.x0, s.x1]),
      annOverPlot: ann.filter(a => plots.some(p => hit(a.box, p))).map(a => a.text),
      titleClipped: titles.some(t => t.l < f.l - 1 || t.r > f.r + 1 || t.t < f.t - 1),
      legendTouchesXTitle: legend !== null && xtitles.some(x => legend.t < x.b + 2 && legend.b > x.t),
      legendClipped: legend !== null && legend.b > f.b + 1});
  }
  return {figs, modebars: document.querySelectorAll('.modebar, .modebar-btn').length,  // plotly keeps an empty container
    nav: Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href').slice(1)),
    sections: Array.from(document.querySelectorAll('main > section')).map(s => s.id),
    links: Array.from(document.querySelectorAll('#file-list a')).map(a => a.href),
    numbers: [...text('.gtitle'), ...text('.legendtext'), ...text('.annotation-text'), ...text('#events td.v'),
              ...text('#step-label'), ...text('.chip'), ...text('.hint'), ...text('.verdict'),
              ...text('.xtick text'), ...text('.ytick text')]};
}"""
PLAIN_NUMBER = re.compile(r"(?<!al\. )(?<![\d.,\w])\d{4,}(?![\d.,])")  # 21600 for 21,600 (not "et al. 2023")
SI_SUFFIX = re.compile(r"\d[kmµμnMG]$")  # plotly's 100μ, 10k


def _check_layout(page, data, family: str) -> dict:
    page.locator("#fig-loss").hover()  # plotly shows its toolbar on hover, where it has one
    page.wait_for_timeout(200)
    out = page.evaluate(LAYOUT)
    assert out["modebars"] == 0  # no plotly toolbar on any figure
    assert out["nav"] == out["sections"], out  # the navigation lists exactly the sections present
    assert all(Path(url.removeprefix("file://")).exists() for url in out["links"]) and len(out["links"]) >= 4
    bands = [[x0, x1] for _, _, x0, x1 in phase_bands(data)]
    for f in out["figs"]:
        where = f"{family} {f['id']}"
        assert f["caption"].endswith("."), where  # each plot says what it shows
        assert not f["titleClipped"], where
        assert not f["legendTouchesXTitle"] and not f["legendClipped"], where
        assert not f["annOverPlot"], (where, f["annOverPlot"])  # no label drawn over the curves
        if f["ylog"]:
            assert f["yticks"] and not any(SI_SUFFIX.search(t) for t in f["yticks"]), (where, f["yticks"])
        if f["xlog"]:
            assert not any(SI_SUFFIX.search(t) for t in f["xticks"]), (where, f["xticks"])
        if f["id"] in ("fig-loss", "fig-norm", "fig-gini", "fig-acc"):
            assert f["rects"] == bands, (where, f["rects"], bands)  # the shading is the checked phase bands
    acc = next(f for f in out["figs"] if f["id"] == "fig-acc")
    assert acc["ann"] == []  # the event labels are legend entries, never text over the curves
    gini = next(f for f in out["figs"] if f["id"] == "fig-gini")
    values = [v for tr in gini["y"] for v in tr if v is not None]
    lo, hi = gini["yrange"]
    assert lo <= min(values) and hi >= max(values) and hi - lo <= 1.5 * (max(values) - min(values)) + 0.02, \
        (gini["yrange"], min(values), max(values))  # autoscaled to the data, not fixed at 0-1
    plain = [t for t in out["numbers"] if PLAIN_NUMBER.search(t)]
    assert not plain, plain  # one number format: 21,600
    return out


@pytest.mark.parametrize("width", [1400, 1000])
def test_run_report_layout_is_readable_and_shows_only_what_applies(tmp_path, width):
    sync_playwright = browser_or_skip()
    runs = {"mlp": grokscope.run(tiny_mlp("train.checkpoint_every=50", "train.steps=1500"), out=tmp_path),
            "transformer": grokscope.run(tiny_transformer(), out=tmp_path)}
    errors: list = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for family, run in runs.items():
                report = write_run_report(run.path, png=family == "mlp")
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
                page.goto(report.as_uri(), wait_until="load")
                page.wait_for_function("window.grokscopeReport && window.grokscopeReport.ready", timeout=60_000)
                page.wait_for_timeout(300)
                out = _check_layout(page, collect(run.path, max_frames=60), family)
                ids = {f["id"] for f in out["figs"]}
                if family == "mlp":  # panels written for transformers are absent, not empty
                    assert "algorithms" not in out["sections"] and "fig-pca" not in ids
                    assert page.locator("input[name=clock]").count() == 0
                else:
                    assert "algorithms" in out["sections"] and "fig-pca" in ids
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"report_{family}_{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    assert not errors, errors


def test_sweep_report_is_a_facet_grid_with_titles_clear_of_the_toolbar(tmp_path):
    sync_playwright = browser_or_skip()
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
    from grokscope.keys import label

    assert [r["head"] for r in rows] == [f"{label('model.d_mlp')} = {w}" for w in (8, 16, 32)], rows
    for i, r in enumerate(rows):
        assert [c["id"].split("-")[1] if c["id"] != "empty" else "tval" for c in r["cells"]] == ["liu", "tval", "grok"], r
        assert [c["id"] for c in r["cells"]][0] == f"fig-liu-{i}"
        assert len({c["top"] for c in r["cells"]}) == 1, r  # side by side on one line at 1366 px
    assert [c["left"] for c in rows[0]["cells"]] == [c["left"] for c in rows[-1]["cells"]]
    assert not bad, bad
    assert not errors, errors
