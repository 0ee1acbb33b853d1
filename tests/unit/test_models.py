import math

import pytest
import torch
import torch.nn.functional as F

from grokscope.config import ModelConfig
from grokscope.models import build_model

MLP_INPUTS = ["two_hot", "shared", "embed_concat", "tied_embed"]


@pytest.mark.parametrize("cfg", [ModelConfig(input=i) for i in MLP_INPUTS]
                         + [ModelConfig(arch="transformer", d_model=32, n_heads=4, d_mlp=64),
                            ModelConfig(arch="transformer", n_layers=2, layer_norm=True,
                                        d_model=32, d_mlp=64, attention_rate=0.3, act="gelu")])
def test_member_k_of_a_stack_equals_the_model_trained_alone(cfg):
    model = build_model(cfg, 11)
    stacked = model.init([5, 6, 7])
    alone = model.init([6])
    for name in stacked:
        assert torch.equal(stacked[name][1], alone[name][0]), name
    a, b = torch.randint(0, 11, (3, 9)), torch.randint(0, 11, (3, 9))
    out = model.forward(stacked, a, b)
    assert out.shape == (3, 9, 11)
    torch.testing.assert_close(model.forward(alone, a[1:2], b[1:2])[0], out[1])


def test_two_hot_gather_equals_dense_two_hot_matmul():
    p, d = 13, 40
    model = build_model(ModelConfig(d_mlp=d), p)
    params = model.init([0])
    a, b = torch.randint(0, p, (50,)), torch.randint(0, p, (50,))
    x = torch.cat([F.one_hot(a, p), F.one_hot(b, p)], dim=1).float()  # [B, 2p]
    W_in = torch.cat([params["W_a"][0], params["W_b"][0]], dim=0)  # [2p, d]
    dense = torch.relu(x @ W_in + params["b_in"][0]) @ params["W_out"][0] + params["b_out"][0]
    torch.testing.assert_close(model.forward(params, a, b)[0], dense)


def test_tied_embedding_is_the_pair_notebook_model():
    """h = ReLU(E[a]·W_h + E[b]·W_h), logits = h·W_o·Eᵀ, and the analysis folds E into W_in / W_out."""
    from grokscope.analysis.views import neuron_input_weights, neuron_output_weights, unstack

    p, d_embed, d = 13, 20, 8
    cfg = ModelConfig(input="tied_embed", d_embed=d_embed, d_mlp=d, bias=False)
    model = build_model(cfg, p)
    params = model.init([0])
    assert params["W_E"].shape == (1, p, d_embed) and params["W_out"].shape == (1, d, d_embed)
    assert params["W_E"].std().item() == pytest.approx(math.sqrt(2 / p), rel=0.2)
    E, W_h, W_o = params["W_E"][0], params["W_in"][0], params["W_out"][0]
    a, b = torch.randint(0, p, (30,)), torch.randint(0, p, (30,))
    explicit = torch.relu(E[a] @ W_h + E[b] @ W_h) @ W_o @ E.T
    torch.testing.assert_close(model.forward(params, a, b)[0], explicit)
    one = unstack(params)
    W_a, W_b = neuron_input_weights(one, cfg, p)
    torch.testing.assert_close(torch.from_numpy(W_a).float(), E @ W_h)
    assert (W_a == W_b).all()
    torch.testing.assert_close(torch.from_numpy(neuron_output_weights(one, cfg)).float(), W_o @ E.T)


def test_default_init_matches_pytorch_linear_bounds():
    p, d = 97, 256
    params = build_model(ModelConfig(), p).init([0])
    bound_in, bound_out = 1 / math.sqrt(2 * p), 1 / math.sqrt(d)
    assert params["W_a"].abs().max() <= bound_in and params["W_a"].abs().max() > 0.9 * bound_in
    assert params["W_out"].abs().max() <= bound_out


def _reference_transformer(model, params, a, b):
    """Every position computed, causal mask, answer read at the last position."""
    c = model.cfg
    tokens = torch.stack([a, b, torch.full_like(a, model.n)], dim=1)  # [B, 3]
    x = params["W_E"][0][tokens] + params["W_pos"][0]
    mask = torch.tril(torch.ones(3, 3, dtype=torch.bool))
    for layer in range(c.n_layers):
        pre = f"blocks.{layer}."
        q = torch.einsum("bpd,hde->bhpe", x, params[pre + "attn.W_Q"][0])
        k = torch.einsum("bpd,hde->bhpe", x, params[pre + "attn.W_K"][0])
        v = torch.einsum("bpd,hde->bhpe", x, params[pre + "attn.W_V"][0])
        scores = (q @ k.transpose(-1, -2) / math.sqrt(model.d_head)).masked_fill(~mask, -1e30)
        pattern = c.attention_rate * scores.softmax(-1) + (1 - c.attention_rate) * (mask / mask.sum(-1, keepdim=True))
        x = x + torch.einsum("bhpe,hed->bpd", pattern @ v, params[pre + "attn.W_O"][0])
        hidden = torch.relu(x @ params[pre + "mlp.W_in"][0] + params[pre + "mlp.b_in"][0])
        x = x + hidden @ params[pre + "mlp.W_out"][0] + params[pre + "mlp.b_out"][0]
    return x[:, -1] @ params["W_U"][0]


@pytest.mark.parametrize("n_layers, rate", [(1, 1.0), (2, 1.0), (1, 0.0), (2, 0.4)])
def test_last_position_fast_path_equals_full_computation(n_layers, rate):
    cfg = ModelConfig(arch="transformer", n_layers=n_layers, d_model=32, n_heads=4, d_mlp=64,
                      attention_rate=rate)
    model = build_model(cfg, 13)
    params = model.init([3])
    with torch.no_grad():  # non-zero biases so they are exercised
        for name, p in params.items():
            if ".b_" in name:
                p.normal_()
    a, b = torch.randint(0, 13, (40,)), torch.randint(0, 13, (40,))
    torch.testing.assert_close(model.forward(params, a, b)[0], _reference_transformer(model, params, a, b),
                               rtol=1e-4, atol=1e-5)


