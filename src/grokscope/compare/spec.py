"""Compare specs: a method against baselines on one task, as a TOML file.

    name = "grokfast_vs_adamw"       # optional; default: the file's stem
    description = "..."
    base = "swaroop2026"             # a preset (required): the task and model of every arm
    seeds = 5                        # int N -> seeds 0..N-1 (train.seed and task.data_seed), or a list
    bootstrap = 2000                 # resamples of the speed-up's confidence interval
    seed = 0                         # its RNG seed
    extend_lr = true                 # extend an arm's grid while its best lr lies on its edge (default)
    max_extensions = 3               # at most this many extensions per arm (flagged when the cap is hit)
    [set]                            # every arm: the same task, budget and stop rule
    train.steps = 3000
    [[arm]]
    name = "adamw"
    method = "baseline"              # a key of METHODS; at least one arm must be a baseline
    lr = [1e-3, 3e-3, 1e-2]          # every arm gets its own learning-rate grid
    [[arm]]
    name = "grokfast"
    method = "grokfast_ema"
    lr = [1e-3, 3e-3]
    set = { "optim.grokfast_lamb" = 2.0 }   # this arm's settings (over the method's defaults)

Fairness: an arm may not change the task, the budget, the stop rule or the evaluation schedule
(those are in [set], shared); for a gradient amplifier (Grokfast, g -> ~(1 + λ) g for a slow
gradient) a baseline arm "<name>_matched" is added at lr x (1 + λ), the effective-step-matched
control (lucidrains/grokfast-pytorch#1); `grokfast_ema_norm` / `grokfast_ma_norm` are the lr-normalised
variants (their runs use each listed lr / (1 + λ), so their matched control is the base lr; whether this
normalisation is fair under Adam is disputed: lucidrains/grokfast-pytorch#4, #5). Weight decay coupling is stated per arm (adamw:
decoupled; adam, sgd: coupled L2). An arm whose best lr lies on the edge of its grid is not tuned:
the compare flags it and (extend_lr, on by default) adds the next lr beyond that edge, at the
grid's own step there (×3 for a one-point grid), until the best lr is interior or the arm has
had max_extensions extensions (`grokscope.compare.next_grid`).

The spec becomes one sweep (`grokscope.sweep`): a zip axis over every (arm, lr) setting times
the seeds, so the runs are a sweep store (ensembles underneath; `query` and `report` read it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grokscope.config import RunConfig, check_name
from grokscope.errors import ConfigError
from grokscope.keys import flatten, get_key, key_type, set_key
from grokscope.sweep.spec import SweepSpec, expand, parse_spec, read_toml


@dataclass(frozen=True)
class Method:
    """A method's settings (over the arm's optimizer) and, for a gradient amplifier, the config key
    of its gain λ (the matched baseline runs at lr x (1 + λ))."""

    sets: dict[str, Any]
    gain_key: str | None = None
    description: str = ""
    lr_over_gain: bool = False  # the lr-normalised variant: the arm's lr = [lr] / (1 + λ) (lucidrains/grokfast-pytorch)


METHODS: dict[str, Method] = {
    "baseline": Method({}, None, "the optimizer alone"),
    "grokfast_ema": Method({"optim.grokfast": "ema", "optim.grokfast_lamb": 2.0, "optim.grokfast_alpha": 0.98},
                           "optim.grokfast_lamb", "Grokfast-EMA"),
    "grokfast_ma": Method({"optim.grokfast": "ma", "optim.grokfast_lamb": 5.0, "optim.grokfast_window": 100},
                          "optim.grokfast_lamb", "Grokfast-MA"),
    # the lr-normalised variants: the arm's lr = [...] lists the base lrs, its runs use lr / (1 + λ) (so the
    # slow gradient moves at the base lr; its matched control is the optimizer at the base lr)
    "grokfast_ema_norm": Method({"optim.grokfast": "ema", "optim.grokfast_lamb": 2.0, "optim.grokfast_alpha": 0.98},
                                "optim.grokfast_lamb", "Grokfast-EMA at lr / (1 + λ)", lr_over_gain=True),
    "grokfast_ma_norm": Method({"optim.grokfast": "ma", "optim.grokfast_lamb": 5.0, "optim.grokfast_window": 100},
                               "optim.grokfast_lamb", "Grokfast-MA at lr / (1 + λ)", lr_over_gain=True),
    "ortho": Method({"optim.ortho": True}, None, "⊥Grad"),
    "stablemax": Method({"train.probs": "stablemax"}, None, "StableMax cross-entropy"),
    "weight_norm": Method({"optim.weight_norm": 1.0}, None, "fixed weight norm (Omnigrok)"),
    "out_scale": Method({"train.out_scale": 1.0}, None, "output scale α (Kumar et al.)"),
    # a recipe that is only other hyperparameters (e.g. a larger weight decay, other betas): its
    # [arm.set] is the method, compared like any method against the tuned baselines
    "recipe": Method({}, None, "the arm's own settings (set = {...}) over the base"),
}
# shared by every arm: what is learned, the budget, the stop rule and when t_val99 can be seen
FIXED_PREFIXES = ("task.", "train.steps", "train.stop_test_acc", "train.patience", "train.eval_every",
                  "train.eval_log_points", "train.seed", "optim.lr", "preset")
TOP_KEYS = {"name", "description", "base", "seeds", "set", "arm", "bootstrap", "seed", "extend_lr", "max_extensions"}
ARM_KEYS = {"name", "method", "lr", "set"}


@dataclass
class Arm:
    name: str
    method: str
    lr: list[float]
    set: dict[str, Any]  # dotted key -> value, the method's defaults included
    matched_to: str = ""  # for an effective-step-matched baseline: the amplifier arm it controls

    @property
    def is_baseline(self) -> bool:
        return self.method == "baseline"


@dataclass
class CompareSpec:
    name: str
    base: str
    arms: list[Arm]
    seeds: list[int]
    set: dict[str, Any] = field(default_factory=dict)
    bootstrap: int = 2000
    seed: int = 0
    description: str = ""
    extend_lr: bool = True  # extend an arm's lr grid while its best lr is on the grid's edge
    max_extensions: int = 3  # per arm

    def with_lrs(self, lrs: dict[str, list[float]]) -> CompareSpec:
        """The same spec with the named arms' lr grids replaced (an extended grid)."""
        from dataclasses import replace

        return replace(self, arms=[replace(a, lr=list(lrs[a.name])) if a.name in lrs else a for a in self.arms])

    def settings(self) -> list[tuple[Arm, float]]:
        """Every (arm, lr) setting, in spec order."""
        return [(arm, lr) for arm in self.arms for lr in arm.lr]




