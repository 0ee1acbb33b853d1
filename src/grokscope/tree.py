"""Nested dicts as flat ones (torch-free: the store and the spec parsers use it without torch)."""

from __future__ import annotations

from typing import Any


def flatten(tree: dict[str, Any], sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1} (with sep "_": {"a_b": 1}); leaves are anything not a dict."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flatten(v, sep, f"{prefix}{k}{sep}"))
        else:
            out[f"{prefix}{k}"] = v
    return out
