"""The forecast for any training loop: give `Monitor` one row per evaluation, read the current forecast.

    mon = Monitor(lr=1e-3, weight_decay=1.0, beta2=0.999, n_classes=97)   # family="any": pooled law constants
    for step in ...:
        ...
        if step % 100 == 0:
            fc = mon.update(step=step, train_loss=..., train_acc=..., test_loss=..., test_acc=...,
                            weight_norm=Monitor.norm(model.parameters()))
            print(mon.line)      # "forecast: groks ≈ step 24,100 (80% interval ...), P(by step ...) = 0.93"

A bad row (a missing or non-finite value, an accuracy outside [0, 1], a step not after the last one)
is refused with one warning and `mon.line` says why; it never raises inside the loop, so it never
stops a training run. A bad model file or a family without a fitted head raises ForecastError when
the Monitor is made, before training.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from grokscope.forecast.features import ForecastError, Recipe
from grokscope.forecast.law import POOLED
from grokscope.forecast.model import ForecastModel, load_model
from grokscope.forecast.predict import Forecast, ForecastTracker
from grokscope.forecast.verdict import Verdict, verdict

log = logging.getLogger(__name__)

REQUIRED = ("train_loss", "train_acc", "test_loss", "test_acc", "weight_norm")
OPTIONAL = ("logit_scale",)


class Monitor:
    """Forecasts t_val99 from rows of a foreign training loop (see the module docstring).

    lr, weight_decay, beta2 (None without Adam's second moment): the optimizer's base values;
    n_classes: the number of answers (chance = 1 / n_classes, for the verdict); family: a fitted model
    family or "any" (pooled constants); budget: the run's step budget, if it has one (it caps the horizon).
    """

    def __init__(self, *, lr: float, weight_decay: float, n_classes: int, beta2: float | None = None,
                 family: str = POOLED, budget: int | None = None, model: ForecastModel | str | None = None):
        self.model = model if isinstance(model, ForecastModel) else load_model(model)
        self.model.law(family)  # ForecastError now, not in the loop
        if not (0 < lr < math.inf and 0 <= weight_decay < math.inf and int(n_classes) == n_classes >= 2
                and (beta2 is None or 0 <= beta2 < 1)):
            raise ForecastError(f"Monitor needs lr > 0, weight_decay >= 0, n_classes >= 2 and beta2 in [0, 1); got "
                                f"lr={lr}, weight_decay={weight_decay}, n_classes={n_classes}, beta2={beta2}")
        self.recipe = Recipe(family, float(lr), float(weight_decay), beta2, int(n_classes))
        self._tracker = ForecastTracker(self.recipe, budget, self.model)
        self.line: str | None = None
        self.error: str | None = None  # why the last row was refused

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self._tracker.rows

    @property
    def forecast(self) -> Forecast | None:
        """The forecast made at the last accepted row (None before memorisation or when it cannot be made)."""
        return self._tracker.forecast

    def _check(self, row: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(row) - {"step", *REQUIRED, *OPTIONAL})
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (a row has step, {', '.join(REQUIRED + OPTIONAL)})")
        if "step" not in row:
            raise ValueError("a row needs its step")
        given = row["step"]
        raw = given.item() if hasattr(given, "item") else given  # numpy / torch scalars
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        try:
            step = operator.index(raw)
        except (TypeError, ValueError):
            raise ValueError(f"step must be an integer >= 0, got {given!r}") from None
        if step < 0:
            raise ValueError(f"step must be an integer >= 0, got {step}")
        last = self.rows[-1]["step"] if self.rows else None
        if last is not None and step <= last:
            raise ValueError(f"step {step:,} is not after the last row's step {last:,}")
        out: dict[str, Any] = {"step": step}
        for key in REQUIRED + OPTIONAL:
            if row.get(key) is None:
                if key in OPTIONAL:
                    continue
                raise ValueError(f"row at step {step:,} has no {key}")
            value = row[key]
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"row at step {step:,}: {key} is not a number ({value!r:.40})") from None
            if not math.isfinite(v):
                raise ValueError(f"row at step {step:,}: {key} is {v}")
            if key.endswith("_acc") and not 0.0 <= v <= 1.0:
                raise ValueError(f"row at step {step:,}: {key} = {v} is not in [0, 1]")
            if not key.endswith("_acc") and key != "logit_scale" and v < 0:
                raise ValueError(f"row at step {step:,}: {key} = {v} is negative")
            out[key] = v
        return out

    def update(self, row: Mapping[str, Any] | None = None, **values: Any) -> Forecast | None:
        """Add one evaluation (a mapping or keywords: step, train_loss, train_acc, test_loss, test_acc,
        weight_norm; optional logit_scale) and return the current forecast (None before memorisation,
        or when the row was refused: see `error` and `line`)."""
        try:
            clean = self._check({**(row or {}), **values})
        except (ValueError, TypeError) as e:
            self.error = str(e)
            self.line = f"forecast: row refused ({e})"
            log.warning("grokscope Monitor: row refused: %s", e)
            return None
        self.error = None
        self.line = self._tracker.on_row(clean)
        return self.forecast

    def verdict(self) -> Verdict:
        """"Is this real grokking?" on the rows so far (forecast.verdict)."""
        return verdict(self.rows, self.recipe.n_classes, self.model.null_band)

    @staticmethod
    def norm(parameters: Iterable[Any]) -> float:
        """The L2 norm of all parameters (torch tensors or arrays) together: the weight_norm a row needs."""
        total = 0.0
        for p in parameters:
            data = p.detach() if hasattr(p, "detach") else p
            total += float((data.double() ** 2).sum()) if hasattr(data, "double") else float((data ** 2).sum())
        return math.sqrt(total)
