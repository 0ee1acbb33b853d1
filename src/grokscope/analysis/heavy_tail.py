"""Heavy-tailed self-regularisation (Martin & Mahoney): the power-law exponent α of each weight
matrix's empirical spectral density, read with weightwatcher.

For a weight matrix W [N, M] (M ≤ N) the ESD is the histogram of the M eigenvalues λ_i = σ_i² of
WᵀW. weightwatcher fits a power law ρ(λ) ∝ λ^(−α) to its tail λ ≥ λ_min (maximum likelihood,
λ_min chosen by the Kolmogorov–Smirnov distance; below 20 eigenvalues a bias-corrected fit).
A random matrix has a Marchenko–Pastur bulk and a large α (no power-law tail: often α > 6);
trained layers typically reach 2 ≤ α ≤ 6, and α < 2 marks a very heavy tail. If the singular
values fall as a power law σ_i ∝ i^(−γ), the eigenvalue ranks are i ∝ λ^(−1/(2γ)), so the
tail's cumulative count N(λ' ≥ λ) ∝ λ^(−1/(2γ)) and α = 1 + 1/(2γ) (the tests check this).

Prakash & Martin 2025 (arXiv 2506.04434) train the Omnigrok MNIST MLP without weight decay far
past grokking and see test accuracy collapse late ("anti-grokking") while train accuracy stays
at 100%; the layers' α falling below 2 comes before the collapse.

Columns: `alpha_<parameter name>` for every 2-D parameter of the checkpoint (NaN where
weightwatcher skips the matrix: fewer than `MIN_EVALS` eigenvalues, i.e. min(N, M) < 8), and
`alpha_mean` over the layers it fitted. Needs the `field` extra (`pip install 'grokscope[field]'`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from grokscope.analysis.fourier import AnalysisError
from grokscope.analysis.measures import Checkpoint, register

log = logging.getLogger(__name__)

MIN_EVALS = 8  # weightwatcher's default: a matrix with fewer eigenvalues (min(N, M)) is skipped
_MISSING = "measure 'alpha' needs weightwatcher: pip install 'grokscope[field]'"


def _weightwatcher() -> Any:
    """The weightwatcher module, its logger quiet (its import warns that there is no CUDA, and it
    sets its own level on import)."""
    ww_log = logging.getLogger("weightwatcher")
    ww_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import weightwatcher
    except ImportError:
        raise AnalysisError(_MISSING) from None
    ww_log.setLevel(logging.ERROR)
    return weightwatcher


def layer_alphas(matrices: Mapping[str, np.ndarray | torch.Tensor], min_evals: int = MIN_EVALS) -> dict[str, float]:
    """weightwatcher's power-law α of each 2-D matrix (NaN where it skips or fails the fit).

    Each matrix becomes one bias-free `nn.Linear` of a throwaway module (weightwatcher reads
    torch modules; a Linear's weight is [out, in], and the transpose has the same spectrum)."""
    ww = _weightwatcher()
    names = [name for name, w in matrices.items() if np.ndim(w) == 2]
    holder = nn.ModuleList()
    for name in names:
        w = torch.as_tensor(np.asarray(matrices[name]), dtype=torch.float64)  # [fan_in, fan_out] or any 2-D
        lin = nn.Linear(w.shape[0], w.shape[1], bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w.T)
        holder.append(lin)
    out = dict.fromkeys(names, math.nan)
    if not names:
        return out
    # the small-matrix fit prints a line on stdout, and pandas warns of weightwatcher's calls into it;
    # plots and file output are off by default
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="weightwatcher")
        details = ww.WeightWatcher(model=holder).analyze(min_evals=min_evals, plot=False)
    for _, row in details.iterrows():
        i = int(str(row["longname"]).rsplit(".", 1)[-1]) if str(row["longname"]) else None
        alpha = float(row["alpha"])
        if i is not None and 0 <= i < len(names) and alpha > 0:  # weightwatcher reports -1 for a failed fit
            out[names[i]] = alpha
    return out


@register("alpha", rank=80, tasks=None)
def _alpha(ck: Checkpoint) -> dict[str, Any]:
    """alpha_<param> for each 2-D parameter of the checkpoint, and alpha_mean over those fitted."""
    alphas = layer_alphas({name: t.detach() for name, t in ck.one.items()})
    if not alphas:
        raise AnalysisError("measure 'alpha' found no 2-D weight matrix in this model")
    fitted = [a for a in alphas.values() if not math.isnan(a)]
    row = {f"alpha_{name}": a for name, a in alphas.items()}
    row["alpha_mean"] = float(np.mean(fitted)) if fitted else math.nan
    return row
