"""TransformerLens, both ways, tested against TransformerLens itself (the `tl` extra; CI installs it,
so there a missing package fails instead of skipping)."""

from __future__ import annotations

import os

import pytest
import torch
from tests.helpers import tiny_mlp, tiny_transformer

from grokscope.errors import GrokscopeError
from grokscope.models import build_model

if os.environ.get("CI"):
    import transformer_lens  # noqa: F401  (CI must run these: a missing extra is a failure)
else:
    pytest.importorskip("transformer_lens")

from grokscope.interop.transformer_lens import from_transformer_lens, to_transformer_lens, tokens  # noqa: E402

P = 7
A, B = (torch.arange(P * P) // P), (torch.arange(P * P) % P)  # every pair
PRESETS = {  # every transformer shape grokscope has: 1/2 layers, LN on/off, attention rate 1 and < 1
    "1L": [],
    "1L-LN": ["model.layer_norm=true"],
    "2L": ["model.n_layers=2"],
    "2L-LN-gelu": ["model.n_layers=2", "model.layer_norm=true", "model.act=gelu"],
    "1L-rate0.3": ["model.attention_rate=0.3"],
    "2L-rate0-pizza": ["model.n_layers=2", "model.attention_rate=0.0"],
}


def _model_params(sets, seed=3):
    cfg = tiny_transformer(*sets)
    model = build_model(cfg.model, P)
    params = {k: v.detach().double() for k, v in model.init([seed]).items()}
    with torch.no_grad():  # non-trivial LN and MLP biases, so a mis-mapped one shows
        for k, v in params.items():
            if k.endswith(("ln1.w", "ln2.w", "ln_final.w", ".b", "b_in", "b_out")):
                v.add_(0.1 * torch.randn(v.shape, dtype=v.dtype))
    return cfg, model, params


@pytest.mark.parametrize("name", list(PRESETS))
def test_tl_logits_and_activations_equal_ours_on_every_pair(name):
    """float64: TL's last-position logits equal ours on all p^2 pairs to 1e-10; so do the
    activations both record under the same hook name (last position of the last block)."""
    cfg, model, params = _model_params(PRESETS[name])
    ours, cache = model.run_with_cache(params, A, B)
    bridge = to_transformer_lens(model, params)
    theirs, tl_cache = bridge.run_with_cache(tokens(A, B, P))
    torch.testing.assert_close(theirs[:, -1], ours[0], rtol=0, atol=1e-10)
    last = cfg.model.n_layers - 1
    for hook in (f"blocks.{last}.attn.hook_pattern", f"blocks.{last}.mlp.hook_post", "blocks.0.hook_resid_pre",
                 "hook_embed", f"blocks.{last}.hook_resid_post"):
        mine, tl = cache[hook][0], tl_cache[hook]
        if hook.endswith("hook_pattern"):
            tl = tl[:, :, -1:]  # [batch, head, query, key]: our last block has the last query only
        elif mine.shape[1] == 1:
            tl = tl[:, -1:]
        torch.testing.assert_close(tl, mine, rtol=0, atol=1e-10, msg=hook)


def test_attention_rate_below_one_is_a_permanent_pattern_hook():
    """TL has no component for Zhong's attention rate: without the exported hook the logits differ."""
    _, model, params = _model_params(PRESETS["1L-rate0.3"])
    bridge = to_transformer_lens(model, params)
    bridge.reset_hooks()  # a permanent hook survives this
    torch.testing.assert_close(bridge(tokens(A, B, P))[:, -1], model.forward(params, A, B)[0], rtol=0, atol=1e-10)
    bridge.reset_hooks(including_permanent=True)
    assert (bridge(tokens(A, B, P))[:, -1] - model.forward(params, A, B)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["1L-LN", "2L-rate0-pizza"])
def test_round_trip_returns_the_same_weights_and_config(name):
    cfg, model, params = _model_params(PRESETS[name])
    cfg2, back = from_transformer_lens(to_transformer_lens(model, params), cfg)
    assert cfg2 == cfg  # the rate comes back too (the bridge was made here)
    for k, v in params.items():
        assert torch.equal(back[k], v), k


def test_a_tl_made_model_loads_into_grokscope_and_trains_on(tmp_path):
    """A TransformerBridge built by TL itself (its own init) of a matching shape: grokscope reproduces
    its logits, and `api.run(init=...)` starts exactly from its weights and trains."""
    from transformer_lens import TransformerBridge, TransformerBridgeConfig

    from grokscope import api

    cfg = tiny_transformer("model.layer_norm=true", "train.steps=40")
    tl_cfg = TransformerBridgeConfig(
        d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32, n_ctx=3, d_vocab=P + 1, d_vocab_out=P,
        act_fn="relu", normalization_type="LN", architecture="TransformerLensNative", default_prepend_bos=False, seed=1)
    bridge = TransformerBridge.boot_native(tl_cfg)
    cfg2, params = from_transformer_lens(bridge, cfg)
    model = build_model(cfg2.model, P)
    with torch.no_grad():
        torch.testing.assert_close(model.forward(params, A, B)[0], bridge(tokens(A, B, P))[:, -1], rtol=1e-5, atol=1e-5)
    run = api.run(cfg2, tmp_path, init=params)
    first, final = run.params("first"), run.params("final")
    assert run.checkpoint_steps()[0] == 0 and run.summary["steps"] == 40
    for k, v in params.items():
        assert torch.equal(first[k], v.float()), k  # the step-0 checkpoint is the TL model
    assert any(not torch.equal(final[k], first[k]) for k in first)  # and it trained
    rows = run.rows()
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_run_to_transformer_lens_matches_the_run_logits(tmp_path):
    from grokscope import api

    run = api.run(tiny_transformer("train.steps=20"), tmp_path)
    bridge = run.to_transformer_lens("final")
    with torch.no_grad():
        ours = run.logits("final")
        theirs = bridge(tokens(torch.from_numpy(run.task().a), torch.from_numpy(run.task().b), P))[:, -1]
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-5)  # float32 checkpoint, two summation orders


