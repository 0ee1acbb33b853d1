"""TransformerLens, both ways (the `tl` extra: transformer-lens 4.x).

TransformerLens 4 removed `HookedTransformer`; its replacement for a from-scratch model is the
TL-native `TransformerBridge` (`TransformerBridge.boot_native(cfg)`), with the same hook names,
`run_with_cache`, `W_Q` views and the legacy weight layout via `convert_tl_checkpoint`. So:

- `to_transformer_lens(model, params)` -> a `TransformerBridge` whose logits at the last position
  of the tokens `[a, b, =]` (token id n for '=') equal grokscope's (tested in float64 to 1e-10
  for 1 and 2 layers, LN on and off, attention rate 1 and < 1).
- Mapping: our transformer is TL's own layout already (W_E [d_vocab, d_model], W_pos [3, d_model],
  W_Q/K/V [n_heads, d_model, d_head], W_O [n_heads, d_head, d_model], W_in/W_out/b_in/b_out, LN
  w/b with eps 1e-5, W_U [d_model, n_out]); TL's attention biases b_Q/K/V/O and b_U are set to 0
  (ours has none). Causal attention, scores / sqrt(d_head), as TL.
- attention rate r < 1 (Zhong's pizza knob) has no TL component: it is exported as a permanent
  forward hook on every `blocks.{i}.attn.hook_pattern` returning r * pattern + (1 - r) * uniform
  (over the positions a query may see). It survives `reset_hooks()` and shows in the cache, but
  not in `state_dict()`; `from_transformer_lens` reads r back from the bridge only when it was made
  here (`bridge.grokscope_attention_rate`), else from its argument.
- The activation function must be relu or gelu (TL has no quadratic).
- `from_transformer_lens(bridge, cfg)` -> (cfg with the bridge's shape, params [1, ...]) that
  `grokscope.api.run(cfg, init=params)` trains on. A bridge grokscope cannot represent (non-zero
  attention or unembedding biases, rotary, gated MLP, other n_ctx/vocabulary, ...) is refused with
  a GrokscopeError naming the field and what would work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from grokscope.config import RunConfig
from grokscope.errors import GrokscopeError
from grokscope.models import Params, StackedModel, build_model
from grokscope.models.transformer import N_CTX

if TYPE_CHECKING:  # the extra is optional: only annotations name its types
    from transformer_lens import TransformerBridge

TL_ACTS = ("relu", "gelu")  # our activations TL's native MLP has (F.relu / F.gelu, exact)
LN_EPS = 1e-5  # F.layer_norm's default, which our transformer uses


def _tl() -> Any:
    """The transformer_lens package with its native source registered, or a one-line error."""
    try:
        import transformer_lens
        import transformer_lens.model_bridge.sources.native  # noqa: F401  (attaches boot_native)
    except ImportError:
        raise GrokscopeError(
            "TransformerLens export needs the tl extra: pip install 'grokscope[tl]'"
        ) from None
    return transformer_lens


def _one(params: Mapping[str, torch.Tensor], spec: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """One model's weights without the K axis (accepts K = 1 stacks)."""
    out = {}
    for name, (shape, *_) in spec.items():
        t = params[name].detach()
        if t.dim() == len(shape) + 1:
            if t.shape[0] != 1:
                raise GrokscopeError(f"params hold {t.shape[0]} models; pass one (params[k:k+1])")
            t = t[0]
        out[name] = t
    return out


def bridge_config(model: StackedModel) -> Any:
    """The TransformerBridgeConfig of a grokscope transformer (raises for what TL cannot express)."""
    c = model.cfg
    if c.arch != "transformer":
        raise GrokscopeError(f"only transformers export to TransformerLens; this is {model.describe()} "
                             "(use run.model(step).run_with_cache for TL-named activations of any family)")
    if c.act not in TL_ACTS:
        raise GrokscopeError(f"model.act = {c.act!r} has no TransformerLens activation; export works for "
                             f"{' or '.join(TL_ACTS)}")
    tl = _tl()
    return tl.TransformerBridgeConfig(
        d_model=c.d_model, n_layers=c.n_layers, n_heads=c.n_heads, d_head=model.d_head, d_mlp=c.d_mlp,
        n_ctx=N_CTX, d_vocab=model.d_vocab, d_vocab_out=model.n_out, act_fn=c.act,
        normalization_type="LN" if c.layer_norm else None, positional_embedding_type="standard",
        attention_dir="causal", eps=LN_EPS, default_prepend_bos=False,
        architecture="TransformerLensNative", seed=0,
    )