def test_zero_attention_rate_gives_uniform_attention():
    cfg = ModelConfig(arch="transformer", d_model=16, n_heads=2, d_mlp=16, attention_rate=0.0)
    model = build_model(cfg, 7)
    params, cache = model.init([0]), {}
    model.forward(params, torch.arange(7), torch.arange(7), cache=cache)
    torch.testing.assert_close(cache["blocks.0.attn.hook_pattern"], torch.full_like(cache["blocks.0.attn.hook_pattern"], 1 / 3))


@pytest.mark.parametrize("inp", ["tied_embed", "embed_concat"])
def test_reassociated_embedding_products_equal_the_straightforward_order(inp):
    """The engine multiplies the n-row embedding table by W_in (and W_out by W_Eᵀ) once per step;
    logits and every gradient equal the per-pair order written out here, in float64 (measured
    max relative difference ~1e-15; 1e-10 allowed)."""
    p, cfg = 13, ModelConfig(input=inp, d_embed=20, d_mlp=8, bias=True)
    model = build_model(cfg, p)
    params = {k: v.detach().double().requires_grad_(True) for k, v in model.init([0, 1]).items()}
    a, b = torch.randint(0, p, (2, 50)), torch.randint(0, p, (2, 50))
    y = torch.randint(0, p, (2, 50))
    ours = model.forward(params, a, b)
    E = params["W_E"]
    ea, eb = E[torch.arange(2)[:, None], a], E[torch.arange(2)[:, None], b]  # [K, B, d_embed] per pair
    if inp == "tied_embed":
        pre = (ea + eb) @ params["W_in"] + params["b_in"][:, None]
        ref = (torch.relu(pre) @ params["W_out"]) @ E.transpose(1, 2) + params["b_out"][:, None]
    else:
        pre = ea @ params["W_in_a"] + eb @ params["W_in_b"] + params["b_in"][:, None]
        ref = torch.relu(pre) @ params["W_out"] + params["b_out"][:, None]
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    loss = lambda logits: torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())  # noqa: E731
    g_ours = torch.autograd.grad(loss(ours), list(params.values()))
    g_ref = torch.autograd.grad(loss(ref), list(params.values()))
    for name, go, gr in zip(params, g_ours, g_ref):
        torch.testing.assert_close(go, gr, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("inp", ["two_hot", "shared", "tied_embed", "embed_concat"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shared_idx", [True, False])
def test_fused_relu_hidden_layer_equals_the_unfused_one(inp, bias, shared_idx):
    """Training forwards (no cache) run the hidden layer as one fused node with a hand-written
    backward; logits and every gradient equal the autograd composition the cache path uses, in
    float64 (measured max difference ~1e-16; 1e-12 allowed), for one index set shared by the
    stack ([B]) and per-model indices ([K, B])."""
    p, K = 13, 3
    model = build_model(ModelConfig(input=inp, d_embed=10, d_mlp=8, bias=bias), p)
    params = {k: v.detach().double().requires_grad_(True) for k, v in model.init([0, 1, 2]).items()}
    shape = (50,) if shared_idx else (K, 50)
    a, b = torch.randint(0, p, shape), torch.randint(0, p, shape)
    fused = model.forward(params, a, b)
    unfused = model.forward(params, a, b, cache={})
    torch.testing.assert_close(fused, unfused, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(fused)  # a generic upstream gradient
    g_fused = torch.autograd.grad((fused * weights).sum(), list(params.values()))
    g_unfused = torch.autograd.grad((unfused * weights).sum(), list(params.values()))
    for name, gf, gu in zip(params, g_fused, g_unfused):
        torch.testing.assert_close(gf, gu, rtol=1e-12, atol=1e-12, msg=name)


@pytest.mark.parametrize("n_layers, rate, ln", [(1, 1.0, False), (2, 1.0, True), (1, 0.4, True), (2, 0.0, False)])
@pytest.mark.parametrize("shared_idx", [True, False])
def test_first_layer_lookup_tables_equal_the_per_pair_projections(n_layers, rate, ln, shared_idx):
    """Training forwards gather layer 0's q/k/v from 2n+1 precomputed rows; logits and every
    gradient equal the per-pair projections the cache path computes, in float64 (1e-12)."""
    p, K = 11, 2
    cfg = ModelConfig(arch="transformer", n_layers=n_layers, d_model=16, n_heads=2, d_mlp=24,
                      attention_rate=rate, layer_norm=ln)
    model = build_model(cfg, p)
    params = {k: v.detach().double().requires_grad_(True) for k, v in model.init([0, 1]).items()}
    with torch.no_grad():  # non-trivial LN gains and biases
        for name, t in params.items():
            if name.endswith((".w", ".b")) or ".b_" in name:
                t.add_(0.3 * torch.randn_like(t))
    shape = (30,) if shared_idx else (K, 30)
    a, b = torch.randint(0, p, shape), torch.randint(0, p, shape)
    fast, slow = model.forward(params, a, b), model.forward(params, a, b, cache={})
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(fast)
    g_fast = torch.autograd.grad((fast * weights).sum(), list(params.values()))
    g_slow = torch.autograd.grad((slow * weights).sum(), list(params.values()))
    for name, gf, gs in zip(params, g_fast, g_slow):
        torch.testing.assert_close(gf, gs, rtol=1e-12, atol=1e-12, msg=name)