def test_shapes_grokscope_cannot_represent_are_one_line_errors():
    from transformer_lens import TransformerBridge, TransformerBridgeConfig

    cfg = tiny_transformer()
    base = dict(d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32, n_ctx=3, d_vocab=P + 1, d_vocab_out=P,
                act_fn="relu", normalization_type=None, architecture="TransformerLensNative",
                default_prepend_bos=False, seed=0)
    cases = {
        "n_ctx": dict(n_ctx=4),
        "act_fn": dict(act_fn="silu"),
        "normalization_type": dict(normalization_type="RMS"),
        "vocabulary": dict(d_vocab=P + 3),
        "positional_embedding_type": dict(positional_embedding_type="rotary"),
    }
    for needle, change in cases.items():
        bridge = TransformerBridge.boot_native(TransformerBridgeConfig(**{**base, **change}))
        with pytest.raises(GrokscopeError, match=needle) as e:
            from_transformer_lens(bridge, cfg)
        assert "\n" not in str(e.value)
    bridge = TransformerBridge.boot_native(TransformerBridgeConfig(**base))
    from_transformer_lens(bridge, cfg)  # TL's own init has zero attention biases: this one loads
    with torch.no_grad():
        bridge.state_dict()["blocks.0.attn.q.bias"].add_(0.5)  # state_dict tensors share the storage
    with pytest.raises(GrokscopeError, match="q.bias is non-zero"):
        from_transformer_lens(bridge, cfg)


def test_export_refusals():
    quad = tiny_transformer("model.act=quadratic")
    model = build_model(quad.model, P)
    with pytest.raises(GrokscopeError, match="quadratic"):
        to_transformer_lens(model, model.init([0]))
    mlp = build_model(tiny_mlp().model, 11)
    with pytest.raises(GrokscopeError, match="only transformers"):
        to_transformer_lens(mlp, mlp.init([0]))


def test_missing_tl_extra_is_one_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformer_lens", None)  # as if the extra were not installed
    model = build_model(tiny_transformer().model, P)
    with pytest.raises(GrokscopeError, match=r"needs the tl extra: pip install 'grokscope\[tl\]'"):
        to_transformer_lens(model, model.init([0]))
