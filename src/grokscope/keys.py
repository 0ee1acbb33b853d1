"""Dotted config keys ("optim.lr", "task.data_seed"): the one place that reads, writes, types and
flattens them. Torch-free and below `config` (the config class is handed in), so the config's
`--set`, the sweep and compare specs, the engine's stack key and the store's columns all share it.

    get_key(cfg, "optim.lr")           # of a dict (to_dict()) or of the dataclasses themselves
    set_key(d, "optim.lr", 1e-3)       # in a nested dict (pop_key removes one)
    key_type(RunConfig, "optim.lr")    # float; ConfigError for an unknown key or a section
    flatten({"optim": {"lr": 1e-3}})   # {"optim.lr": 0.001}; column("optim.lr") -> "optim_lr"
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

from grokscope.errors import ConfigError

SEP = "."
COLUMN_SEP = "_"  # a config key as a column of the runs table: optim.weight_decay -> optim_weight_decay


def split_key(key: str) -> list[str]:
    return key.split(SEP)


def column(key: str) -> str:
    """The runs-table column of a config key (`flatten(cfg, sep=COLUMN_SEP)` names them so)."""
    return key.replace(SEP, COLUMN_SEP)


def get_key(tree: Any, key: str) -> Any:
    """The value at a dotted key of a nested dict or of nested dataclasses (KeyError /
    AttributeError if there is none)."""
    for part in split_key(key):
        tree = tree[part] if isinstance(tree, dict) else getattr(tree, part)
    return tree


def _parent(tree: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    *head, last = split_key(key)
    for part in head:
        tree = tree[part]
    return tree, last


def set_key(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set the value at a dotted key of a nested dict (its sections must exist)."""
    node, last = _parent(tree, key)
    node[last] = value


def pop_key(tree: dict[str, Any], key: str) -> Any:
    """Remove and return the value at a dotted key of a nested dict."""
    node, last = _parent(tree, key)
    return node.pop(last)


def flatten(tree: dict[str, Any], sep: str = SEP, prefix: str = "",
            leaf: Callable[[Any], bool] = lambda v: not isinstance(v, dict)) -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (with sep "_": {"a_b": 1}); keys that are dotted already
    ({"a.b": 1}, as TOML's quoted keys) stay as they are. `leaf` says which values are not descended into."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if leaf(v):
            out[f"{prefix}{k}"] = v
        else:
            out.update(flatten(v, sep, f"{prefix}{k}{sep}", leaf))
    return out


def key_type(cls: type, key: str, where: str = "") -> type:
    """The type of the field at a dotted key of dataclass `cls` (nested dataclasses are sections);
    ConfigError for an unknown key, a section or a key below a non-section. `where` prefixes the
    message with its context (e.g. "[grid] ")."""
    path = split_key(key)
    for i, part in enumerate(path):
        hints = typing.get_type_hints(cls)
        if part not in hints:
            valid = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ConfigError(f"{where}unknown config key {key!r} (valid here: {valid})")
        cls = hints[part]
        last = i == len(path) - 1
        if dataclasses.is_dataclass(cls) and last:
            raise ConfigError(f"{where}{key!r} is a section and needs a key inside it, e.g. {key}.<name>")
        if not dataclasses.is_dataclass(cls) and not last:
            raise ConfigError(f"{where}unknown config key {key!r} ({SEP.join(path[:i + 1])} is not a section)")
    return cls