def _number_list(value: Any, what: str) -> list[float]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value):
        raise ConfigError(f"{what} must be a non-empty list of positive numbers, got {value!r}")
    return [float(v) for v in value]


def _arm(data: Any, i: int) -> Arm:
    if not isinstance(data, dict):
        raise ConfigError(f"[[arm]] number {i + 1} must be a table")
    unknown = sorted(set(data) - ARM_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [[arm]] number {i + 1}; valid: {', '.join(sorted(ARM_KEYS))}")
    name = check_name(str(data.get("name") or f"arm{i + 1}"), "arm name")
    method = data.get("method", "baseline")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r} in arm {name!r}; valid: {', '.join(METHODS)}")
    if "lr" not in data:
        raise ConfigError(f"arm {name!r} needs lr = [...] (its own learning-rate grid)")
    lrs = _number_list(data["lr"], f"arm {name!r}: lr")
    own = data.get("set", {})
    if not isinstance(own, dict):
        raise ConfigError(f"arm {name!r}: set must be a table of key = value")
    own = flatten(own)
    for key in own:
        if key.startswith(FIXED_PREFIXES):
            raise ConfigError(f"arm {name!r} may not set {key!r}: the task, budget, stop rule, lr and seeds are "
                              "shared by every arm ([set], lr = [...], seeds)")
    sets = {**METHODS[method].sets, **own}
    if METHODS[method].lr_over_gain:  # lr-normalised: the listed lrs are the base lrs
        lamb = sets[METHODS[method].gain_key]
        if not isinstance(lamb, int | float) or isinstance(lamb, bool) or lamb < 0:
            raise ConfigError(f"arm {name!r}: {METHODS[method].gain_key} must be a number >= 0, got {lamb!r}")
        lrs = [lr / (1 + float(lamb)) for lr in lrs]
    return Arm(name, method, lrs, sets)


