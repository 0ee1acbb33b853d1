"""The field's measures (`alpha`: weightwatcher, `llc`: devinterp) through `analyze` on real runs:
asked for by name only, every task."""

import math

import pytest
from tests.helpers import tiny_mlp
from tests.helpers_dense import tiny_dense

import grokscope
from grokscope.analysis.measures import MEASURES
from grokscope.analysis.pipeline import analyze_run, default_measures
from grokscope.cli import Measure


def test_listed_by_the_cli_but_not_run_by_default(tmp_path):
    assert {"alpha", "llc"} <= set(MEASURES.names())
    assert {"alpha", "llc"} <= {m.value for m in Measure}
    run = grokscope.run(tiny_mlp("train.steps=20", "train.checkpoint_every=20"), out=tmp_path)
    assert not {"alpha", "llc"} & set(default_measures(run))


@pytest.mark.slow  # importing devinterp (transformers) and sampling: ~4 s a case, kept out of the fast tier
@pytest.mark.parametrize("make", [lambda: tiny_mlp("train.steps=100"), lambda: tiny_dense("parity")],
                         ids=["modular", "parity"])
def test_analyze_writes_alpha_and_llc_columns(tmp_path, make):
    pytest.importorskip("weightwatcher", reason="the field extra (weightwatcher) is not installed")
    pytest.importorskip("devinterp", reason="the field extra (devinterp) is not installed")
    run = grokscope.run(make(), out=tmp_path)
    final = run.checkpoint_steps()[-1]
    table = analyze_run(run.path, measures=["alpha", "llc"], steps=[final]).table
    weights = [name for name, t in run.params(final).items() if t.dim() == 3]  # 2-D per model
    assert weights and {f"alpha_{name}" for name in weights} <= set(table.columns)
    row = table.iloc[0]
    assert math.isfinite(row["alpha_mean"]) and row["alpha_mean"] > 1
    assert math.isfinite(row["llc"]) and math.isfinite(row["llc_std"])
    again = analyze_run(run.path, measures=["llc"], steps=[final]).table.iloc[0]
    assert again["llc"] == row["llc"]  # seeded by the checkpoint step
