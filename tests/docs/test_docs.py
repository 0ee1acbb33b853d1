"""The documentation's generated parts: the CLI-errors page lists every error the source raises.

The strict site build itself (`make docs`: mkdocs build --strict) runs in .ci/run.
"""

import ast
import importlib.util
from pathlib import Path

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
