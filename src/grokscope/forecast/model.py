"""The fitted forecaster as plain data: JSON coefficients, evaluated with numpy (no scikit-learn at run time).

A model is two linear heads on standardized features:
  P(groks within budget) = sigmoid(b + w · z)                 (logistic regression)
  log(t_val99 / cut)      = c + v · z   (+ residual quantiles)  (ridge regression on runs that grok)
where z = (x - mean) / scale. The 80% interval of t_val99 is the median prediction times the 10% and
90% quantiles of exp(cross-validated residual), so it is as wide as the fit's own held-out errors.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from grokscope.forecast.features import ForecastError

FORMAT = "grokscope-forecast/1"
DEFAULT_MODEL = "model.json"  # shipped inside the package, refit with `grokscope forecast fit`


@dataclass(frozen=True)
class ForecastModel:
    """Coefficients of both heads, the features they read and the families they were fitted on."""

    features: list[str]
    families: list[str]
    mean: list[float]
    scale: list[float]
    clf_coef: list[float]
    clf_intercept: float
    reg_coef: list[float]
    reg_intercept: float
    resid_q10: float
    resid_q90: float
    info: dict[str, Any] = field(default_factory=dict)

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)

    def p_groks(self, x: np.ndarray) -> np.ndarray:
        """P(test accuracy >= 99% within the budget) for feature rows x [n, features]."""
        logit = self._z(x) @ np.array(self.clf_coef) + self.clf_intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -40, 40)))

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        """Predicted log(t_val99 / cut) (median) for feature rows x."""
        return self._z(x) @ np.array(self.reg_coef) + self.reg_intercept

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
        sizes = (len(m.mean), len(m.scale), len(m.clf_coef), len(m.reg_coef))
        nums = [*m.mean, *m.scale, *m.clf_coef, *m.reg_coef, m.clf_intercept, m.reg_intercept, m.resid_q10,
                m.resid_q90]
        if any(s != n for s in sizes) or not all(isinstance(v, int | float) and math.isfinite(v) for v in nums) \
                or any(s <= 0 for s in m.scale) or not all(isinstance(f, str) for f in m.features + m.families):
            raise ValueError("inconsistent sizes or non-finite numbers")
    except (KeyError, TypeError, ValueError) as e:
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
