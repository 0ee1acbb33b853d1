"""The local learning coefficient (devinterp's SGLD) where the answer is known: a regular model at
its minimum has λ = d/2."""

import sys

import numpy as np
import pytest
import torch

from grokscope.analysis.fourier import AnalysisError
from grokscope.config import RunConfig
from grokscope.models import build_model
from grokscope.tasks import make_split, make_task


def _linear_regression_at_minimum(d_in: int, n_train: int = 1000):
    """The teacher task with a linear dense student (n_layers = 0, bias) at its least-squares
    minimum: (family, params, inputs, targets, d = number of parameters)."""
    cfg = RunConfig(preset="test").override(
        ["task.name=teacher", f"task.d_in={d_in}", f"task.n_train={n_train}", "task.n_test=10",
         "model.arch=dense", "model.n_layers=0", "train.loss=mse"])
    task = make_task(cfg.task)
    split = make_split(cfg.task, task)
    x, y = task.x[split.train_idx], split.train_labels
    w = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]  # [d_in + 1, 1]
    params = {"W_out": torch.tensor(w[:d_in], dtype=torch.float32), "b_out": torch.tensor(w[d_in], dtype=torch.float32)}
    return build_model(cfg.model, task.n_in, task.n_out), params, (x,), y, d_in + 1


@pytest.mark.slow  # ~2.3 s a case (SGLD chains); the fast tier keeps the seeding test
@pytest.mark.parametrize("d_in", [10, 30])
def test_regular_model_at_its_minimum_has_llc_d_over_2(d_in):
    # measured with the defaults (lr 1e-3, γ 10, n = 1000: nβ = 145, 2 chains × 200 draws after 200
    # burn-in steps): λ̂ / (d/2) = 1.05 at d_in = 20 (SGLD's step inflates the variance by
    # ≈ 1 / (1 − ε nβ h / 4) = 1.08, the localisation shrinks it by 1 / (1 + γ / (nβ h)) = 0.97)
    pytest.importorskip("devinterp", reason="the field extra (devinterp) is not installed")
    from grokscope.analysis.llc import estimate_llc

    family, params, inputs, y, d = _linear_regression_at_minimum(d_in)
    est = estimate_llc(family, params, inputs, y, "mse", seed=3)
    assert est.init_loss < 1e-10
    assert est.llc == pytest.approx(d / 2, rel=0.15)


def test_llc_is_seeded_and_leaves_the_global_rng_alone():
    pytest.importorskip("devinterp", reason="the field extra (devinterp) is not installed")
    from grokscope.analysis.llc import estimate_llc

    family, params, inputs, y, _ = _linear_regression_at_minimum(5, n_train=200)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = estimate_llc(family, params, inputs, y, "mse", n_draws=20, n_burnin=10, seed=7)
    after = torch.rand(3)
    b = estimate_llc(family, params, inputs, y, "mse", n_draws=20, n_burnin=10, seed=7)
    c = estimate_llc(family, params, inputs, y, "mse", n_draws=20, n_burnin=10, seed=8)
    assert torch.equal(before, after)
    assert a.per_chain == b.per_chain
    assert a.per_chain != c.per_chain


def test_unstable_step_size_gives_nan_not_a_number():
    # a step far beyond ε nβ h < 2 blows the chain up: devinterp stops it, the estimate is NaN
    pytest.importorskip("devinterp", reason="the field extra (devinterp) is not installed")
    from grokscope.analysis.llc import estimate_llc

    family, params, inputs, y, _ = _linear_regression_at_minimum(5, n_train=200)
    est = estimate_llc(family, params, inputs, y, "mse", n_chains=1, n_draws=200, n_burnin=0, lr=10.0)
    assert np.isnan(est.llc)


def test_missing_devinterp_is_one_line(monkeypatch):
    from grokscope.analysis.llc import estimate_llc

    family, params, inputs, y, _ = _linear_regression_at_minimum(5, n_train=50)
    monkeypatch.setitem(sys.modules, "devinterp.slt.sampling", None)
    with pytest.raises(AnalysisError, match=r"^measure 'llc' needs devinterp: pip install 'grokscope\[field\]'$"):
        estimate_llc(family, params, inputs, y, "mse")
