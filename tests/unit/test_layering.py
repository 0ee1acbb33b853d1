"""The layering of grokscope, checked on the source (`ast`, so function-local imports count too;
imports under `if TYPE_CHECKING:` do not run and do not count).

Every package and top-level module sits in exactly one layer (no package spans two); no module
imports a layer above its own, counting the package `__init__`s an import runs (importing
grokscope.a.b runs grokscope/a/__init__.py); figures (matplotlib, plotly) live only in `report/`;
`grokscope.events` is stdlib only; nothing selects matplotlib's backend or touches pyplot.
A module not in LAYERS fails the test: place it in the table when you add it. The table is also
the architecture page's layer list (docs/concepts/architecture.md), checked below.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "grokscope"

# Bottom to top; a module may import its own layer or any below it.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "events", "cores", "registry", "keys"),  # stdlib-only foundations
    ("tasks",),  # datasets: operation tables, splits, noise (read a TaskConfig, never import config)
    ("config",),
    ("presets",),
    ("models",),
    ("interop",),  # TransformerLens export/import (optional extra): models <-> TL, no training
    ("train",),  # the engine; stop rules as plug-ins, none that needs more than training
    ("store",),  # run directories, atomic files, the DuckDB index: neither analysis nor report
    ("analysis",),  # numbers only
    ("forecast",),  # features, model, predictions, and its stop rule (handed to train by lifecycle)
    ("report",),  # every figure
    ("lifecycle",),  # bring runs to finished: train + store + the forecaster's stop rule
    ("sweep", "compare", "api"),
    ("reproduce",),
    ("cli",),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
FIGURE_LIBS = ("matplotlib", "plotly")


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = f.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Every absolute module name `module` imports, anywhere in the file (relative ones resolved;
    `import_module("...")` literals and lazy `_EXPORTS` tables included)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):  # drop type-only blocks first: they never run
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names if name.startswith("grokscope")}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module":
            out |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                out |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return out


def _layer(name: str) -> int | None:
    """The rank of grokscope.<name>: its package's (None: the package root, which only re-exports lazily)."""
    top = name.removeprefix("grokscope").lstrip(".").split(".")[0]
    if not top:
        return None
    if top not in RANK:
        raise AssertionError(f"grokscope.{top} is in no layer of tests/unit/test_layering.py::LAYERS")
    return RANK[top]


def _runs(name: str) -> list[str]:
    """What importing `name` executes of ours: every package `__init__` on its path, then the module."""
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(2, len(parts) + 1)]


def test_no_package_spans_two_layers():
    """Each layer entry is a whole top-level package or module, so the `__init__` an import runs
    (grokscope.a.b runs grokscope/a/__init__.py) has the rank of the module imported."""
    assert all("." not in name for names in LAYERS for name in names), [n for ns in LAYERS for n in ns if "." in n]
    assert len(RANK) == sum(len(names) for names in LAYERS), "a name appears in two layers"
    tops = {m.split(".")[1] for m in _modules() if m.count(".") >= 1}
    assert tops == set(RANK), (tops - set(RANK), set(RANK) - tops)  # no module without a layer, no stale name


def test_every_module_has_a_layer():
    for module in _modules():
        _layer(module)


def test_no_module_imports_a_layer_above_it():
    modules = _modules()
    inversions: set[str] = set()
    for module, path in modules.items():
        own = _layer(module)
        if own is None:
            continue
        for name in sorted(_imports(module, path)):
            if not name.startswith("grokscope"):
                continue
            # `from grokscope.x import f` adds "grokscope.x.f": rank it only when it is a module
            if name not in modules and name.rpartition(".")[0] in modules and name != "grokscope":
                name = name.rpartition(".")[0]
            for ran in _runs(name):  # the package __init__s it runs count as imports too
                target = _layer(ran)
                if target is not None and target > own:
                    inversions.add(f"{module} (layer {own}) imports {name}, running {ran} (layer {target})")
    assert not inversions, "imports that go up a layer:\n  " + "\n  ".join(sorted(inversions))


def test_figures_live_only_in_report():
    offenders = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if not (module == "grokscope.report" or module.startswith("grokscope.report."))
        for name in sorted(_imports(module, path))
        if name.split(".")[0] in FIGURE_LIBS
    ]
    assert not offenders, offenders


def test_nothing_switches_the_matplotlib_backend_or_uses_pyplot():
    offenders = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("use", "switch_backend"):
                if getattr(node.func.value, "id", None) in ("matplotlib", "mpl", "plt"):
                    offenders.append(f"{module}:{node.lineno} calls {node.func.value.id}.{node.func.attr}")
        offenders += [f"{module} imports {n}" for n in _imports(module, path) if n.startswith("matplotlib.pyplot")
                      or n == "matplotlib.pylab"]
    assert not offenders, offenders


def test_events_is_stdlib_only():
    imports = _imports("grokscope.events", PKG / "events.py")
    third_party = {n for n in imports if n.split(".")[0] not in sys.stdlib_module_names}
    assert not third_party, third_party


def test_the_table_catches_an_inversion(tmp_path):
    """The checker itself: a planted store -> report import is reported."""
    f = tmp_path / "db.py"
    f.write_text("def f():\n    from grokscope.report.curves import write_curves\n")
    names = _imports("grokscope.store.db", f)
    assert "grokscope.report.curves" in names
    assert _layer("grokscope.report.curves") > _layer("grokscope.store.db")
    assert _layer("grokscope.tasks.ops") < _layer("grokscope.config") < _layer("grokscope.train.loop")
    assert _runs("grokscope.forecast.stop_rule") == ["grokscope.forecast", "grokscope.forecast.stop_rule"]


def test_training_knows_only_training():
    """train/ imports neither the forecaster nor anything above it (the forecast stop rule is handed in)."""
    for module, path in _modules().items():
        if module.startswith("grokscope.train"):
            assert not {n for n in _imports(module, path) if n.startswith("grokscope.forecast")}, module


def test_the_architecture_page_lists_these_layers():
    """docs/concepts/architecture.md shows the same layers, in the same order, as LAYERS."""
    import re

    page = (SRC.parent / "docs" / "concepts" / "architecture.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ((?:`[a-z_]+`(?:, )?)+) \|", page, flags=re.M)
    assert [int(i) for i, _ in rows] == list(range(len(LAYERS)))
    assert [tuple(re.findall(r"`([a-z_]+)`", names)) for _, names in rows] == LAYERS
