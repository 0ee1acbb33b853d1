"""The local learning coefficient (LLC) of a checkpoint, estimated by SGLD with devinterp.

Singular learning theory's learning coefficient λ measures how degenerate the loss is around a
minimum w*: the volume of {w : L(w) − L(w*) < ε} scales as ε^λ. A regular (non-singular) model
with d parameters has λ = d/2; degenerate directions lower it. The estimator (Lau et al. 2023,
arXiv 2308.12108):

    λ̂(w*) = nβ · (E_w[L_n(w)] − L_n(w*)),   nβ = n / ln n,

with the expectation over the tempered posterior localised at w*,
p(w) ∝ exp(−nβ L_n(w) − γ/2 ‖w − w*‖²), sampled by SGLD (devinterp's `SGMCMC.sgld`):

    Δw = −ε/2 (nβ ∇L_batch(w) + γ (w − w*)) + N(0, ε).

L_n is the run's own training loss (`train.loss`: cross-entropy or MSE, at the run's
`loss_dtype`, `probs` and `out_scale`; `grokscope.train.losses.per_model_loss`) on the training
split (noisy labels as trained), n its size. Every chain starts at w*; the first `n_burnin`
steps are dropped and the mean is over the `n_draws` that follow (devinterp's own `compute_llc`
would average the burn-in steps too).

devinterp 2.x's sampler is written for language models (a dataset of "input_ids" rows and a
per-token loss); `estimate_llc` feeds it rows [i, i] of example indices and a loss function that
looks the examples up and returns the batch's mean training loss on every row, so devinterp's
mean over rows is the training loss itself. It needs the `field` extra
(`pip install 'grokscope[field]'`).

Defaults (2 chains, 200 burn-in + 200 draws, ε = 1e-3, γ = 10, nβ = n / ln n, full batch) were
chosen on a linear regression at its minimum (λ̂ = 1.05 × d/2) and the p = 53 MLP (loss traces
flat after ~200 steps). λ̂ depends on γ strongly for a trained network (its loss is flat, so γ
sets how far the chains wander): compare λ̂ only at one setting. The field's claim (devinterp's
grokking example, (a+b) mod 53): the LLC rises while a model memorises and falls through
grokking; measured in docs/field-measures.md.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import random
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError
from grokscope.analysis.measures import Checkpoint, register
from grokscope.models import StackedModel
from grokscope.train.losses import per_model_loss

log = logging.getLogger(__name__)

SEED = 20230823  # fixed part of every chain's seed (the other part is the checkpoint step)
_MISSING = "measure 'llc' needs devinterp: pip install 'grokscope[field]'"


@dataclass(frozen=True)
class LLCEstimate:
    """λ̂ over chains (mean, std), each chain's λ̂, L_n(w*), the mean sampled loss, nβ and the
    loss trace (the chains' mean loss at each draw: flat once the chains have mixed)."""

    llc: float
    llc_std: float
    per_chain: list[float]
    init_loss: float
    mean_loss: float
    n_beta: float
    trace: list[float]


class _Rows(torch.utils.data.Dataset):
    """Example i as devinterp's "input_ids" row [i, i] (a 2-token sequence: one loss per row)."""

    def __init__(self, n: int):
        self.ids = torch.arange(n).unsqueeze(1).expand(n, 2)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i]}


