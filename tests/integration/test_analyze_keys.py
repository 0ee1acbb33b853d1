"""`grokscope analyze` holds the final checkpoint's key frequencies fixed over the run (Nanda et
al.'s method, shared with `reproduce nanda2023`), or uses each checkpoint's own when asked."""

import pytest

import grokscope
from grokscope.analysis.fourier import key_frequencies, unembed_freq_norms
from grokscope.analysis.pipeline import analyze_run
from grokscope.analysis.progress import fixed_keys
from grokscope.analysis.views import unstack
from grokscope.errors import GrokscopeError

TINY = ["task.p=11", "model.d_mlp=32", "train.steps=300", "train.checkpoint_every=100",
        "train.eval_every=50", "train.checkpoint_log_points=0", "train.eval_log_points=0",
        "train.stop_test_acc=2.0", "optim.lr=0.01"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return grokscope.run(grokscope.load_preset("swaroop2026").override(TINY), out=tmp_path_factory.mktemp("runs"))


def own_keys(run, step):
    return [int(k) for k in key_frequencies(unembed_freq_norms(unstack(run.params(step)), run.config.model), 0.25)]


def test_final_keys_are_held_fixed_by_default(run):
    held = fixed_keys(run)
    assert held == own_keys(run, run.checkpoint_steps()[-1])
    a = analyze_run(run.path, measures=["progress"])
    assert a.summary["key_source"] == "final"
    assert set(a.table["key_freqs"]) == {",".join(map(str, held))}
    each = analyze_run(run.path, measures=["progress"], keys="each")
    for step, keys in zip(each.table["step"], each.table["key_freqs"], strict=True):
        assert keys == ",".join(map(str, own_keys(run, int(step))))
    # the two differ on this run (step 0's random W_L has other top frequencies), so the default matters
    assert list(each.table["key_freqs"]) != list(a.table["key_freqs"])
    assert "phase_rules" in a.summary and a.summary["phase_rules"]["window"] == 500


def test_unknown_key_source_is_a_grokscope_error(run):
    with pytest.raises(GrokscopeError, match="keys must be"):
        analyze_run(run.path, measures=["progress"], keys="best")
