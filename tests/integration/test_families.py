"""Model families end to end: every family trains, is analysed and gets a report, through the
views its model class defines (no architecture branches outside models/)."""

import math

import pytest
import torch
from tests.helpers import tiny_mlp

import grokscope
from grokscope.analysis.pipeline import analyze_run
from grokscope.config import FAMILIES
from grokscope.models import build_model, model_class
from grokscope.report.html import write_run_report

DEEP = ("model.arch=deep_mlp", "model.n_layers=2", "model.d_mlp=24")


def test_every_family_in_the_config_table_has_its_model_and_views():
    for arch, family in FAMILIES.items():
        cls = model_class(arch)
        views = ("describe", "neuron_input_weights", "neuron_output_weights", "neuron_slices")
        if family.inputs == "pairs":  # operands have embeddings; dense inputs do not
            views += ("embedding",)
        for view in views:
            assert getattr(cls, view) is not getattr(grokscope.models.StackedModel, view), (arch, view)


def test_deep_mlp_is_the_dense_two_layer_network():
    """logits = relu(relu(onehot(a)⊕onehot(b) @ W1 + b1) @ W2 + b2) @ W3 + b3, written densely."""
    cfg = tiny_mlp(*DEEP).model
    p = 11
    model = build_model(cfg, p)
    P = {k: v.detach()[0].double() for k, v in model.init([3]).items()}
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    x = torch.cat([torch.nn.functional.one_hot(a, p), torch.nn.functional.one_hot(b, p)], 1).double()
    h = torch.relu(x @ torch.cat([P["W_a"], P["W_b"]]) + P["b_in"])
    h = torch.relu(h @ P["hidden.1.W"] + P["hidden.1.b"])
    dense = h @ P["W_out"] + P["b_out"]
    ours = model.forward({k: v.unsqueeze(0) for k, v in P.items()}, a, b)[0]
    torch.testing.assert_close(ours, dense, rtol=1e-12, atol=1e-12)
    # default init: PyTorch Linear's U(±1/sqrt(fan_in)) on each layer
    assert P["hidden.1.W"].abs().max() <= 1 / math.sqrt(24)


@pytest.mark.parametrize("sets", [DEEP, ("model.arch=deep_mlp", "model.n_layers=1", "model.d_mlp=24")])
def test_deep_mlp_trains_is_analysed_and_reported(tmp_path, sets):
    cfg = tiny_mlp(*sets, "train.steps=400", "optim.lr=1e-2")
    run = grokscope.run(cfg, out=tmp_path)
    assert run.summary["final_train_acc"] > 0.9  # it learns its training set
    analysis = analyze_run(run.path)
    assert {"step", "gini_W_L", "excluded_loss_train"} <= set(analysis.table.columns)
    assert list(analysis.table["step"]) == run.checkpoint_steps()
    html = write_run_report(run.path).read_text()  # raises where the _safe form would only log
    assert model_class("deep_mlp")(cfg.model, 11, 11).describe() in html


@pytest.mark.parametrize("sets", [(), ("model.input=tied_embed",), DEEP, ("model.arch=transformer", "model.n_layers=2",
                                                                        "model.d_model=16", "model.n_heads=2")])
def test_forward_cache_records_exactly_the_familys_hook_names(sets):
    cfg = tiny_mlp(*sets).model
    model = build_model(cfg, 11)
    cache: dict = {}
    logits = model.forward(model.init([0, 1]), torch.arange(5), torch.arange(5), cache=cache)
    assert set(cache) == set(model.hook_names) and logits.shape == (2, 5, 11)
    assert all(t.shape[0] == 2 for t in cache.values())  # every activation keeps the stack axis