@contextlib.contextmanager
def _quiet_and_rng_kept():
    """devinterp seeds torch, numpy and random globally (their states are put back afterwards) and
    logs each chain and store at INFO (raised to WARNING meanwhile)."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    di_log = logging.getLogger("devinterp")
    level = di_log.level
    di_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        di_log.setLevel(level)
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def estimate_llc(
    family: StackedModel, params: Mapping[str, torch.Tensor], inputs: Sequence[np.ndarray | torch.Tensor],
    labels: np.ndarray | torch.Tensor, loss: str = "ce", loss_dtype: str = "float32", probs: str = "softmax",
    out_scale: float = 1.0, *, n_chains: int = 2, n_draws: int = 200, n_burnin: int = 200, lr: float = 1e-3,
    localization: float = 10.0, n_beta: float | None = None, batch_size: int = 0, seed: int = 0,
) -> LLCEstimate:
    """λ̂ of one model (`params` stacked with K = 1 or without a K axis) at its weights, on the
    examples `inputs` (the family's forward inputs, one row per example) with training `labels`.

    Settings: `n_chains` SGLD chains of `n_burnin` + `n_draws` steps, step size `lr` (ε),
    localisation strength `localization` (γ), inverse temperature `n_beta` (default n / ln n),
    `batch_size` examples per step (0 = the full training set: the loss then has no minibatch
    noise), `seed` (chain c uses seed + c). A chain whose loss turns non-finite makes λ̂ NaN
    (lower `lr`)."""
    try:
        from devinterp.slt.sampling import sample
    except ImportError:
        raise AnalysisError(_MISSING) from None
    from grokscope.models.module import ModelModule

    xs = [torch.as_tensor(np.asarray(v)) for v in inputs]
    y = torch.as_tensor(np.asarray(labels))
    n = len(y)
    if n < 2:
        raise AnalysisError(f"the LLC needs at least 2 training examples, got {n}")
    nb = float(n_beta) if n_beta is not None else n / math.log(n)
    module = ModelModule(family, params)

    def loss_fn(model: ModelModule, ids: torch.Tensor) -> torch.Tensor:
        i = ids[:, 0]  # [B] example indices
        logits = model.family.forward(model.params(), *(x[i] for x in xs))  # [1, B, n_out]
        value = per_model_loss(logits, y[i].unsqueeze(0), loss, loss_dtype, probs, out_scale)  # [1]
        return value.float().reshape(1, 1).expand(len(i), 1)  # the batch mean on every row: [B, 1]

    with tempfile.TemporaryDirectory() as tmp, _quiet_and_rng_kept(), warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stderr(io.StringIO()):  # devinterp's per-chain progress bars
        warnings.simplefilter("always")
        tree = sample(module, _Rows(n), {}, lr=lr, n_beta=nb, num_chains=n_chains, num_draws=n_draws,
                      num_burnin_steps=n_burnin, batch_size=batch_size or n, num_init_loss_batches=1,
                      init_seed=seed, localization=localization, device="cpu", loss_fn=loss_fn,
                      output_path=Path(tmp) / "samples.zarr")
        ds = tree.dataset
        draws = np.asarray(ds.sampling_loss.mean(dim=["batch", "token_pos"]).values, dtype=np.float64)  # [chain, draw]
        init = float(np.asarray(ds.init_loss.values, dtype=np.float64).mean())
    failed = [str(w.message) for w in caught if "Chain failed" in str(w.message)]
    if failed or not np.isfinite(draws).all():
        log.warning("llc: %s at lr %g; the estimate is NaN (try a smaller lr)", failed[0] if failed else "non-finite loss", lr)
        nan = float("nan")
        return LLCEstimate(nan, nan, [nan] * n_chains, init, nan, nb, [])
    per_chain = nb * (draws.mean(axis=1) - init)
    return LLCEstimate(float(per_chain.mean()), float(per_chain.std()), [float(v) for v in per_chain], init,
                       float(draws.mean()), nb, [float(v) for v in draws.mean(axis=0)])


def llc_settings(step: int) -> dict[str, Any]:
    """The measure's settings at checkpoint `step`: `estimate_llc`'s defaults, seeded by the step."""
    return {"seed": (SEED + 7919 * int(step)) % (2**31 - 1024)}  # chains add 0..n_chains-1


@register("llc", rank=90, tasks=None)
def _llc(ck: Checkpoint) -> dict[str, Any]:
    """llc, llc_std: λ̂ at this checkpoint on the training split (`estimate_llc` defaults)."""
    tr, cfg = ck.split.train_idx, ck.run.config.train
    inputs = [np.asarray(v)[tr] for v in ck.task.model_inputs()]
    est = estimate_llc(ck.model, ck.params, inputs, ck.split.train_labels, cfg.loss, cfg.loss_dtype, cfg.probs,
                       cfg.out_scale, **llc_settings(ck.step))
    return {"llc": est.llc, "llc_std": est.llc_std}