def to_transformer_lens(
    model: StackedModel, params: Mapping[str, torch.Tensor], dtype: torch.dtype | None = None
) -> TransformerBridge:
    """A TL-native `TransformerBridge` computing `model` with `params` (one model; K = 1 stacks ok).

    Feed it tokens `[a, b, n]` ([batch, 3], n = the '=' token): `bridge(tokens)[:, -1]` equals
    `model.forward(params, a, b)[0]`. `dtype` defaults to the parameters' dtype.
    """
    cfg = bridge_config(model)
    tl = _tl()
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    c, p = model.cfg, _one(params, model.spec())
    dtype = dtype or p["W_E"].dtype
    H, dh, dm = c.n_heads, model.d_head, c.d_model
    zeros = lambda *shape: torch.zeros(shape, dtype=p["W_E"].dtype)  # noqa: E731
    sd = {"embed.W_E": p["W_E"], "pos_embed.W_pos": p["W_pos"], "unembed.W_U": p["W_U"], "unembed.b_U": zeros(model.n_out)}
    for i in range(c.n_layers):
        pre = f"blocks.{i}."
        sd.update({pre + f"attn.{w}": p[pre + f"attn.{w}"] for w in ("W_Q", "W_K", "W_V", "W_O")})
        sd.update({pre + "attn.b_Q": zeros(H, dh), pre + "attn.b_K": zeros(H, dh), pre + "attn.b_V": zeros(H, dh),
                   pre + "attn.b_O": zeros(dm)})
        sd.update({pre + f"mlp.{w}": p[pre + f"mlp.{w}"] for w in ("W_in", "b_in", "W_out", "b_out")})
        if c.layer_norm:
            sd.update({pre + f"{ln}.{wb}": p[pre + f"{ln}.{wb}"] for ln in ("ln1", "ln2") for wb in ("w", "b")})
    if c.layer_norm:
        sd.update({"ln_final.w": p["ln_final.w"], "ln_final.b": p["ln_final.b"]})
    bridge = tl.TransformerBridge.boot_native(cfg, dtype=dtype)
    bridge.load_state_dict({k: v.to(dtype) for k, v in convert_tl_checkpoint(sd, cfg).items()}, strict=True)
    rate = float(c.attention_rate)
    if rate < 1.0:
        for i in range(c.n_layers):
            bridge.add_hook(f"blocks.{i}.attn.hook_pattern", _rate_hook(rate), is_permanent=True)
    bridge.grokscope_attention_rate = rate
    return bridge


def _rate_hook(rate: float):
    """r * softmax pattern + (1 - r) * uniform over the allowed (causal) keys, as our forward does."""

    def hook(pattern: torch.Tensor, hook: Any = None) -> torch.Tensor:
        q, k = pattern.shape[-2:]
        allowed = torch.ones(q, k, dtype=torch.bool, device=pattern.device).tril(k - q)
        uniform = allowed / allowed.sum(dim=-1, keepdim=True)  # default dtype, exactly as models/transformer.py
        return rate * pattern + (1.0 - rate) * uniform

    return hook


# TL config fields grokscope's transformer fixes: (field, required value, what it means)
_FIXED = (
    ("n_ctx", N_CTX, "the tokens a b ="),
    ("positional_embedding_type", "standard", "learned W_pos"),
    ("attention_dir", "causal", "causal attention"),
    ("attn_only", False, "an MLP in every block"),
    ("gated_mlp", False, "a plain (ungated) MLP"),
    ("final_rms", False, "LayerNorm (not RMS) at the end"),
    ("parallel_attn_mlp", False, "attention then MLP"),
    ("n_key_value_heads", None, "one K/V per head"),
    ("attn_scores_soft_cap", -1.0, "no soft cap"),
    ("output_logits_soft_cap", -1.0, "no soft cap"),
)


