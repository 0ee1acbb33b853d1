"""The documentation: its generated parts (the CLI-errors page lists every error the source raises), the
front door, and what a reader sees (no private references, lists that render, a site that works from disk).

The strict site build itself (`make docs`: mkdocs build --strict) runs in .ci/run; one test here builds it
again into a temporary folder and checks its links.
"""

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grokscope.reproduce import names as reproduce_names

ROOT = Path(__file__).resolve().parents[2]


def _hook():
    spec = importlib.util.spec_from_file_location("cli_errors", ROOT / "docs" / "hooks" / "cli_errors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _raise_sites(path: Path, classes: set[str]) -> set[int]:
    """Line numbers of `raise <GrokscopeError family>(<message>)` in one file, found independently."""
    lines = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in classes and node.exc.args and not isinstance(node.exc.args[0], ast.Name)):
            lines.add(node.lineno)
    return lines


def test_cli_errors_page_lists_every_error_of_cli_and_config():
    hook = _hook()
    classes, sites = hook.collect()
    assert {"GrokscopeError", "ConfigError", "RunDirError", "StoreError", "SweepError"} <= set(classes)
    listed = {s["where"] for s in sites}
    for rel in ("grokscope/config.py", "grokscope/cli.py", "grokscope/sweep/spec.py"):
        expected = _raise_sites(ROOT / "src" / rel, set(classes))
        missing = {n for n in expected if f"{rel}:{n}" not in listed}
        assert not missing, (rel, sorted(missing))
    assert any(s["where"].startswith("grokscope/cli.py") for s in sites)  # the CLI's own checks
    # config.py's value checks are (condition, message) pairs raised in a loop: each is listed
    messages = [s["message"] for s in sites]
    assert "train.patience must be >= 0, got ‹tr.patience›" in messages
    assert "model.d_mlp (width) must be > 0, got ‹m.d_mlp›" in messages


def test_cli_errors_page_shows_messages_as_text():
    md = _hook().markdown()
    assert "unknown op ‹t.op›; valid ops:" in md  # an f-string placeholder rendered, literal text kept
    assert "## `ConfigError`" in md and "A config key, type or value is wrong." in md
    assert "<!--" not in md


def test_docs_nav_pages_exist_except_the_faults_page_owned_elsewhere():
    import re

    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$|^\s*-\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    pages = {a or b for a, b in nav}
    assert len(pages) >= 18
    missing = {p for p in pages if not (ROOT / "docs" / p).exists()} - {"faults.md"}
    assert not missing, missing


# --- the front door and where facts live ------------------------------------------------------------

# Files outside the repository that the project must never cite (built from pieces so that this
# file does not match itself).
_OUTSIDE = ("PAPERS" + ".md", "DESIGN" + ".md", ".." + "/shared", "/work" + "/shared")
_TEXT = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".json", ".ipynb", ".cfg", ".ini", ".sh", ".html"}


