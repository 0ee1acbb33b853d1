"""Sweep specs: a TOML file that expands to a list of `RunConfig`s.

    name = "pair_phase"            # optional; default: the file's stem
    description = "..."            # optional
    base = "pair2023"              # a preset (required)
    seeds = 3                      # optional: an axis over seed_keys (int N -> 0..N-1, or a list)
    seed_keys = ["train.seed", "task.data_seed"]   # optional (this is the default)
    samples = 16                   # draws for [random] keys without their own `n`
    seed = 0                       # RNG seed of [random]
    chunk = 256                    # most models per engine call (one ensemble)
    sparse_checkpoints = true      # default; see SPARSE_DEFAULTS

    [set]                          # fixed overrides, applied to every run (an axis may override them)
    train.steps = 3000
    [grid]                         # cartesian product of every axis
    model.d_mlp = [16, 24, 32]
    [zip]                          # equal-length lists, varied together (one axis)
    optim.lr = [1e-3, 3e-3]
    optim.weight_decay = [1.0, 0.3]
    [random]                       # {min, max, log = false, n = <own axis> | samples}
    optim.lr = {min = 1e-4, max = 1e-2, log = true}
    [plot]                         # phase-diagram axes (config keys); default: the first varied axes
    x = "optim.weight_decay"
    y = "task.frac_train"
    facet = "model.d_mlp"

Runs are the product grid × zip × random × seeds, in that order (the last axis varies fastest).
Keys are dotted config keys (TOML dotted keys or quoted "a.b" both work). Every value is checked by
`RunConfig.from_dict`, so a wrong key, type or value is one `ConfigError` line, before anything runs.

Sparse checkpoints: a sweep of thousands of models must not write thousands × 100 files, so unless
`sparse_checkpoints = false` the runs default to `train.checkpoint_log_points = 0`,
`train.save_saturation = false` and `train.checkpoint_every = train.steps` (so each run keeps its
initial and final weights only). Any of these keys set in the spec wins.
"""

from __future__ import annotations

import itertools
import logging
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.config import RunConfig, check_name
from grokscope.errors import ConfigError
from grokscope.keys import flatten, key_type, set_key

log = logging.getLogger(__name__)

TOP_KEYS = {"name", "description", "base", "seeds", "seed_keys", "samples", "seed", "chunk",
            "sparse_checkpoints", "set", "grid", "zip", "random", "plot"}
RANDOM_KEYS = {"min", "max", "log", "n"}
DEFAULT_SEED_KEYS = ("train.seed", "task.data_seed")
SPARSE_DEFAULTS = {"train.checkpoint_log_points": 0, "train.save_saturation": False}
DEFAULT_CHUNK = 256
MAX_RUNS = 1_000_000  # a typo (seeds = 1e9) must be one line, not an hour of expanding


@dataclass
class SweepSpec:
    """A parsed (not yet expanded) sweep spec."""

    name: str
    base: str
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    zip: dict[str, list[Any]] = field(default_factory=dict)
    random: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    seed_keys: tuple[str, ...] = DEFAULT_SEED_KEYS
    samples: int = 0
    seed: int = 0
    chunk: int = DEFAULT_CHUNK
    sparse_checkpoints: bool = True
    plot: dict[str, str] = field(default_factory=dict)
    description: str = ""
    source: str = ""  # the file it came from

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def varied_keys(self) -> list[str]:
        """Config keys that vary between runs, in spec order (seed keys last)."""
        keys = [*self.grid, *self.zip, *self.random]
        return keys + [k for k in self.seed_keys if self.seeds and k not in keys]


def _field_hint(key: str, where: str) -> type:
    """The type of a dotted config key; ConfigError if there is no such key."""
    return key_type(RunConfig, key, f"[{where}] ")


