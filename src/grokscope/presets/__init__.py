"""Published recipes as data: one TOML file per paper setup."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from grokscope.config import RunConfig
from grokscope.errors import ConfigError

DEFAULT = "swaroop2026"


def _read(name: str) -> dict[str, Any]:
    if name not in names():  # only the packaged files: a name is never a path
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(names())}")
    file = resources.files(__package__) / f"{name}.toml"
    try:
        return tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"preset file {name}.toml is not valid TOML ({e})") from None


def names() -> list[str]:
    return sorted(f.name[:-5] for f in resources.files(__package__).iterdir() if f.name.endswith(".toml"))


def describe() -> dict[str, str]:
    """Preset name -> one-line description."""
    return {name: _read(name).get("description", "") for name in names()}


def load_preset(name: str = DEFAULT) -> RunConfig:
    data = _read(name)
    data.pop("description", None)
    return RunConfig.from_dict({"preset": name, **data})
