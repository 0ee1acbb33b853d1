"""The fitted forecaster as plain data: JSON coefficients, evaluated with numpy (no scipy at run time).

A cure model of survival. At a cut step c after memorisation, for a run that has not grokked by c
and features x (z = (x - mean) / scale):

    P(it groks at all)                        pi = sigmoid(cure_intercept + cure_coef · z)
    if it does, ln((t_val99 - c) / c) ~ Normal(mu, sigma),   mu = intercept + coef · z

so P(groks by step H) = pi · Phi((ln((H - c) / c) - mu) / sigma) for any horizon H; the forecast
t_val99 (if it groks) is c + c·exp(mu), its 80% interval c + c·exp(mu ± 1.2816 sigma). It was fitted
with the runs that never grokked as censored at their last step, so no budget enters the question;
the cure part keeps runs that never grok from dragging the time of those that do.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.forecast.features import ALL_FEATURES, ForecastError
from grokscope.forecast.law import POOLED, Law

FORMAT = "grokscope-forecast/2"
DEFAULT_MODEL = "model.json"  # shipped inside the package, refit with `grokscope forecast fit`
Z80 = 1.2815515655446004  # the 90% quantile of the standard normal: the 80% interval is mu ± Z80·sigma


def normal_cdf(z: np.ndarray | float) -> np.ndarray:
    """Phi(z), numpy only."""
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


@dataclass(frozen=True)
class ForecastModel:
    """Coefficients, the features they read, the per-family law constants and the verdict's null band.

    null_band: the largest test accuracy, in multiples of chance, that runs which cannot generalise
    (permuted labels) showed after memorisation (its 99th percentile over their rows).
    """

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    cure_coef: list[float]
    cure_intercept: float
    sigma: float
    laws: dict[str, dict[str, float]]
    null_band: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def families(self) -> list[str]:
        """The model families with fitted law constants (POOLED, "any", applies to any other)."""
        return sorted(self.laws)

    def law(self, family: str) -> Law:
        """The law constants of a family; ForecastError for a family nothing was fitted on."""
        if family not in self.laws:
            raise ForecastError(f"cannot forecast: no fitted head for the {family!r} family (fitted: "
                                f"{', '.join(f for f in self.families if f != POOLED)}); refit on runs of this family "
                                f"(grokscope forecast fit) or ask for the pooled one (family={POOLED!r})")
        return Law(**self.laws[family])

    def mu(self, x: np.ndarray) -> np.ndarray:
        """Predicted mean of ln((t_val99 - cut) / cut) for feature rows x [n, features]."""
        z = (np.asarray(x, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)
        return z @ np.array(self.coef) + self.intercept

    def p_ever(self, x: np.ndarray) -> np.ndarray:
        """P(the run groks at all) for feature rows x."""
        z = (np.asarray(x, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)
        return 1.0 / (1.0 + np.exp(-np.clip(z @ np.array(self.cure_coef) + self.cure_intercept, -40, 40)))

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1)

    def save(self, path: str | Path) -> Path:
        from grokscope.store.files import write_text  # atomic write

        path = Path(path)
        write_text(path, self.to_json())
        return path


def model_from_dict(d: Any, where: str) -> ForecastModel:
    """A model from its JSON object; ForecastError naming `where` if anything is missing or malformed."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ForecastError(f"{where} is not a grokscope forecast model (format {FORMAT!r}); refit it with "
                            "`grokscope forecast fit`")
    try:
        kw = {k: d[k] for k in ForecastModel.__dataclass_fields__ if k != "info"}
        m = ForecastModel(**kw, info=dict(d.get("info") or {}))
        n = len(m.features)
        nums = [*m.mean, *m.scale, *m.coef, *m.cure_coef, m.intercept, m.cure_intercept, m.sigma, m.null_band,
                *(v for law in m.laws.values() for v in law.values())]
        if any(len(v) != n for v in (m.mean, m.scale, m.coef, m.cure_coef)) or not all(isinstance(v, int | float) and math.isfinite(v)
                                                                          for v in nums):
            raise ValueError("inconsistent sizes or non-finite numbers")
        if any(s <= 0 for s in m.scale) or m.sigma <= 0 or not set(m.features) <= set(ALL_FEATURES):
            raise ValueError("a non-positive scale or sigma, or an unknown feature")
        for law in m.laws.values():
            Law(**law)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ForecastError(f"{where} is a corrupt forecast model ({type(e).__name__}: {e}); refit it with "
                            "`grokscope forecast fit`") from None
    return m


def load_model(path: str | Path | None = None) -> ForecastModel:
    """The model at `path`, or the one shipped with grokscope; ForecastError if unreadable or corrupt."""
    try:
        if path is None:
            text = resources.files("grokscope.forecast").joinpath(DEFAULT_MODEL).read_text()
            where = f"the shipped forecast model (grokscope/forecast/{DEFAULT_MODEL})"
        else:
            text, where = Path(path).read_text(), str(path)
        d = json.loads(text)
    except FileNotFoundError:
        raise ForecastError(f"forecast model {path or DEFAULT_MODEL} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ForecastError(f"forecast model {path or DEFAULT_MODEL} is unreadable or corrupt "
                            f"({type(e).__name__}); refit it with `grokscope forecast fit`") from None
    return model_from_dict(d, where)