def parse_spec(data: dict[str, Any], name: str = "sweep", source: str = "") -> SweepSpec:
    """Check a spec table (as read from TOML) and return it; ConfigError names the first problem."""
    if not isinstance(data, dict):
        raise ConfigError("a sweep spec must be a TOML table")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown sweep spec key {unknown[0]!r}; valid: {', '.join(sorted(TOP_KEYS))}")
    base = data.get("base")
    if not isinstance(base, str) or not base:
        raise ConfigError("sweep spec needs base = \"<preset>\" (see `grokscope presets`)")
    for section in ("set", "grid", "zip", "random", "plot"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"[{section}] must be a table of key = value")
    if not isinstance(data.get("name", ""), str):
        raise ConfigError(f"name must be a string, got {data['name']!r}")
    spec = SweepSpec(name=check_name(data.get("name") or name, "sweep name"), base=base, source=source,
                     description=str(data.get("description", "")))
    spec.set = flatten(data.get("set", {}))
    spec.grid = flatten(data.get("grid", {}))
    spec.zip = flatten(data.get("zip", {}))
    spec.random = flatten(data.get("random", {}),
                          leaf=lambda v: not isinstance(v, dict) or (v and set(v) <= RANDOM_KEYS))
    spec.plot = {k: str(v) for k, v in data.get("plot", {}).items()}
    if not isinstance(data.get("description", ""), str):
        raise ConfigError("description must be a string")

    for section in ("set", "grid", "zip", "random"):
        for key in getattr(spec, section):
            _field_hint(key, section)
    for section in ("grid", "zip"):
        for key, values in getattr(spec, section).items():
            if not isinstance(values, list):
                raise ConfigError(f"[{section}] {key} must be a list of values, got {values!r}")
            if not values:
                raise ConfigError(f"[{section}] {key} is empty; give at least one value")
    lengths = {k: len(v) for k, v in spec.zip.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError("[zip] lists must have equal lengths, got "
                          + ", ".join(f"{k}: {n}" for k, n in lengths.items()))

    ints = lambda v, what: isinstance(v, int) and not isinstance(v, bool) or _bad(what, v)  # noqa: E731
    seeds = data.get("seeds", [])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_RUNS:
            raise ConfigError(f"seeds must be >= 1 and <= {MAX_RUNS}, got {seeds}")
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"seeds must be an int N or a list of ints, got {seeds!r}")
    spec.seeds = seeds
    seed_keys = data.get("seed_keys", list(DEFAULT_SEED_KEYS))
    if not isinstance(seed_keys, list) or not seed_keys or not all(isinstance(k, str) for k in seed_keys):
        raise ConfigError(f"seed_keys must be a non-empty list of config keys, got {seed_keys!r}")
    for key in seed_keys:
        if _field_hint(key, "seed_keys") is not int:
            raise ConfigError(f"seed_keys: {key} is not an int field")
    spec.seed_keys = tuple(seed_keys)
    spec.samples = data.get("samples", 0)
    ints(spec.samples, "samples")
    if not 0 <= spec.samples <= MAX_RUNS:
        raise ConfigError(f"samples must be in 0..{MAX_RUNS}, got {spec.samples}")
    spec.seed = data.get("seed", 0)
    ints(spec.seed, "seed")
    if spec.seed < 0:  # numpy's generator takes none
        raise ConfigError(f"seed must be >= 0, got {spec.seed}")
    spec.chunk = data.get("chunk", DEFAULT_CHUNK)
    ints(spec.chunk, "chunk")
    if spec.chunk < 1:
        raise ConfigError(f"chunk must be >= 1, got {spec.chunk}")
    spec.sparse_checkpoints = data.get("sparse_checkpoints", True)
    if not isinstance(spec.sparse_checkpoints, bool):
        raise ConfigError("sparse_checkpoints must be true or false")

    for key, r in spec.random.items():
        if not isinstance(r, dict) or not {"min", "max"} <= set(r):
            raise ConfigError(f"[random] {key} must be {{min = .., max = .., log = false, n = ..}}, got {r!r}")
        lo, hi = r["min"], r["max"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi)) \
                or lo > hi:
            raise ConfigError(f"[random] {key}: need numbers min <= max, got min={lo!r} max={hi!r}")
        if r.get("log", False) and lo <= 0:
            raise ConfigError(f"[random] {key}: log = true needs min > 0, got {lo}")
        if "n" in r:
            ints(r["n"], f"[random] {key}.n")
            if not 1 <= r["n"] <= MAX_RUNS:
                raise ConfigError(f"[random] {key}.n must be >= 1 and <= {MAX_RUNS}, got {r['n']}")
        elif spec.samples < 1:
            raise ConfigError(f"[random] {key} has no n; set n = .. or samples = N at the top of the spec")
        if _field_hint(key, "random") not in (int, float):
            raise ConfigError(f"[random] {key} is not a numeric config key")

    sections = {"grid": spec.grid, "zip": spec.zip, "random": spec.random,
                "seeds": dict.fromkeys(spec.seed_keys if spec.seeds else ())}
    seen: dict[str, str] = {}
    for section, keys in sections.items():
        for key in keys:
            if key in seen:
                raise ConfigError(f"{key} appears in both [{seen[key]}] and [{section}]")
            seen[key] = section
    for axis, key in spec.plot.items():
        if axis not in ("x", "y", "facet"):
            raise ConfigError(f"[plot] knows x, y and facet, got {axis!r}")
        _field_hint(key, "plot")
    return spec


