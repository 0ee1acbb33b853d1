"""Numbers of a comparison: per-setting order statistics of t_val(x) over seeds, and the
bootstrap confidence interval of a speed-up. A seed that never reached x counts as +inf (it is
slower than any budget), so medians and quartiles are order statistics that never interpolate
(numpy's "inverted_cdf"): a median is a real seed's value, or inf when half the seeds failed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _times(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.inf if v is None else float(v) for v in values], dtype=float)


def quantiles(values: Sequence[float | None]) -> dict[str, float]:
    """median, q25, q75 of event steps (None = never) as order statistics."""
    x = _times(values)
    q25, med, q75 = np.quantile(x, [0.25, 0.5, 0.75], method="inverted_cdf")
    return {"median": float(med), "q25": float(q25), "q75": float(q75)}


def speedup(baseline: Sequence[float | None], method: Sequence[float | None], n_boot: int = 2000,
            seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """median(baseline) / median(method) and its percentile-bootstrap CI (seeds resampled with
    replacement within each arm, `n_boot` times, seeded). inf: the method reached the event and
    the baseline's median did not; nan: neither did."""
    b, m = _times(baseline), _times(method)

    def ratio(bs: np.ndarray, ms: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.quantile(bs, 0.5, axis=-1, method="inverted_cdf") / np.quantile(ms, 0.5, axis=-1,
                                                                                        method="inverted_cdf")

    rng = np.random.default_rng(seed)
    boots = ratio(b[rng.integers(0, len(b), (n_boot, len(b)))], m[rng.integers(0, len(m), (n_boot, len(m)))])
    boots = boots[~np.isnan(boots)]
    lo, hi = (np.quantile(boots, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
              if len(boots) else (math.nan, math.nan))
    return {"speedup": float(ratio(b, m)), "ci_low": float(lo), "ci_high": float(hi), "level": level,
            "n_boot": n_boot}

