"""Run configuration: frozen dataclasses, strict parsing, `--set` overrides, stable run ids.

A run is fully determined by its `RunConfig`; `run_id` hashes the canonical JSON so the same
config always lands in the same directory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from grokscope.errors import ConfigError
from grokscope.keys import get_key, key_type, set_key, split_key
from grokscope.registry import Registry


@dataclass(frozen=True)
class TaskConfig:
    """What is learned. `name` picks the task (`TASKS`, below); each task reads only its own fields."""

    name: str = "modular"  # a name in TASKS: modular | parity | digits | teacher
    op: str = "add"  # a key of grokscope.tasks.OPS
    p: int = 97  # modulus (ignored by the S5 ops, which have 120 elements)
    frac_train: float = 0.3
    split: str = "stratified"  # random | stratified (by answer) | np_legacy (the PAIR notebook's)
    symmetric: bool = False  # keep only pairs with a <= b (PAIR explorable)
    noise: float = 0.0  # fraction of training labels corrupted
    noise_kind: str = "uniform_wrong"  # uniform_wrong (a random other class) | uniform_any
    data_seed: int = 0  # split and noise (and, for sampled tasks, the examples themselves)
    # --- dense-input tasks (parity, digits, teacher): absolute split sizes
    n_train: int = 1000
    n_test: int = 1000  # parity and teacher (digits tests on the images left over)
    # --- sparse parity: n_bits random ±1 bits, the label is the parity of k of them
    n_bits: int = 40
    k: int = 3
    # --- teacher: y = x · w* for Gaussian x in d_in dimensions; an example counts as right when its
    # squared error is below acc_eps (Levi et al.'s accuracy for a regression)
    d_in: int = 100
    acc_eps: float = 0.01


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. Each family (`FAMILIES`) reads only its own fields; the rest are ignored."""

    arch: str = "mlp"  # a name in FAMILIES (below)
    # --- MLP family
    input: str = "two_hot"  # two_hot (W_a, W_b) | embed_concat (W_E then W_in) | shared (one W_in) | tied_embed
    d_embed: int = 32  # embed_concat and tied_embed only
    d_mlp: int = 256  # hidden width (also the transformer MLP width)
    act: str = "relu"  # a name in ACTIVATIONS (below)
    bias: bool = True
    init: str = "default"  # default (PyTorch Linear: U(±1/sqrt(fan_in))) | normal (std = init_std)
    # | truncated (the family's normal inits cut at ±2 std, as haiku's TruncatedNormal; uniform ones unchanged)
    init_std: float = 0.0
    init_scale: float = 1.0  # multiplies every initial weight (Omnigrok-style large init)
    # --- transformer family (n_layers is also deep_mlp's number of hidden layers)
    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 4
    layer_norm: bool = False
    attention_rate: float = 1.0  # 1 = softmax attention, 0 = uniform attention (Zhong's knob)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer: AdamW (decoupled wd), Adam (coupled L2, as Grokfast's reference code) or SGD
    (coupled L2, momentum), plus optional gradient transforms and a weight-norm constraint."""

    name: str = "adamw"  # a name in OPTIMIZERS (below)
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    momentum: float = 0.0  # sgd only
    warmup_steps: int = 0  # linear warmup from lr/warmup_steps to lr
    # lr decay after the warm-up: constant | cosine | linear, from lr at warmup_steps to
    # lr x decay_final at decay_steps, then held there (a high lr memorises and generalises fast
    # but keeps test accuracy from settling at 99%; decaying it lets it settle)
    decay: str = "constant"
    decay_steps: int = 0  # the step where the decay ends; must exceed warmup_steps unless constant
    decay_final: float = 0.0  # lr at the end of the decay, as a fraction of lr, in [0, 1]
    # Grokfast gradient filter (Lee et al. 2024): g += lamb * filter(g); lamb = 0 is off (per model)
    grokfast: str = "ema"  # ema (alpha) | ma (mean of the last `grokfast_window` gradients)
    grokfast_alpha: float = 0.98  # ema decay, in (0, 1), per model
    grokfast_lamb: float = 0.0  # amplification λ >= 0, per model
    grokfast_window: int = 100  # ma window w >= 1; no amplification until w gradients are in (warm-up)
    # ⊥Grad (Prieto et al. 2025): each parameter tensor's gradient minus its component along the
    # weights, rescaled to the gradient's norm, before the update (adamw/sgd -> ⊥AdamW/⊥SGD); per model
    ortho: bool = False
    # Omnigrok weight-norm constraint: 0 = off; c > 0 rescales all weights together after every
    # update so their total L2 norm is c x its value at initialisation (use with model.init_scale); per model
    weight_norm: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """The loop: budget, batch, loss, stopping, evaluation and checkpoint schedules."""

    steps: int = 100_000  # hard cap on optimizer steps
    batch_size: int = 0  # 0 = full batch
    loss: str = "ce"  # ce | mse (one-hot targets, Doshi) | hinge (multi-class margin, Barak et al.'s parity runs)
    loss_dtype: str = "float32"  # float16 | float32 | float64 (softmax CE precision, Nanda / Prieto)
    probs: str = "softmax"  # softmax | stablemax (Prieto et al.: s(x) = x+1 or 1/(1-x), log in float64; ce only)
    out_scale: float = 1.0  # Kumar et al.'s α: logits x α, loss x 1/α² (large α = lazy); evaluation reports L(α·logits)
    seed: int = 0  # parameter initialisation (and minibatch order)
    stop_test_acc: float = 0.999  # stop once test accuracy >= this; > 1 disables
    patience: int = 0  # stop when max test acc has not improved by 1e-4 for this many steps; 0 = off
    stop_forecast_p: float = 0.0  # stop at 20% of the budget if memorised and the forecast P(groks by the horizon) < this; 0 = off
    eval_every: int = 100
    eval_log_points: int = 40  # extra log-spaced evaluations (dense early, where things move)
    checkpoint_every: int = 1000
    checkpoint_log_points: int = 10
    save_saturation: bool = True  # checkpoint the first step with train acc >= 99% (Swaroop)
    device: str = "cpu"  # cpu | cuda
    dtype: str = "float32"  # float32 | float64: the parameters' (and the forward's) precision
    compile: bool = False  # torch.compile the forward + loss (fuses elementwise work; costs a warm-up)
    flush_denormal: bool = True  # CPU: denormal floats computed as 0 while training (10-20x faster after a collapse)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run."""

    preset: str = ""
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) — the basis of `run_id`."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @property
    def run_id(self) -> str:
        """`<preset>-<hash>`: the hash covers the values that differ from the defaults, so a new
        config field (added with a default that keeps old behaviour) leaves every run id as it was."""
        default = RunConfig().to_dict()
        changed = {section: {k: v for k, v in values.items() if default[section].get(k) != v}
                   for section, values in self.to_dict().items() if isinstance(values, dict)}
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()
        return f"{self.preset or 'custom'}-{digest[:10]}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build and validate a config; unknown keys and wrong types raise ConfigError."""
        cfg = _build(cls, data, "")
        validate(cfg)
        return cfg

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply `section.key=value` strings (the CLI's --set), parsing values by field type."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            key = key.strip()
            set_key(data, key, _parse_value(raw.strip(), key_type(RunConfig, key, "--set: "), key))
        return RunConfig.from_dict(data)


SECTIONS = {"task": TaskConfig, "model": ModelConfig, "optim": OptimConfig, "train": TrainConfig}


@functools.cache
def _resolved_hints(cls: type) -> dict[str, Any]:
    """A config class's field types (resolved once: a 1,040-run sweep builds 5,000 sections)."""
    return typing.get_type_hints(cls)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be a table, got {type(data).__name__}")
    hints = _resolved_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key {where + unknown[0]!r}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        key = f"{where}{name}"
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key + ".")
        else:
            kwargs[name] = _check_type(value, hint, key)
    return cls(**kwargs)