def _bad(what: str, value: Any) -> bool:
    raise ConfigError(f"{what} must be an int, got {value!r}")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A spec file's TOML tables; a missing or unreadable file is one ConfigError naming it."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec file."""
    path = Path(path)
    return parse_spec(read_toml(path, "sweep spec"), name=path.stem, source=str(path))


def _random_values(r: dict[str, Any], n: int, rng: np.random.Generator, hint: type) -> list[Any]:
    lo, hi = float(r["min"]), float(r["max"])
    if r.get("log", False):
        draws = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    else:
        draws = rng.uniform(lo, hi, n)
    if hint is int:
        return [int(round(v)) for v in draws]
    return [float(f"{v:.6g}") for v in draws]  # short, stable reprs keep run ids readable


def axes(spec: SweepSpec) -> list[list[dict[str, Any]]]:
    """The spec's axes; each axis is a list of {key: value} assignments."""
    out: list[list[dict[str, Any]]] = [[{k: v} for v in vals] for k, vals in spec.grid.items()]
    if spec.zip:
        n = len(next(iter(spec.zip.values())))
        out.append([{k: vals[i] for k, vals in spec.zip.items()} for i in range(n)])
    rng = np.random.default_rng(spec.seed)
    joint = {k: r for k, r in spec.random.items() if "n" not in r}
    for key, r in spec.random.items():
        if "n" in r:
            out.append([{key: v} for v in _random_values(r, r["n"], rng, _field_hint(key, "random"))])
    if joint:
        cols = {k: _random_values(r, spec.samples, rng, _field_hint(k, "random")) for k, r in joint.items()}
        out.append([{k: cols[k][i] for k in joint} for i in range(spec.samples)])
    if spec.seeds:
        out.append([dict.fromkeys(spec.seed_keys, s) for s in spec.seeds])
    return out


def expand(spec: SweepSpec) -> list[RunConfig]:
    """All runs of a spec (duplicates removed, first kept), each validated by `RunConfig.from_dict`."""
    from grokscope.presets import load_preset

    base = load_preset(spec.base).to_dict()
    if spec.sparse_checkpoints:
        for key, value in SPARSE_DEFAULTS.items():
            if key not in spec.set:
                set_key(base, key, value)
    for key, value in spec.set.items():
        set_key(base, key, value)
    user_ckpt = "train.checkpoint_every" in spec.varied_keys() or "train.checkpoint_every" in spec.set
    sizes = [len(v) for v in spec.grid.values()] + [len(v) for v in list(spec.zip.values())[:1]] \
        + [r["n"] for r in spec.random.values() if "n" in r] + [spec.samples] * any("n" not in r for r in spec.random.values()) \
        + [len(spec.seeds)] * bool(spec.seeds)
    if math.prod(sizes) > MAX_RUNS:
        raise ConfigError(f"sweep {spec.name} has {math.prod(sizes)} runs; at most {MAX_RUNS} per spec (split it)")
    cfgs: list[RunConfig] = []
    seen: set[str] = set()
    for combo in itertools.product(*axes(spec)):
        data = {s: dict(v) if isinstance(v, dict) else v for s, v in base.items()}
        for assignment in combo:
            for key, value in assignment.items():
                set_key(data, key, value)
        if spec.sparse_checkpoints and not user_ckpt:
            data["train"]["checkpoint_every"] = data["train"]["steps"]
        try:
            cfg = RunConfig.from_dict(data)
        except ConfigError as e:
            where = ", ".join(f"{k}={v}" for a in combo for k, v in a.items())
            raise ConfigError(f"{e}" + (f" (in the run with {where})" if where else "")) from None
        if cfg.run_id in seen:
            continue
        seen.add(cfg.run_id)
        cfgs.append(cfg)
    if len(cfgs) < math.prod(len(a) for a in axes(spec)):
        log.warning("sweep %s: %d duplicate configs dropped", spec.name,
                    math.prod(len(a) for a in axes(spec)) - len(cfgs))
    return cfgs
