"""Dotted config keys ("optim.lr", "task.data_seed"): the one place that reads, writes, types and
flattens them. Torch-free and below `config` (the config class is handed in), so the config's
`--set`, the sweep and compare specs, the engine's stack key and the store's columns all share it.

    get_key(cfg, "optim.lr")           # of a dict (to_dict()) or of the dataclasses themselves
    set_key(d, "optim.lr", 1e-3)       # in a nested dict (pop_key removes one)
    key_type(RunConfig, "optim.lr")    # float; ConfigError for an unknown key or a section
    flatten({"optim": {"lr": 1e-3}})   # {"optim.lr": 0.001}; column("optim.lr") -> "optim_lr"
    label("optim.weight_decay")        # "weight decay" (also of the column "optim_weight_decay")
    differing([cfg_a, cfg_b])          # the dotted keys whose values are not all equal
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


# What a person reads for a config key (axis titles, table headings, facet headings): defined once, here.
# A key without an entry reads as its field name with spaces (model.init_scale -> "init scale").
LABELS = {
    "preset": "preset",
    "task.op": "operation", "task.p": "modulus p", "task.frac_train": "train fraction", "task.split": "split",
    "task.symmetric": "symmetric pairs only", "task.noise": "label noise", "task.noise_kind": "label noise kind",
    "task.data_seed": "data seed",
    "model.arch": "architecture", "model.input": "input encoding", "model.d_embed": "embedding width",
    "model.d_mlp": "hidden width (d_mlp)", "model.act": "activation", "model.bias": "bias",
    "model.init": "initialisation", "model.init_std": "init std", "model.init_scale": "init scale",
    "model.n_layers": "layers", "model.d_model": "model width (d_model)", "model.n_heads": "attention heads",
    "model.layer_norm": "layer norm", "model.attention_rate": "attention rate",
    "optim.name": "optimizer", "optim.lr": "learning rate", "optim.weight_decay": "weight decay",
    "optim.beta1": "Adam β1", "optim.beta2": "Adam β2", "optim.eps": "Adam ε", "optim.momentum": "momentum",
    "optim.warmup_steps": "warm-up steps", "optim.decay": "lr decay", "optim.decay_steps": "lr decay steps",
    "optim.decay_final": "final lr fraction", "optim.grokfast": "Grokfast filter", "optim.grokfast_alpha": "Grokfast α",
    "optim.grokfast_lamb": "Grokfast λ", "optim.grokfast_window": "Grokfast window", "optim.ortho": "⊥Grad",
    "optim.weight_norm": "weight-norm constraint",
    "train.steps": "step budget", "train.batch_size": "batch size", "train.loss": "loss",
    "train.loss_dtype": "loss precision", "train.probs": "output probabilities", "train.out_scale": "output scale α",
    "train.seed": "init seed", "train.stop_test_acc": "stop at test accuracy", "train.patience": "patience (steps)",
    "train.stop_forecast_p": "forecast stop P(groks)", "train.eval_every": "eval every (steps)",
    "train.eval_log_points": "log-spaced evals", "train.checkpoint_every": "checkpoint every (steps)",
    "train.checkpoint_log_points": "log-spaced checkpoints", "train.save_saturation": "checkpoint at saturation",
    "train.device": "device", "train.compile": "torch.compile",
}
_BY_COLUMN = {column(k): k for k in LABELS}


def label(key: str) -> str:
    """The human name of a config key, dotted (`optim.weight_decay`) or as its runs-table column
    (`optim_weight_decay`): "weight decay". Unknown keys read as their last part with spaces."""
    key = _BY_COLUMN.get(key, key)
    if key in LABELS:
        return LABELS[key]
    head, _, rest = key.partition(SEP)
    if not rest:  # a column of a key without a label: drop a known section prefix (model_init_scale)
        sections = {k.split(SEP)[0] for k in LABELS if SEP in k}
        head, _, rest = key.partition(COLUMN_SEP)
        if head not in sections:
            rest = key
    return split_key(rest)[-1].replace(COLUMN_SEP, " ")


def differing(trees: list[dict[str, Any]]) -> list[str]:
    """The dotted keys (`flatten`) whose values are not the same in every one of `trees` (nested
    dicts, e.g. configs' `to_dict()`), in the first tree's order; a key some trees lack differs."""
    flat = [flatten(t) for t in trees]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    return [k for k in keys if len({repr(f.get(k, missing)) for f in flat}) > 1]