def parse_compare(data: dict[str, Any], name: str = "compare") -> CompareSpec:
    """Check a compare table (as read from TOML); ConfigError names the first problem."""
    if not isinstance(data, dict):
        raise ConfigError("a compare spec must be a TOML table")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown compare spec key {unknown[0]!r}; valid: {', '.join(sorted(TOP_KEYS))}")
    if not isinstance(data.get("base"), str) or not data["base"]:
        raise ConfigError("compare spec needs base = \"<preset>\" (see `grokscope presets`)")
    arms_data = data.get("arm", [])
    if not isinstance(arms_data, list) or not arms_data:
        raise ConfigError("compare spec needs [[arm]] tables (a baseline and the methods)")
    arms = [_arm(a, i) for i, a in enumerate(arms_data)]
    if not any(a.is_baseline for a in arms):
        raise ConfigError("compare spec has no baseline arm: add an [[arm]] with method = \"baseline\"")
    seeds = data.get("seeds", 3)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(seeds))
    elif not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ConfigError(f"seeds must be a positive int or a list of ints, got {seeds!r}")
    for key, low in (("bootstrap", 100), ("seed", 0)):
        value = data.get(key, 2000 if key == "bootstrap" else 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{key} must be an int >= {low}, got {value!r}")
    extend_lr = data.get("extend_lr", True)
    if not isinstance(extend_lr, bool):
        raise ConfigError(f"extend_lr must be true or false, got {extend_lr!r}")
    max_ext = data.get("max_extensions", 3)
    if not isinstance(max_ext, int) or isinstance(max_ext, bool) or max_ext < 0:
        raise ConfigError(f"max_extensions must be an int >= 0, got {max_ext!r}")
    for arm in [a for a in arms if METHODS[a.method].gain_key]:  # effective-step-matched controls
        gain = float(arm.set[METHODS[arm.method].gain_key])
        keep = {k: v for k, v in arm.set.items() if k not in METHODS[arm.method].sets}
        arms.append(Arm(f"{arm.name}_matched", "baseline", [lr * (1 + gain) for lr in arm.lr], keep,
                        matched_to=arm.name))
    names = [a.name for a in arms]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"two arms are named {dup!r}")
    shared = flatten(data.get("set", {})) if isinstance(data.get("set", {}), dict) else None
    if shared is None:
        raise ConfigError("[set] must be a table of key = value")
    spec = CompareSpec(name=check_name(str(data.get("name") or name), "compare name"), base=data["base"], arms=arms,
                       seeds=seeds, set=shared, bootstrap=data.get("bootstrap", 2000), seed=data.get("seed", 0),
                       description=str(data.get("description", "")), extend_lr=extend_lr,
                       max_extensions=max_ext)
    expand(sweep_spec(spec))  # every key and value checked now, before anything runs
    return spec


def load_compare(path: str | Path) -> CompareSpec:
    """Read and check a compare spec TOML file."""
    path = Path(path)
    return parse_compare(read_toml(path, "compare spec"), name=path.stem)


def setting_keys(spec: CompareSpec) -> list[str]:
    """The config keys that tell the settings apart: optim.lr and every key some arm sets."""
    keys = ["optim.lr"]
    for arm in spec.arms:
        keys += [k for k in arm.set if k not in keys]
    return keys


def setting_values(spec: CompareSpec) -> list[dict[str, Any]]:
    """For each (arm, lr) setting, the value of every setting key (the base's where the arm is silent)."""
    from grokscope.presets import load_preset

    base = load_preset(spec.base).to_dict()
    for key, value in spec.set.items():
        key_type(RunConfig, key, "[set] ")
        set_key(base, key, value)
    out = []
    for arm, lr in spec.settings():
        values = {"optim.lr": lr, **arm.set}
        out.append({k: values[k] if k in values else get_key(base, k) for k in setting_keys(spec)})
    return out


def sweep_spec(spec: CompareSpec) -> SweepSpec:
    """The sweep that trains a compare spec: zip over the (arm, lr) settings x the seeds."""
    values = setting_values(spec)
    zipped = {k: [v[k] for v in values] for k in setting_keys(spec)}
    return parse_spec({"name": spec.name, "description": spec.description or f"compare {spec.name}",
                       "base": spec.base, "seeds": spec.seeds, "set": spec.set, "zip": zipped}, name=spec.name)
