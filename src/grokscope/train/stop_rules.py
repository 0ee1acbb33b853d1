"""Stop rules: plug-ins the engine consults for each model at each evaluated step.

A rule answers "stop this model now?" from what the model has done so far (its row, history,
best test accuracy) and its own config; the first rule that says yes names the stop reason. The
engine applies the built-in rules of `STOP_RULES`, in order, then any rule the caller hands in
(`train(..., stop_rules=[...])`): a rule that needs more than training — the forecaster's — lives
with its owner and is handed in (`grokscope.forecast.stop_rule.ForecastStop`). A config that asks
for a rule nobody handed in is refused, never silently ignored (`HANDED_IN`).

Rules never stop a model on its test curve's shape alone (DESIGN: sweeps must not kill runs that
would grok later); `test_acc_reached` is the goal, patience watches the *maximum* test accuracy.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from grokscope.config import RunConfig
from grokscope.errors import ConfigError
from grokscope.keys import get_key
from grokscope.registry import Registry
from grokscope.train.state import Member

FINITE = ("train_loss", "test_loss", "weight_norm")


class StopRule(Protocol):
    """`name` is the stop reason it gives; `active` says whether a model's config switches it on."""

    name: str
    def active(self, cfg: RunConfig) -> bool: ...
    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool: ...
    def summary(self, m: Member) -> dict[str, Any]: ...


class Rule:
    """Base of the rules: always active, adds nothing to the summary."""

    name: str = ""

    def active(self, cfg: RunConfig) -> bool:
        return True

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        raise NotImplementedError

    def summary(self, m: Member) -> dict[str, Any]:
        return {}


STOP_RULES: Registry[type[Rule]] = Registry("stop rule")


@STOP_RULES.register("diverged")
class Diverged(Rule):
    """A non-finite loss or weight norm: nothing after it means anything."""

    name = "diverged"

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        return not all(math.isfinite(row[key]) for key in FINITE)


@STOP_RULES.register("test_acc_reached")
class TestAccReached(Rule):
    """Test accuracy >= train.stop_test_acc (> 1 disables)."""

    name = "test_acc_reached"

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        return row["test_acc"] >= cfg.train.stop_test_acc


@STOP_RULES.register("patience")
class Patience(Rule):
    """The maximum test accuracy has not improved for train.patience steps (Swaroop's rule)."""

    name = "patience"

    def active(self, cfg: RunConfig) -> bool:
        return cfg.train.patience > 0

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        return step - m.best_step >= cfg.train.patience


@STOP_RULES.register("max_steps")
class MaxSteps(Rule):
    """The budget train.steps is spent."""

    name = "max_steps"

    def check(self, m: Member, cfg: RunConfig, step: int, row: dict[str, Any]) -> bool:
        return step >= cfg.train.steps


# rules that are handed in rather than built in, by name: the config key whose non-zero value asks for one
HANDED_IN = {"forecast": "train.stop_forecast_p"}


def asks_for(name: str, cfg: RunConfig) -> bool:
    """Whether `cfg` asks for the handed-in rule `name` (its key in HANDED_IN is set)."""
    return bool(get_key(cfg, HANDED_IN[name]))


def rules_for(cfgs: list[RunConfig], handed_in: list[Rule] | tuple[Rule, ...] = ()) -> list[Rule]:
    """The built-in rules in registry order, then the handed-in ones; refuses a config that
    switches on a handed-in rule (e.g. train.stop_forecast_p > 0) that was not handed in."""
    given = {r.name for r in handed_in}
    for name, key in HANDED_IN.items():
        if name not in given and any(asks_for(name, c) for c in cfgs):
            raise ConfigError(f"{key} is set but no {name!r} stop rule was handed to the engine; train "
                              f"through grokscope.lifecycle (or pass stop_rules=[...] to train())")
    return [cls() for _, cls in STOP_RULES.items()] + list(handed_in)
