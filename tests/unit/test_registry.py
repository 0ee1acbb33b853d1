"""The one registry pattern (grokscope.registry)."""

import pytest

from grokscope.errors import ConfigError
from grokscope.registry import Registry


def test_register_get_names_in_order():
    reg: Registry[type] = Registry("widget")

    @reg.register("b")
    class B: ...

    @reg.register("a")
    class A: ...

    assert reg.get("a") is A and reg.names() == ["b", "a"] and "b" in reg and len(reg) == 2


def test_unknown_name_lists_the_choices():
    reg: Registry[int] = Registry("widget")
    reg.register("x")(1)
    with pytest.raises(ConfigError, match=r"unknown widget 'y'; choose one of: x"):
        reg.get("y")


def test_two_objects_under_one_name_is_refused():
    reg: Registry[int] = Registry("widget")
    reg.register("x")(1)
    with pytest.raises(ValueError, match="twice"):
        reg.register("x")(2)


def test_package_modules_register_on_first_lookup():
    reg: Registry = Registry("measure-like", package="grokscope.train.optim")
    assert reg.names() == []  # the package imports but registers into its own table, not this one
    assert reg._loaded


def test_declared_names_are_known_before_their_module_is_imported(tmp_path, monkeypatch):
    import sys

    (tmp_path / "gs_plugin_mod.py").write_text(
        "from tests_registry_target import REG\n@REG.register('late')\nclass Late: ...\n")
    reg: Registry[type] = Registry("widget")
    target = type(sys)("tests_registry_target")
    target.REG = reg
    monkeypatch.setitem(sys.modules, "tests_registry_target", target)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.register("early")(int)
    reg.declare("late", "gs_plugin_mod")
    reg.declare("missing", "tests_registry_target")  # a module that registers nothing under the name
    assert reg.names() == ["early", "late", "missing"] and "late" in reg
    assert "gs_plugin_mod" not in sys.modules  # names and `in` imported nothing
    assert reg.get("late").__name__ == "Late" and reg.names() == ["early", "late", "missing"]
    with pytest.raises(ValueError, match="registers no 'missing'"):
        reg.get("missing")
    with pytest.raises(ValueError, match="twice"):
        reg.declare("early", "gs_plugin_mod")


@pytest.mark.parametrize("registry, folder", [
    ("grokscope.analysis.measures:MEASURES", "analysis"),
    ("grokscope.config:OPTIMIZERS", "train/optim"),
])
def test_every_plugin_registered_in_a_package_is_declared(registry, folder):
    """A declared registry imports only the declared modules: a `@register("name", ...)` in another
    module of the package would never be found, so each one must be declared (with its module)."""
    import ast
    import importlib
    from pathlib import Path

    module, _, attr = registry.partition(":")
    reg = getattr(importlib.import_module(module), attr)
    src = Path(__file__).resolve().parents[2] / "src" / "grokscope" / folder
    found = {}
    for f in sorted(src.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found[node.args[0].value] = f.name
    assert found and set(found) <= set(reg.names()), {n: found[n] for n in set(found) - set(reg.names())}
    reg.items()  # and every declaration names the module that registers it (else ValueError)
