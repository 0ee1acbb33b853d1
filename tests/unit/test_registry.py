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
