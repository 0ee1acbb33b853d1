"""mkdocs hook: the CLI-errors page lists every error message grokscope can raise, read from the source.

Every user-facing failure is a `GrokscopeError` (or a subclass) or a `_fail(...)` in cli.py; the CLI
prints its message as one red line and exits with code 2 (130 when interrupted). The page's
`<!-- cli-errors -->` marker is replaced by one table per error class, so the list cannot fall
behind the code. `collect()` is also what tests/docs/test_docs.py checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "grokscope"
MARKER = "<!-- cli-errors -->"


def _error_classes(files: list[Path]) -> dict[str, str]:
    """Name -> docstring of GrokscopeError and every class derived from it (transitively)."""
    bases: dict[str, tuple[list[str], str]] = {}
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
                bases[node.name] = (names, (ast.get_docstring(node) or "").split("\n")[0])
    found = {"GrokscopeError": bases.get("GrokscopeError", ([], ""))[1]}
    changed = True
    while changed:
        changed = False
        for name, (bs, doc) in bases.items():
            if name not in found and any(b in found for b in bs):
                found[name] = doc
                changed = True
    return found


def _text(node: ast.expr) -> str:
    """A message template: literal text, with each {placeholder} shown as ‹expression›."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else f"‹{ast.unparse(v.value)}›" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    return f"‹{ast.unparse(node)}›"


def _check_messages(f: Path) -> list[ast.expr]:
    """Messages of `(condition, message)` pairs in a file (config.py's value checks)."""
    out = []
    for node in ast.walk(ast.parse(f.read_text())):
        if (isinstance(node, ast.Tuple) and len(node.elts) == 2 and not isinstance(node.elts[0], ast.Constant)
                and (isinstance(node.elts[1], ast.JoinedStr)
                     or isinstance(node.elts[1], ast.Constant) and isinstance(node.elts[1].value, str))):
            out.append(node.elts[1])
    return out


def collect() -> tuple[dict[str, str], list[dict[str, str]]]:
    """(error classes with their one-line meaning, one entry per raise site: class, message, where)."""
    files = sorted(SRC.rglob("*.py"))
    classes = _error_classes(files)
    sites = []
    for f in files:
        rel = f.relative_to(SRC.parent).as_posix()
        for node in ast.walk(ast.parse(f.read_text())):
            call = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                if node.exc.func.id in classes:
                    call, cls = node.exc, node.exc.func.id
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_fail"
                  and f.name == "cli.py"):
                call, cls = node, "cli"
            if call is None or not call.args:
                continue
            if isinstance(call.args[0], ast.Name) and cls != "cli":
                # `raise ConfigError(message)` over a table of (condition, message) checks: list the table
                sites += [{"cls": cls, "message": _text(m), "where": f"{rel}:{m.lineno}"} for m in _check_messages(f)]
                continue
            msg = _text(call.args[0])
            if msg.startswith("‹") and msg.endswith("›") and msg.count("‹") == 1:
                continue  # re-raising another error's message (`_fail(str(e))`): listed at its source
            sites.append({"cls": cls, "message": msg, "where": f"{rel}:{node.lineno}"})
    unique = {(s["cls"], s["where"]): s for s in sites}
    return classes, list(unique.values())


def markdown() -> str:
    classes, sites = collect()
    out = [f"{len(sites)} messages from {len({s['where'].split(':')[0] for s in sites})} modules. "
           "‹…› marks a part filled in at run time.", ""]
    order = ["cli", *sorted(classes, key=lambda c: (c != "GrokscopeError", c))]
    for cls in order:
        rows = [s for s in sites if s["cls"] == cls]
        if not rows:
            continue
        meaning = ("checked by the command line itself, before any work starts" if cls == "cli"
                   else classes[cls] or "")
        out += [f"## {'command-line checks' if cls == 'cli' else f'`{cls}`'}", "", meaning, "",
                "| message | raised in |", "|---|---|"]
        for s in sorted(rows, key=lambda s: s["where"]):
            msg = s["message"].replace("|", "\\|").replace("\n", " ")
            out.append(f"| {msg} | `{s['where']}` |")
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown_text: str, page, config, files) -> str:  # noqa: ARG001 — mkdocs hook signature
    if MARKER in markdown_text:
        return markdown_text.replace(MARKER, markdown())
    return markdown_text
