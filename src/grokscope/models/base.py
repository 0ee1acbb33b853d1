"""What every model shares: stacked parameters with a leading ensemble axis K, seeded init, and
the views analysis and reports ask of a family.

A model object holds no tensors. `init(seeds)` returns a dict of parameters, each [K, ...], and
`forward(params, a, b)` maps operand indices to logits [K, B, n_out]. Model k of a stack is
initialised from its own generator, so it is identical whatever K it is trained in.

Views take ONE model's parameters (no K axis; `analysis.views.unstack`) and return float64
numpy arrays, so analysis and reports never branch on the architecture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from grokscope.config import ACTIVATIONS, FAMILIES, ModelConfig
from grokscope.errors import GrokscopeError

Params = dict[str, torch.Tensor]
# name -> (shape without K, init std or None for default U(±1/sqrt(fan_in)), fan_in)
Spec = dict[str, tuple[tuple[int, ...], float | None, int]]

ACTIVATIONS.register("relu")(torch.relu)  # model.act (the names are declared in grokscope.config)
ACTIVATIONS.register("gelu")(F.gelu)
ACTIVATIONS.register("quadratic")(torch.square)


def to_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """float64 numpy copy of a tensor or array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


class StackedModel:
    """Base class of a family: subclasses define `spec()`, `forward()` and the views below."""

    # TransformerLens-style names of the activations `forward(..., cache=...)` records
    hook_names: tuple[str, ...] = ()
    # analysis measures (names in grokscope.analysis.measures) this family runs by default
    measures: tuple[str, ...] = ("progress", "neurons", "numerics", "idealized")
    # the run report's panels that apply to this family; the report leaves every other one out:
    # clock (embedding circle), spectrum (per-frequency norms), waves (neuron square / cosine fits),
    # phase_sum, fourier (weights in the Fourier basis), phases (Nanda et al.'s phase rules, defined
    # for their one-layer transformer), algorithms (Zhong et al.'s clock vs pizza)
    report_panels: tuple[str, ...] = ("spectrum", "waves", "phase_sum", "fourier")

    def __init__(self, cfg: ModelConfig, n: int, n_out: int):
        self.cfg = cfg
        self.n = n  # operand vocabulary (p, or 120 for S5)
        self.n_out = n_out
        self.act = ACTIVATIONS.get(cfg.act)

    def spec(self) -> Spec:
        raise NotImplementedError

    def forward(
        self, params: Params, a: torch.Tensor, b: torch.Tensor, cache: dict | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def run_with_cache(
        self, params: Params, *inputs: torch.Tensor, names: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """TransformerLens-style: (logits [K, B, n_out], {hook name: activation [K, B, ...]}) for the
        family's forward inputs (operands a, b; a dense family's x).

        Works on any stack (K models at once; one model of a run has K = 1). `names` keeps only
        those hooks (default: every name in `hook_names`); an unknown name is a GrokscopeError
        naming the valid ones. Activations keep their graph: detach them if you do not need it.
        """
        if names is not None:
            unknown = [n for n in names if n not in self.hook_names]
            if unknown:
                raise GrokscopeError(
                    f"unknown hook name {unknown[0]!r} for {self.describe()}; valid: {', '.join(self.hook_names)}"
                )
        cache: dict[str, torch.Tensor] = {}
        logits = self.forward(params, *inputs, cache=cache)
        keep = self.hook_names if names is None else names
        return logits, {n: cache[n] for n in keep}

    def config_fields(self) -> tuple[str, ...]:
        """The ModelConfig fields this model reads: its family's (`FAMILIES`), less init_std unless
        init = "normal" (what reports show of the model config)."""
        return tuple(f for f in FAMILIES.get(self.cfg.arch).fields if f != "init_std" or self.cfg.init == "normal")

    # ------------------------------------------------------------------ views
    def describe(self) -> str:
        """One line naming the architecture (report subtitles)."""
        raise NotImplementedError

    def embedding(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        """Operand embeddings [n, d], rows indexed by residue."""
        raise NotImplementedError

    @property
    def has_embedding(self) -> bool:
        """Whether the operands go through a learned embedding table W_E first."""
        return False

    @property
    def input_tables(self) -> tuple[str, str]:
        """Names of the parameters whose rows a and b select (the operands' input embeddings)."""
        raise NotImplementedError

    def neuron_input_weights(self, params: Mapping[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """Each analysed hidden neuron's direct weight on operand a and on b -> ([n, d_mlp], [n, d_mlp])."""
        raise NotImplementedError

    def neuron_output_weights(self, params: Mapping[str, torch.Tensor]) -> np.ndarray:
        """W_L: each analysed (last-layer) neuron's effect on the logits -> [d_mlp, n_out]."""
        raise NotImplementedError

    W_L_formula: str = "W_out"  # how W_L is formed, for figure titles
    # what `neuron_input_weights` (a, b) and `neuron_output_weights` show, for figure labels
    neuron_labels: tuple[str, str, str] = ("W_a", "W_b", "W_out")

    def neuron_slices(self) -> tuple[list[str], list[str], list[str]]:
        """Parameters of the analysed neurons: (neuron on the last axis, neuron on axis 1, biases),
        names of stacked params; zeroing these slices removes a neuron (pruning)."""
        raise NotImplementedError

    # ------------------------------------------------------------------- init
    def init(self, seeds: Sequence[int], device: str | torch.device = "cpu") -> Params:
        """Parameters for len(seeds) models, stacked on a leading axis."""
        per_model = [self._init_one(seed) for seed in seeds]
        return {
            name: torch.stack([p[name] for p in per_model]).to(device).requires_grad_(True)
            for name in per_model[0]
        }

    def _init_one(self, seed: int) -> Params:
        gen = torch.Generator().manual_seed(int(seed))
        out = {}
        for name, (shape, std, fan_in) in self.spec().items():
            if name.endswith(("ln.w", "ln1.w", "ln2.w", "ln_final.w")):
                out[name] = torch.ones(shape)
                continue
            if name.endswith(("ln.b", "ln1.b", "ln2.b", "ln_final.b")):
                out[name] = torch.zeros(shape)
                continue
            if self.cfg.init == "normal":
                std = self.cfg.init_std
            if std is None:
                bound = 1.0 / math.sqrt(fan_in)
                t = torch.empty(shape).uniform_(-bound, bound, generator=gen)
            elif std == 0.0:
                t = torch.zeros(shape)
            elif self.cfg.init == "truncated":  # haiku's TruncatedNormal: N(0, std²) cut at ±2 std
                t = torch.nn.init.trunc_normal_(torch.empty(shape), 0.0, std, -2 * std, 2 * std, generator=gen)
            else:
                t = torch.randn(shape, generator=gen) * std
            out[name] = t * self.cfg.init_scale
        return out


class _RowGather(torch.autograd.Function):
    """rows = W[idx] with a dense index-add backward.

    F.embedding's CPU backward sorts the indices first; a plain index_add_ into a zero matrix
    is 1.5–3x faster for the small tables here (measured in the issue-5 profile).
    """

    @staticmethod
    def forward(ctx, W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(idx)
        ctx.table_shape = W.shape
        return W.index_select(0, idx)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (idx,) = ctx.saved_tensors
        grad_W = torch.zeros(ctx.table_shape, dtype=grad.dtype, device=grad.device)
        return grad_W.index_add_(0, idx, grad), None


def gather_rows(W: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Per-model row lookup: W [K, n, d], idx [K, B] or [B] -> [K, B, d].

    This is the fast path for one-hot inputs: a two-hot matmul is two row lookups, done on the
    flattened stack [K * n, d] with each model's indices offset by k * n.
    """
    K, n, d = W.shape
    B = idx.shape[-1]
    return _RowGather.apply(W.reshape(K * n, d), flat_rows(idx, K, n)).view(K, B, d)


def flat_rows(idx: torch.Tensor, K: int, n: int) -> torch.Tensor:
    """[K, B] or [B] row indices per model -> [K*B] indices into the flattened [K*n] table
    (model k's indices offset by k*n)."""
    if idx.dim() == 1:
        idx = idx.unsqueeze(0).expand(K, -1)
    return (idx + (torch.arange(K, device=idx.device) * n).unsqueeze(1)).reshape(-1)
