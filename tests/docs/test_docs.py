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