def _check_type(value: Any, hint: type, key: str) -> Any:
    ok = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (hint is str and isinstance(value, str))
    )
    if not ok:
        raise ConfigError(f"{key} must be {hint.__name__}, got {value!r}")
    if hint is float and not math.isfinite(value):  # also: NaN/inf would not survive strict JSON
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    return float(value) if hint is float else value


def check_name(name: str, what: str) -> str:
    """A name that becomes one directory (a run's --name, a sweep's name, a preset in a run id): one
    path component, so no user- or spec-given name can place files outside the chosen output root."""
    if (not isinstance(name, str) or not name or len(name) > 200 or name.startswith(".")
            or any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise ConfigError(f"{what} must be a plain name (no '/', '\\', control characters or leading '.', "
                          f"at most 200 characters), got {name!r}")
    return name


def _parse_value(raw: str, hint: type, key: str) -> Any:
    try:
        if hint is bool:
            low = raw.lower()
            if low not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError
            return low in {"true", "1", "yes"}
        if hint is int:
            try:
                return int(raw)
            except ValueError:
                as_float = float(raw)  # accept 2e4
                if not as_float.is_integer():
                    raise
                return int(as_float)
        if hint is float:
            return float(raw)
        return raw
    except ValueError:
        raise ConfigError(f"{key} must be {hint.__name__}, got {raw!r}") from None


# optim.name -> the module of its update rule, which registers it (`grokscope.train.optim`): the names
# are known here, so a config is checked without importing torch.
OPTIMIZERS: Registry[Any] = Registry("optimizer")
for _name, _module in (("adamw", "adam"), ("adam", "adam"), ("sgd", "sgd")):
    OPTIMIZERS.declare(_name, f"grokscope.train.optim.{_module}")

# model.act -> registered by grokscope.models.base (torch functions)
ACTIVATIONS: Registry[Any] = Registry("activation")
for _name in ("relu", "gelu", "quadratic"):
    ACTIVATIONS.declare(_name, "grokscope.models.base")

CHOICES: dict[str, Any] = {
    "task.split": ("random", "stratified", "np_legacy"),
    "task.noise_kind": ("uniform_wrong", "uniform_any"),
    "model.input": ("two_hot", "embed_concat", "shared", "tied_embed"),
    "model.act": ACTIVATIONS,
    "model.init": ("default", "normal", "truncated"),
    "optim.name": OPTIMIZERS,
    "optim.grokfast": ("ema", "ma"),
    "optim.decay": ("constant", "cosine", "linear"),
    "train.loss": ("ce", "mse", "hinge"),
    "train.loss_dtype": ("float16", "float32", "float64"),
    "train.probs": ("softmax", "stablemax"),
    "train.device": ("cpu", "cuda"),
    "train.dtype": ("float32", "float64"),
}


def _init_checks(m: ModelConfig) -> list[tuple[bool, str]]:
    return [
        (m.init != "normal" or m.init_std > 0, "model.init = 'normal' needs model.init_std > 0"),
        (m.init_scale > 0, f"model.init_scale must be > 0, got {m.init_scale}"),
    ]


def _width_check(m: ModelConfig) -> tuple[bool, str]:
    return m.d_mlp > 0, f"model.d_mlp (width) must be > 0, got {m.d_mlp}"


@dataclass(frozen=True)
class Family:
    """A model family: its model class (imported only when a model is built), the ModelConfig
    fields it reads (the only ones validated and shown for it), their value checks and the kind
    of input it takes (a task's `TaskKind.inputs`)."""

    model: str  # "module:Class"
    fields: tuple[str, ...]
    checks: typing.Callable[[ModelConfig], list[tuple[bool, str]]]
    inputs: str = "pairs"  # pairs (operand indices a, b) | dense (vectors x)


_INIT = ("init", "init_std", "init_scale")
FAMILIES: Registry[Family] = Registry("model family")
# one hidden layer on two operands (two-hot, embedding, shared or tied input)
FAMILIES.register("mlp")(Family(
    "grokscope.models.mlp:MLP", ("input", "d_embed", "d_mlp", "act", "bias", *_INIT),
    lambda m: [_width_check(m), (m.d_embed > 0, f"model.d_embed must be > 0, got {m.d_embed}"),
               *_init_checks(m)]))
# decoder-only transformer on the tokens a b =
FAMILIES.register("transformer")(Family(
    "grokscope.models.transformer:Transformer",
    ("n_layers", "d_model", "n_heads", "d_mlp", "act", "layer_norm", "attention_rate", *_INIT),
    lambda m: [
        _width_check(m), (m.d_model > 0, f"model.d_model must be > 0, got {m.d_model}"),
        (m.n_heads > 0 and m.d_model % m.n_heads == 0,
         f"model.n_heads must divide d_model ({m.d_model}), got {m.n_heads}"),
        (m.n_layers in (1, 2), f"model.n_layers must be 1 or 2, got {m.n_layers}"),
        (0.0 <= m.attention_rate <= 1.0, f"model.attention_rate must be in [0, 1], got {m.attention_rate}"),
        *_init_checks(m)]))
# n_layers hidden layers of width d_mlp on the two-hot input (Prieto et al.'s [200, 200])
FAMILIES.register("deep_mlp")(Family(
    "grokscope.models.deep_mlp:DeepMLP", ("n_layers", "d_mlp", "act", "bias", *_INIT),
    lambda m: [_width_check(m), (1 <= m.n_layers <= 8, f"model.n_layers must be in 1..8, got {m.n_layers}"),
               *_init_checks(m)]))


# n_layers hidden layers of width d_mlp on dense input vectors (0 = a linear model): parity,
# Omnigrok's digits MLP (n_layers 2, width 200), the linear teacher–student student
FAMILIES.register("dense")(Family(
    "grokscope.models.dense:DenseMLP", ("n_layers", "d_mlp", "act", "bias", *_INIT),
    lambda m: [_width_check(m), (0 <= m.n_layers <= 8, f"model.n_layers must be in 0..8, got {m.n_layers}"),
               *_init_checks(m)], inputs="dense"))


MAX_P = 10_007
DIGITS_N = 1_797  # images in scikit-learn's bundled load_digits


@dataclass(frozen=True)
class TaskKind:
    """A task: the TaskConfig fields it reads (the only ones validated and shown for it), what it
    yields and its value checks. Task `name` is built by `grokscope.tasks.<name>.make(cfg)`, imported
    only when its examples are made."""

    fields: tuple[str, ...]
    inputs: str  # pairs (operand indices a, b over Z_n) | dense (vectors)
    targets: str  # classes | values (regression)
    checks: typing.Callable[[TaskConfig], list[tuple[bool, str]]]
    about: str


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _modular_checks(t: TaskConfig) -> list[tuple[bool, str]]:
    from grokscope.tasks.ops import OPS  # local: numpy stays out of `grokscope --help`

    if t.op not in OPS:
        raise ConfigError(f"unknown op {t.op!r}; valid ops: {', '.join(OPS)}")
    op = OPS[t.op]
    grid = [] if op.group else [
        (t.p >= 3, f"task.p must be >= 3, got {t.p}"),
        (t.p <= MAX_P, f"task.p must be <= {MAX_P}, got {t.p}"),  # p² pairs
        # the primality test only within the bounds above, where it is instant
        (not op.needs_prime or not 3 <= t.p <= MAX_P or _is_prime(t.p),
         f"task.p must be prime for op {t.op!r} (it divides), got {t.p}")]
    return [*grid, (0.0 < t.frac_train < 1.0, f"task.frac_train must be in (0, 1), got {t.frac_train}")]


def _sizes(t: TaskConfig, test: bool = True) -> list[tuple[bool, str]]:
    out = [(t.n_train >= 1, f"task.n_train must be >= 1, got {t.n_train}")]
    if test:
        out.append((t.n_test >= 1, f"task.n_test must be >= 1, got {t.n_test}"))
    return out


_NOISE = ("noise", "noise_kind", "data_seed")
TASKS: Registry[TaskKind] = Registry("task")
TASKS.register("modular")(TaskKind(
    ("op", "p", "frac_train", "split", "symmetric", *_NOISE),
    "pairs", "classes", _modular_checks, "every (a, b) -> a op b over Z_p (or S5), split by frac_train"))
TASKS.register("parity")(TaskKind(
    ("n_bits", "k", "n_train", "n_test", *_NOISE), "dense", "classes",
    lambda t: [*_sizes(t), (t.n_bits >= 1, f"task.n_bits must be >= 1, got {t.n_bits}"),
               (1 <= t.k <= t.n_bits, f"task.k must be in 1..n_bits ({t.n_bits}), got {t.k}")],
    "sparse parity: n_bits random ±1 bits, the label is the parity of the first k"))
TASKS.register("digits")(TaskKind(
    ("n_train", *_NOISE), "dense", "classes",
    lambda t: [*_sizes(t, test=False),
               (t.n_train < DIGITS_N, f"task.n_train must be < {DIGITS_N} (the digits dataset has {DIGITS_N} "
                                      f"images; the rest are the test set), got {t.n_train}")],
    "scikit-learn's 8x8 digits (bundled, nothing downloaded), pixels in [0, 1], 10 classes"))
TASKS.register("teacher")(TaskKind(
    ("d_in", "n_train", "n_test", "acc_eps", "data_seed"), "dense", "values",
    lambda t: [*_sizes(t), (t.d_in >= 1, f"task.d_in must be >= 1, got {t.d_in}"),
               (t.acc_eps > 0, f"task.acc_eps must be > 0, got {t.acc_eps}")],
    "linear teacher: y = x · w*, Gaussian x and w* ~ N(0, I/d_in); right when the squared error < acc_eps"))


def validate(cfg: RunConfig) -> None:
    """Check values (not just types) of the task, the active model family, optimizer and loop;
    raise ConfigError naming the first problem."""
    t, m, o, tr = cfg.task, cfg.model, cfg.optim, cfg.train
    if cfg.preset:  # the run id (a directory name) starts with it
        check_name(cfg.preset, "preset")
    if t.name not in TASKS:
        raise ConfigError(f"task.name must be one of {', '.join(TASKS)}, got {t.name!r}")
    if m.arch not in FAMILIES:
        raise ConfigError(f"model.arch must be one of {', '.join(FAMILIES)}, got {m.arch!r}")
    kind, family = TASKS.get(t.name), FAMILIES.get(m.arch)
    if family.inputs != kind.inputs:
        takes = [name for name, f in FAMILIES.items() if f.inputs == kind.inputs]
        raise ConfigError(f"model.arch {m.arch!r} takes {family.inputs} inputs but task {t.name!r} yields "
                          f"{kind.inputs} ones; use model.arch = {' or '.join(map(repr, takes))}")
    for dotted, allowed in CHOICES.items():
        section, name = split_key(dotted)
        if (section == "model" and name not in family.fields) or (section == "task" and name not in kind.fields):
            continue  # another family's or task's field: ignored, so not checked
        value = get_key(cfg, dotted)
        if value not in allowed:
            raise ConfigError(f"{dotted} must be one of {', '.join(allowed)}, got {value!r}")
    checks = [
        *kind.checks(t),
        (0.0 <= t.noise < 1.0, f"task.noise must be in [0, 1), got {t.noise}"),
        (kind.targets == "classes" or t.noise == 0, f"task.noise applies to class labels; task {t.name!r} has real-valued targets"),
        (kind.targets == "classes" or tr.loss == "mse",
         f"task {t.name!r} has real-valued targets: it needs train.loss = 'mse', got {tr.loss!r}"),
        *family.checks(m),
        (o.lr > 0, f"optim.lr must be > 0, got {o.lr}"),
        (o.weight_decay >= 0, f"optim.weight_decay must be >= 0, got {o.weight_decay}"),
        (0 <= o.beta1 < 1 and 0 <= o.beta2 < 1, "optim.beta1 and optim.beta2 must be in [0, 1)"),
        (o.warmup_steps >= 0, f"optim.warmup_steps must be >= 0, got {o.warmup_steps}"),
        (o.decay == "constant" or o.decay_steps > o.warmup_steps,
         f"optim.decay = {o.decay!r} needs optim.decay_steps > optim.warmup_steps ({o.warmup_steps}), "
         f"got {o.decay_steps}"),
        (0 <= o.decay_final <= 1, f"optim.decay_final must be in [0, 1], got {o.decay_final}"),
        (0 < o.grokfast_alpha < 1, f"optim.grokfast_alpha must be in (0, 1), got {o.grokfast_alpha}"),
        (o.grokfast_lamb >= 0, f"optim.grokfast_lamb must be >= 0, got {o.grokfast_lamb}"),
        (o.grokfast_window >= 1, f"optim.grokfast_window must be >= 1, got {o.grokfast_window}"),
        (o.weight_norm >= 0, f"optim.weight_norm must be >= 0 (0 = off), got {o.weight_norm}"),
        (tr.probs != "stablemax" or tr.loss == "ce",
         f"train.probs = 'stablemax' needs train.loss = 'ce', got {tr.loss!r} (MSE compares raw logits)"),
        (tr.out_scale > 0, f"train.out_scale must be > 0, got {tr.out_scale}"),
        (tr.steps > 0, f"train.steps must be > 0, got {tr.steps}"),
        (tr.batch_size >= 0, f"train.batch_size must be >= 0, got {tr.batch_size}"),
        (tr.eval_every > 0, f"train.eval_every must be > 0, got {tr.eval_every}"),
        (tr.checkpoint_every > 0, f"train.checkpoint_every must be > 0, got {tr.checkpoint_every}"),
        (tr.patience >= 0, f"train.patience must be >= 0, got {tr.patience}"),
        (0.0 <= tr.stop_forecast_p < 1.0, f"train.stop_forecast_p must be in [0, 1) (0 = off), got {tr.stop_forecast_p}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
