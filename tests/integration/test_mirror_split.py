"""scripts/mirror_split.py: test accuracy split by whether a pair's mirror (b, a) was trained on."""

import importlib.util
from pathlib import Path

import pytest
from tests.helpers import tiny_mlp

import grokscope
from grokscope.reproduce.common import train_or_reuse

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mirror_split.py"


def _mirror_split():
    spec = importlib.util.spec_from_file_location("mirror_split", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.mirror_split


def test_a_symmetric_model_answers_every_mirrored_test_pair_it_memorised(tmp_path):
    # ReLU(W[a] + W[b]) W_out is symmetric in (a, b) by construction: once it fits the training set,
    # every test pair whose mirror was trained on is answered right, whatever it does on the rest
    cfg = tiny_mlp("model.input=shared", "train.steps=400", "train.stop_test_acc=1.1", "task.frac_train=0.4")
    path = tmp_path / "run"
    train_or_reuse([cfg], [path])
    assert grokscope.load_run(path).summary["final_train_acc"] == 1.0
    m = _mirror_split()(str(path))
    assert 0.25 < m["mirror_share"] < 0.75  # a random 40% split of 11 x 11 pairs
    assert m["acc_mirror_in_train"] == 1.0
    # the two halves make up the whole test set
    share = m["mirror_share"]
    assert m["val"] == pytest.approx(share * m["acc_mirror_in_train"] + (1 - share) * m["acc_mirror_not_in_train"])
