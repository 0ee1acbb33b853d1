"""Activations with TransformerLens names for every family (`run_with_cache`), and one model of a
stack as a plain nn.Module (`ModelModule`, `Run.model(step)`)."""

from __future__ import annotations

import pytest
import torch
from tests.helpers import tiny_mlp, tiny_transformer

from grokscope.errors import GrokscopeError
from grokscope.models import build_model
from grokscope.models.module import ModelModule

FAMILIES = {
    "two_hot": tiny_mlp(),
    "embed_concat": tiny_mlp("model.input=embed_concat", "model.d_embed=8"),
    "tied_embed": tiny_mlp("model.input=tied_embed", "model.d_embed=8"),
    "shared-gelu": tiny_mlp("model.input=shared", "model.act=gelu"),
    "deep_mlp": tiny_mlp("model.arch=deep_mlp", "model.n_layers=2"),
    "transformer-2L-LN": tiny_transformer("model.n_layers=2", "model.layer_norm=true"),
}


def _setup(key, K=3, seed0=0):
    cfg = FAMILIES[key]
    n = cfg.task.p
    model = build_model(cfg.model, n)
    params = {k: v.detach().double() for k, v in model.init(list(range(seed0, seed0 + K))).items()}
    a, b = torch.arange(n * n) // n, torch.arange(n * n) % n
    return model, params, a, b


@pytest.mark.parametrize("key", list(FAMILIES))
def test_run_with_cache_names_logits_and_stack(key):
    model, params, a, b = _setup(key)
    logits, cache = model.run_with_cache(params, a, b)
    # float64; the forward without a cache may take a fused path (another summation order)
    torch.testing.assert_close(logits, model.forward(params, a, b), rtol=0, atol=1e-12)
    assert list(cache) == list(model.hook_names) and all(t.shape[:2] == (3, len(a)) for t in cache.values())
    only = model.hook_names[-1]
    _, some = model.run_with_cache(params, a, b, names=[only])
    assert list(some) == [only] and torch.equal(some[only], cache[only])


@pytest.mark.parametrize("key", ["two_hot", "embed_concat", "tied_embed", "shared-gelu"])
def test_mlp_activations_are_what_the_names_say(key):
    """mlp.hook_post = act(mlp.hook_pre); the logits follow from hook_post; hook_embed holds W_E[a], W_E[b]."""
    model, params, a, b = _setup(key)
    logits, cache = model.run_with_cache(params, a, b)
    torch.testing.assert_close(cache["mlp.hook_post"], model.act(cache["mlp.hook_pre"]))
    W_L = params["W_out"] @ params["W_E"].transpose(1, 2) if key == "tied_embed" else params["W_out"]
    torch.testing.assert_close(logits, cache["mlp.hook_post"] @ W_L + params["b_out"].unsqueeze(1))
    if model.has_embedding:
        torch.testing.assert_close(cache["hook_embed"][:, :, 0], params["W_E"][:, a])
        torch.testing.assert_close(cache["hook_embed"][:, :, 1], params["W_E"][:, b])
    else:
        assert "hook_embed" not in cache


def test_transformer_residual_stream_adds_up():
    """resid_post = resid_mid + mlp_out = resid_pre + attn_out + mlp_out at the '=' position; the
    last block's output through ln_final and W_U gives the logits."""
    model, params, a, b = _setup("transformer-2L-LN", K=2)
    logits, c = model.run_with_cache(params, a, b)
    for i in (0, 1):
        pre = f"blocks.{i}."
        torch.testing.assert_close(c[pre + "hook_resid_post"], c[pre + "hook_resid_mid"] + c[pre + "hook_mlp_out"])
        resid_pre = c[pre + "hook_resid_pre"][:, :, -c[pre + "hook_attn_out"].shape[2]:]
        torch.testing.assert_close(c[pre + "hook_resid_mid"], resid_pre + c[pre + "hook_attn_out"])
        torch.testing.assert_close(c[pre + "attn.hook_pattern"], c[pre + "attn.hook_attn_scores"].softmax(-1))
    torch.testing.assert_close(c["blocks.1.hook_resid_pre"], c["blocks.0.hook_resid_post"])
    torch.testing.assert_close(logits, torch.bmm(c["ln_final.hook_normalized"], params["W_U"]))
    assert c["blocks.0.attn.hook_q"].shape == (2, len(a), 3, 2, 8)  # [K, B, pos, head, d_head]
    assert c["blocks.1.attn.hook_q"].shape == (2, len(a), 1, 2, 8)  # last block: the '=' query only


def test_unknown_hook_name_is_one_line_listing_the_valid_ones():
    model, params, a, b = _setup("two_hot")
    with pytest.raises(GrokscopeError) as e:
        model.run_with_cache(params, a, b, names=["mlp.hook_post", "blocks.0.attn.hook_pattern"])
    msg = str(e.value)
    assert "\n" not in msg and "'blocks.0.attn.hook_pattern'" in msg and "mlp.hook_pre, mlp.hook_post" in msg


@pytest.mark.parametrize("key", ["embed_concat", "transformer-2L-LN"])
def test_model_module_is_one_model_of_the_stack(key):
    """Model k of a stack as an nn.Module: same logits and activations, TL names in its state_dict,
    and it trains with torch.optim (gradients reach every parameter)."""
    model, params, a, b = _setup(key)
    k = 1
    m = ModelModule(model, {name: t[k:k + 1] for name, t in params.items()})
    assert isinstance(m, torch.nn.Module) and set(m.state_dict()) == set(model.spec())
    # float64; a stack of 1 and of 3 may sum in another order (batched matmuls)
    torch.testing.assert_close(m(a, b), model.forward(params, a, b)[k], rtol=0, atol=1e-12)
    logits, cache = m.run_with_cache(a, b, names=["mlp.hook_post"] if key != "transformer-2L-LN" else None)
    full = model.run_with_cache(params, a, b)[1]
    assert set(cache) == ({"mlp.hook_post"} if key != "transformer-2L-LN" else set(model.hook_names))
    for name, t in cache.items():
        torch.testing.assert_close(t, full[name][k], rtol=0, atol=1e-12)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    y = (a + b) % model.n
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(m(a, b), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in m.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_run_model_step_is_a_module_of_that_checkpoint(tmp_path):
    from grokscope import api

    run = api.run(tiny_mlp("train.steps=100"), tmp_path)
    steps = run.checkpoint_steps()
    m0, m = run.model(steps[0]), run.model("final")
    assert isinstance(m, torch.nn.Module)
    with torch.no_grad():
        torch.testing.assert_close(m(torch.from_numpy(run.task().a), torch.from_numpy(run.task().b)), run.logits("final"))
        assert not torch.equal(m0.W_a, m.W_a)
    assert run.model().describe() == run.family().describe()  # the older spelling still gives the family
    with pytest.raises(GrokscopeError, match="no checkpoint at step 99999"):
        run.model(99999)