def from_transformer_lens(
    bridge: Any, cfg: RunConfig, attention_rate: float | None = None
) -> tuple[RunConfig, Params]:
    """(cfg with the bridge's shape, its weights stacked K = 1) to train on in grokscope.

    `cfg` gives the task, optimizer and training settings; its model fields are replaced by the
    bridge's (n_layers, d_model, n_heads, d_mlp, act, layer_norm). The task must match the
    vocabulary: d_vocab = p + 1 (the '=' token last), d_vocab_out = the task's classes.
    """
    tl = _tl()
    if not isinstance(bridge, tl.TransformerBridge):
        raise GrokscopeError(f"expected a transformer_lens TransformerBridge, got {type(bridge).__name__}")
    t = bridge.cfg

    def refuse(what: str) -> GrokscopeError:
        return GrokscopeError(f"cannot load this TransformerLens model: {what}")

    for field, want, meaning in _FIXED:
        have = getattr(t, field, want)
        if have != want:
            raise refuse(f"cfg.{field} = {have!r}, grokscope's transformer needs {want!r} ({meaning})")
    norm = (t.normalization_type or "").upper() or None
    if norm not in (None, "LN"):
        raise refuse(f"normalization_type = {t.normalization_type!r}; grokscope has 'LN' or None")
    if norm == "LN" and t.eps != LN_EPS:
        raise refuse(f"cfg.eps = {t.eps}; grokscope's LayerNorm uses {LN_EPS}")
    if t.act_fn not in TL_ACTS:
        raise refuse(f"act_fn = {t.act_fn!r}; grokscope has {' or '.join(TL_ACTS)} (TL's gelu = exact erf GELU)")
    if t.d_head * t.n_heads != t.d_model:
        raise refuse(f"d_head * n_heads = {t.d_head * t.n_heads} != d_model = {t.d_model}")
    if t.use_attn_scale is False or (t.attn_scale > 0 and abs(t.attn_scale - t.d_head ** 0.5) > 1e-9):
        raise refuse(f"attention scale {t.attn_scale}; grokscope divides scores by sqrt(d_head)")
    if not 1 <= t.n_layers <= 2:
        raise refuse(f"n_layers = {t.n_layers}; grokscope's transformer has 1 or 2")
    task_cfg = cfg.task
    rate = attention_rate if attention_rate is not None else getattr(bridge, "grokscope_attention_rate", 1.0)
    model_cfg = dataclasses.replace(
        cfg.model, arch="transformer", n_layers=t.n_layers, d_model=t.d_model, n_heads=t.n_heads,
        d_mlp=t.d_mlp, act=t.act_fn, layer_norm=norm == "LN", attention_rate=float(rate))
    new = RunConfig.from_dict({**cfg.to_dict(), "model": dataclasses.asdict(model_cfg)})
    from grokscope.tasks import make_task

    task = make_task(task_cfg)
    model = build_model(new.model, task.n_in, task.n_out)
    if t.d_vocab != model.d_vocab or t.d_vocab_out != model.n_out:
        raise refuse(f"vocabulary {t.d_vocab} in / {t.d_vocab_out} out, but the task needs {model.d_vocab} in "
                     f"(n = {task.n} operands + '=') / {model.n_out} out")
    sd = {k: v.detach() for k, v in bridge.state_dict().items()}
    p = _params_from_bridge_state(sd, model)
    spec = model.spec()
    for name, (shape, *_) in spec.items():
        if name not in p or tuple(p[name].shape) != tuple(shape):
            raise refuse(f"weight {name} missing or of shape {tuple(p.get(name, torch.empty(0)).shape)}, "
                         f"expected {tuple(shape)}")
    return new, {name: p[name].unsqueeze(0).clone() for name in spec}


def _params_from_bridge_state(sd: Mapping[str, torch.Tensor], model: StackedModel) -> dict[str, torch.Tensor]:
    """Inverse of `convert_tl_checkpoint` for the native layout; zero-only biases are dropped."""
    c = model.cfg
    H, dh, dm = c.n_heads, model.d_head, c.d_model

    def get(key: str) -> torch.Tensor:
        if key not in sd:
            raise GrokscopeError(f"cannot load this TransformerLens model: it has no {key!r} "
                                 "(not a TL-native TransformerBridge of grokscope's shape)")
        return sd[key]

    def must_be_zero(key: str) -> None:
        if key in sd and bool(sd[key].abs().max() > 0):
            raise GrokscopeError(f"cannot load this TransformerLens model: {key} is non-zero and grokscope's "
                                 "transformer has no such bias (zero it, or keep training in TL)")

    p = {"W_E": get("embed.weight"), "W_pos": get("pos_embed.weight"), "W_U": get("unembed.weight").T}
    must_be_zero("unembed.bias")
    for i in range(c.n_layers):
        pre = f"blocks.{i}."
        for w, key in (("W_Q", "q"), ("W_K", "k"), ("W_V", "v")):  # [(h e), d] -> [h, d, e]
            p[pre + f"attn.{w}"] = get(pre + f"attn.{key}.weight").reshape(H, dh, dm).transpose(1, 2)
            must_be_zero(pre + f"attn.{key}.bias")
        p[pre + "attn.W_O"] = get(pre + "attn.o.weight").T.reshape(H, dh, dm)  # [d, (h e)] -> [h, e, d]
        must_be_zero(pre + "attn.o.bias")
        p[pre + "mlp.W_in"], p[pre + "mlp.b_in"] = get(pre + "mlp.in.weight").T, get(pre + "mlp.in.bias")
        p[pre + "mlp.W_out"], p[pre + "mlp.b_out"] = get(pre + "mlp.out.weight").T, get(pre + "mlp.out.bias")
        if c.layer_norm:
            for ln in ("ln1", "ln2"):
                p[pre + f"{ln}.w"], p[pre + f"{ln}.b"] = get(pre + f"{ln}.weight"), get(pre + f"{ln}.bias")
    if c.layer_norm:
        p["ln_final.w"], p["ln_final.b"] = get("ln_final.weight"), get("ln_final.bias")
    return {k: v.contiguous() for k, v in p.items()}


def tokens(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """The TL input for operand pairs: [batch, 3] rows `a b =` ('=' is token n)."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return torch.stack([a, b, torch.full_like(a, n)], dim=-1)