def _project_text_files():
    for top in ("src", "docs", "tests", "scripts", "bench", "notebooks", "sweeps"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in _TEXT and "__pycache__" not in path.parts:
                yield path
    for name in ("README.md", "mkdocs.yml", "Makefile", "pyproject.toml", ".ci/run"):
        if (ROOT / name).exists():
            yield ROOT / name


def test_no_file_cites_developer_files_outside_the_repository():
    """Papers' facts live in docs/papers/<paper>.md; nothing points at files outside the repository."""
    hits = []
    for path in _project_text_files():
        text = path.read_text(errors="replace")
        hits += [f"{path.relative_to(ROOT)}: {s}" for s in _OUTSIDE if s in text]
    assert not hits, hits


def test_readme_is_short_and_starts_with_the_two_commands():
    """README.md opens with `make run` and `make test` (.ci/run runs the latter) and stays <= 150 lines."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)
    body = [ln for ln in lines if ln.strip()]
    assert body[0].startswith("# ")
    assert body[1].startswith("```")
    assert body[2].startswith("make run ") and body[3].startswith("make test ")
    assert body[4] == "```"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_links_into_the_docs_resolve():
    """The README links to docs/*.md files (which work on GitHub without a built site)."""
    import re

    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    docs = [link for link in links if link.startswith("docs/")]
    assert len(docs) >= 10
    missing = [link for link in docs if not (ROOT / link).exists()]
    assert not missing, missing


def test_every_paper_page_cited_by_the_code_exists():
    import re

    cited = set()
    for path in _project_text_files():
        if path.parts[len(ROOT.parts)] in ("src", "tests"):
            cited |= set(re.findall(r"docs/papers/(\w+)\.md", path.read_text(errors="replace")))
    assert {"swaroop2026", "nanda2023", "power2022", "zhong2023", "doshi2024", "pair2023", "grokfast2024",
            "prieto2025"} <= cited
    missing = {c for c in cited if not (ROOT / "docs" / "papers" / f"{c}.md").exists()}
    assert not missing, missing


def test_every_docs_page_is_in_the_nav():
    import re

    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$|^\s*-\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    pages = {a or b for a, b in nav}
    on_disk = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")
               if "hooks" not in p.parts and "data" not in p.parts}  # docs/data/: results as commands wrote them
    assert not on_disk - pages, sorted(on_disk - pages)


def test_moved_readme_content_lives_in_the_docs():
    """What the README used to carry is on a docs page now, numbers beside their commands."""
    page = lambda rel: (ROOT / "docs" / rel).read_text()
    assert "22,100" in page("default-run.md") and "make run" in page("default-run.md")
    assert "--threads 1" in page("default-run.md")
    assert "`swaroop2026_fast`" in page("presets.md") and "odd_div_sub" in page("presets.md")
    assert "450 [450, 450]" in page("fast-recipe.md") and "compare_fast_recipe.toml" in page("fast-recipe.md")
    assert "1.67×" in page("performance.md") and "python -m bench" in page("performance.md")
    assert "optim.grokfast=ema" in page("methods.md") and "grokscope compare" in page("methods.md")
    assert "run_with_cache" in page("python-api.md") and "hook_resid_post" in page("python-api.md")
    assert "FAMILIES" in page("howto/index.md")
    assert "test_layering.py" in page("concepts/architecture.md")
    assert "ATEN_CPU_CAPABILITY=default" in page("development.md")
    assert "grokfast2024" in page("papers/index.md") and "prieto2025" in page("papers/index.md")
    assert "report.html" in page("concepts/run-directory.md") and "static PNGs" in page("concepts/run-directory.md")


def test_committed_results_are_linked_from_the_docs():
    """Every file under docs/data/ is named on some docs page (so a reader finds the evidence)."""
    text = "\n".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    data = [p for p in (ROOT / "docs" / "data").rglob("*") if p.is_file()]
    assert data
    unlinked = [str(p.relative_to(ROOT)) for p in data
                if str(p.relative_to(ROOT / "docs")) not in text and p.name not in text]
    assert not unlinked, unlinked


# --- what a reader sees: no private references, lists that render as lists, a usable nav, a site that
# works opened from disk -------------------------------------------------------------------------------

_DOC_TEXT = {".md", ".txt", ".json", ".jsonl", ".toml", ".yml", ".html"}


def _docs_text_files():
    for path in sorted((ROOT / "docs").rglob("*")):
        if path.is_file() and path.suffix in _DOC_TEXT and "hooks" not in path.parts:
            yield path
    yield ROOT / "README.md"


# "#16", "issue 24", "issues #3 and #4" (an external "owner/repo#12" is a citation and stays allowed)
_ISSUE = re.compile(r"(?<![\w/.&-])#\d+\b|\bissues? #?\d+", re.I)
# a path that exists on one machine only
_MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|root|home|Users|scratch|mnt)/")


def test_docs_cite_no_internal_issue_numbers_or_machine_paths():
    hits = []
    for path in _docs_text_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _ISSUE.search(line) or _MACHINE_PATH.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not hits, hits


def test_the_private_reference_patterns_catch_what_they_should():
    for bad in ("(issue #16, item 3)", "see issue 24", "fixed in #18.", "F=/work/exp/forecast", "--out /tmp/ev/runs",
                "/root/x"):
        assert _ISSUE.search(bad) or _MACHINE_PATH.search(bad), bad
    for fine in ("lucidrains/grokfast-pytorch#1", "[x](page.md#section)", "runs/reproduce/x", "docs/data/x.json",
                 "item 4 of the list", "&#8594;"):
        assert not (_ISSUE.search(fine) or _MACHINE_PATH.search(fine)), fine


_ITEM = re.compile(r"^( *)(?:[-*+]|\d+\.) +\S")


def _list_problems(text: str) -> list[tuple[int, str]]:
    """Lines that Python-Markdown would not render as the list they look like.

    (1) a list item right after a paragraph line (no blank line between): the list is glued into the
    paragraph; (2) a nested item indented by 1-3 spaces: Python-Markdown needs 4, so it renders flat.
    Fenced code is skipped; a list right after a heading, table row, HTML line or quote is fine.
    """
    problems, prev, in_list, fence = [], "", False, False
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence, prev, in_list = not fence, line, False
            continue
        if fence:
            continue
        item = _ITEM.match(line)
        if item:
            indent = len(item.group(1))
            if prev.strip() and not in_list and not prev.lstrip().startswith(("#", "|", "<", ">", "!!!")):
                problems.append((n, "list glued to the paragraph above (add a blank line)"))
            elif in_list and 0 < indent < 4:
                problems.append((n, f"nested item indented {indent} spaces (Python-Markdown needs 4)"))
            in_list = True
        elif not stripped:
            in_list = False
        prev = line
    return problems


def test_the_list_check_catches_glued_and_shallow_lists():
    assert _list_problems("How to read it:\n- a\n- b\n")[0][0] == 2
    assert _list_problems("Steps:\n1. one\n")[0][0] == 2
    assert [n for n, _ in _list_problems("- a\n  - b\n")] == [2]
    ok = ("How to read it:\n\n- a long item\n  continued\n- b\n    - nested\n\n## H\n- c\n\n"
          "```\ntext\n- not a list\n```\n")
    assert _list_problems(ok) == []


def test_no_list_is_glued_to_a_paragraph():
    hits = [f"{p.relative_to(ROOT)}:{n}: {why}" for p in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
            for n, why in _list_problems(p.read_text())]
    assert not hits, hits


def _nav_titles():
    """(section path, title) for every nav entry; an untitled page takes its first '# ' heading."""
    import yaml

    def walk(items, section):
        for item in items:
            if isinstance(item, str):
                heading = next((ln[2:].strip() for ln in (ROOT / "docs" / item).read_text().splitlines()
                                if ln.startswith("# ")), item)
                yield section, heading
                continue
            (title, value), = item.items()
            yield section, title
            if isinstance(value, list):
                yield from walk(value, (*section, title))

    return list(walk(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"], ()))


def test_nav_titles_are_unique_and_no_page_repeats_its_section():
    titles = _nav_titles()
    names = [t.casefold() for _, t in titles]
    assert len(titles) >= 30
    assert len(names) == len(set(names)), sorted({t for t in names if names.count(t) > 1})
    echoes = [(s[-1], t) for s, t in titles if s and t.casefold().startswith(s[-1].casefold())]
    assert not echoes, echoes  # e.g. a "Reproductions" section whose first page is "Reproductions and papers"


def test_built_site_works_opened_from_disk(tmp_path):
    """`mkdocs build --strict` into tmp_path (about 5-10 s; not --quiet, under which a strict build passes
    with warnings): every internal link of every page points at an existing file (a page's NAME.html,
    never a folder, which a browser opened on site/index.html shows as a file listing), every #anchor
    exists, no list renders inside a paragraph, and search works offline."""
    from html.parser import HTMLParser
    from urllib.parse import unquote, urlsplit

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs / mkdocs-material are not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.ids = [], set()

        def handle_starttag(self, tag, attrs):
            for key, value in attrs:
                if key in ("href", "src") and value:
                    self.links.append(value)
                if key in ("id", "name") and value:
                    self.ids.add(value)

    parsed = {}

    def page(path):
        if path not in parsed:
            parsed[path] = Page()
            parsed[path].feed(path.read_text())
        return parsed[path]

    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html").is_file() and len(pages) >= 30
    bad, n_links = [], 0
    for html in pages:
        if html.name == "404.html":  # a web server's error page: its links are absolute on purpose
            continue
        for link in page(html).links:
            url = urlsplit(link)
            if url.scheme or url.netloc or not url.path:
                continue  # external, or an anchor on the same page
            n_links += 1
            target = (html.parent / unquote(url.path)).resolve()
            where = f"{html.relative_to(site)} -> {link}"
            if target.is_dir():
                bad.append(f"{where} (a folder)")
            elif not target.is_file():
                bad.append(f"{where} (missing)")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in page(target).ids:
                bad.append(f"{where} (no such anchor)")
        for para in re.findall(r"<p>(.*?)</p>", html.read_text(), re.S):
            if re.search(r"\n\s*(?:[-*]|\d+\.) ", para):
                bad.append(f"{html.relative_to(site)}: a list rendered inside a paragraph: {para[:80]!r}")
    assert n_links > 500
    assert not bad, bad[:30]
    assert (site / "search" / "search_index.js").is_file()  # the offline plugin: search without a server


REPRODUCTIONS = tuple(reproduce_names())  # every registered reproduction has its page


def test_every_reproduction_page_shows_our_figure_with_its_command():
    """Each paper page embeds a figure of ours (docs/papers/img/, drawn by the quick reproduction) and names the
    command that drew it; every committed figure is shown somewhere and stays small."""
    img = ROOT / "docs" / "papers" / "img"
    shown = set()
    for name in REPRODUCTIONS:
        text = (ROOT / "docs" / "papers" / f"{name}.md").read_text()
        figures = re.findall(r"!\[[^\]]+\]\((img/[^)]+\.png)\)", text)
        assert figures, f"{name}.md embeds no figure of ours"
        assert all((ROOT / "docs" / "papers" / f).is_file() for f in figures), figures
        section = " ".join(text.split("\n## Figure\n", 1)[-1].split())  # the Figure section, lines joined
        assert f"grokscope reproduce {name} --quick" in section, f"{name}.md: the figure names no command"
        shown |= {Path(f).name for f in figures}
    for png in img.glob("*.png"):
        assert png.name in shown, f"{png.name} is committed but no page shows it"
        assert png.stat().st_size <= 160_000, f"{png.name} is {png.stat().st_size:,} bytes"


def test_every_reproduction_page_has_its_claims_table_from_its_committed_result():
    """Each paper page shows the claims of its quick form over ≥ 3 seeds (✓ / ✗ / not tested), and the table is
    exactly the one its committed result (docs/data/claims/NAME_quick.json) gives (scripts/claims_table.py)."""
    from grokscope.reproduce.common import claims_markdown

    for name in REPRODUCTIONS:
        text = (ROOT / "docs" / "papers" / f"{name}.md").read_text()
        blocks = re.findall(r"<!-- claims:(\w+) -->\n(.*?)<!-- /claims -->", text, re.S)
        assert any(key == f"{name}_quick" for key, _ in blocks), f"{name}.md has no claims table of its quick form"
        for key, table in blocks:
            doc = json.loads((ROOT / "docs" / "data" / "claims" / f"{key}.json").read_text())
            assert table == claims_markdown(doc), f"{name}.md: the {key} table differs from its JSON (rerun scripts/claims_table.py)"
            if not doc["quick"]:
                continue
            assert len(doc["seeds"]) >= 3, f"{key}: claims over {len(doc['seeds'])} seed(s)"
            assert all(c["values"] and len(c["values"]) == len(doc["seeds"]) for c in doc["claims"])
