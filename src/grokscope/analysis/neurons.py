"""Per-neuron structure: IPR, periodicity score, dominant frequency/phase, square-vs-cosine fit,
binariness, and the phase-sum relation φ_out = φ_a + φ_b (Gromov 2023, Doshi 2024, Swaroop 2026).

DFT convention: numpy's X_k = Σ_j w_j e^{−2πikj/p}. A weight vector w_j = A cos(2πνj/p − φ) + ε
has X_ν = (A·p/2)·e^{−iφ}, so the phase is φ = −arg X_ν and the amplitude A = 2|X_ν|/p. The
dominant frequency ν is the argmax of |X_k| over k = 1..p//2 (DC excluded).

Vectors: for neuron i, W_a[:, i] and W_b[:, i] (weights on operand a / b, indexed by residue)
and W_out[i, :] (its effect on each logit; W_L = W_out·W_U for a transformer).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from grokscope.analysis.fourier import AnalysisError, Array
from grokscope.analysis.measures import Checkpoint, register
from grokscope.analysis.views import neuron_input_weights, neuron_output_weights
from grokscope.config import ModelConfig

log = logging.getLogger(__name__)

STRUCTURED_HI = 12.0  # Swaroop's thresholds at p = 97
UNSTRUCTURED_LO = 5.0
N_NEURONS_SHOWN = 4  # neurons a picture of the waves shows (`readable_neurons`)


# ---------------------------------------------------------------- spectra


def ipr(x: Array, convention: str = "rfft", axis: int = -1) -> Array:
    """Inverse participation ratio Σ|x̃_j|⁴ / (Σ|x̃_j|²)² of the DFT x̃ along `axis`.

    convention 'rfft' (Doshi et al.'s code): one-sided |rfft(x)| including DC — a zero-mean cosine
    scores 1.0, Gaussian noise about 2/p. convention 'full' (the paper's stated range [1/p, 1]):
    the full complex DFT — a cosine scores 0.5.
    """
    x = np.asarray(x, dtype=np.float64)
    if convention == "rfft":
        mag = np.abs(np.fft.rfft(x, axis=axis))
    elif convention == "full":
        mag = np.abs(np.fft.fft(x, axis=axis))
    else:
        raise AnalysisError(f"IPR convention must be 'rfft' or 'full', got {convention!r}")
    sq = mag**2
    denom = sq.sum(axis=axis) ** 2
    return np.where(denom > 0, (sq**2).sum(axis=axis) / np.where(denom > 0, denom, 1.0), 0.0)


def neuron_ipr(W_a: Array, W_b: Array, W_out: Array, convention: str = "rfft") -> Array:
    """Per-neuron IPR_i = ⅓(IPR(W_a[:, i]) + IPR(W_b[:, i]) + IPR(W_out[i, :])) -> [d_mlp]."""
    return (ipr(W_a, convention, axis=0) + ipr(W_b, convention, axis=0) + ipr(W_out, convention, axis=1)) / 3


def model_neuron_ipr(params: Mapping[str, torch.Tensor], cfg: ModelConfig, n: int, convention: str = "rfft") -> Array:
    """`neuron_ipr` of one model's weights (no K axis) -> [d_mlp]."""
    W_a, W_b = neuron_input_weights(params, cfg, n)
    return neuron_ipr(W_a, W_b, neuron_output_weights(params, cfg), convention)


def periodicity_score(w: Array, axis: int = -1) -> Array:
    """Swaroop's Eq. 1: max_{k=1..p−1} |ŵ_k| / mean_{k=1..p−1} |ŵ_k| (full DFT, DC excluded).

    A pure cosine scores (p−1)/2 (48 at p = 97), an ideal sign∘cos ≈ 15.8 at p = 97: the score
    measures single-frequency dominance, not squareness.
    """
    mag = np.abs(np.fft.fft(np.asarray(w, dtype=np.float64), axis=axis))
    mag = np.moveaxis(mag, axis, -1)[..., 1:]
    mean = mag.mean(axis=-1)
    return np.where(mean > 0, mag.max(axis=-1) / np.where(mean > 0, mean, 1.0), 0.0)


def default_thresholds(p: int) -> tuple[float, float]:
    """(structured_hi, unstructured_lo): Swaroop's 12 / 5 at p = 97; for other p scaled by
    (p−1)/96 so they keep the same fraction of a pure cosine's score (our extension)."""
    scale = (p - 1) / 96.0
    return STRUCTURED_HI * scale, UNSTRUCTURED_LO * scale


def classify_neurons(scores: Array, hi: float = STRUCTURED_HI, lo: float = UNSTRUCTURED_LO) -> Array:
    """'structured' (score > hi), 'unstructured' (score < lo) or 'intermediate' per neuron."""
    scores = np.asarray(scores)
    return np.where(scores > hi, "structured", np.where(scores < lo, "unstructured", "intermediate"))


def dominant_frequency_phase(w: Array, axis: int = -1, at: Array | None = None) -> tuple[Array, Array, Array]:
    """(ν, φ, A) of the dominant non-DC DFT bin along `axis`, so w ≈ A cos(2πνj/p − φ) + const.

    `at` reads the phase and amplitude at given frequencies (one per vector) instead of argmax.
    """
    w = np.moveaxis(np.asarray(w, dtype=np.float64), axis, -1)
    p = w.shape[-1]
    X = np.fft.rfft(w, axis=-1)  # [..., p//2 + 1]
    if at is None:
        nu = np.abs(X[..., 1:]).argmax(axis=-1) + 1
    else:
        nu = np.broadcast_to(np.asarray(at, dtype=np.int64), w.shape[:-1])
    Xn = np.take_along_axis(X, nu[..., None], axis=-1)[..., 0]
    # a Nyquist bin (even p) is real and has amplitude |X|/p, not 2|X|/p
    amp = np.abs(Xn) * np.where(2 * nu == p, 1.0, 2.0) / p
    return nu, np.mod(-np.angle(Xn), 2 * np.pi), amp


def wrap(x: Array) -> Array:
    """Angles to [0, 2π)."""
    return np.mod(x, 2 * np.pi)


# ---------------------------------------------------------------- square vs cosine


def square_wave(p: int, nu: int, phi: float, hi: float, lo: float, x: Array | None = None) -> Array:
    """Ideal square wave: hi where cos(2πνx/p − φ) ≥ 0, else lo (x defaults to 0..p−1)."""
    x = np.arange(p) if x is None else x
    return np.where(np.cos(2 * np.pi * nu * x / p - phi) >= 0, hi, lo)


def square_levels(w: Array, nu: int, phi: float) -> tuple[float, float]:
    """Swaroop's levels: medians of w over the positive / negative half-periods of the cosine."""
    c = np.cos(2 * np.pi * nu * np.arange(len(w)) / len(w) - phi)
    pos, neg = w[c >= 0], w[c < 0]
    hi = float(np.median(pos)) if len(pos) else float(w.max())
    lo = float(np.median(neg)) if len(neg) else float(w.min())
    return hi, lo


def cosine_wave(p: int, nu: int, phi: float, amp: float, mean: float, x: Array | None = None) -> Array:
    """The cosine `dominant_frequency_phase` fits: mean + amp·cos(2πνx/p − φ) (x defaults to 0..p−1)."""
    x = np.arange(p) if x is None else x
    return mean + amp * np.cos(2 * np.pi * nu * x / p - phi)


def wave_fit(w: Array) -> dict[str, Any]:
    """One weight vector with its dominant cosine (ν, φ, amplitude, mean) and Swaroop's square-wave
    levels (hi, lo) at that frequency and phase: what `square_wave` / `cosine_wave` redraw."""
    w = np.asarray(w, dtype=np.float64)
    nu, phi, amp = (float(v) for v in dominant_frequency_phase(w))
    hi, lo = square_levels(w, int(nu), phi)
    return {"w": w, "nu": int(nu), "phi": phi, "amp": amp, "mean": float(w.mean()), "hi": hi, "lo": lo}


def nearest_point_distance(w: Array, curve: Any, oversample: int = 16) -> float:
    """Mean over j of the Euclidean distance from the point (j, w_j) to the curve y = curve(x),
    x ∈ [0, p], drawn as a polyline through `oversample` samples per index unit (so a square
    wave's jumps are near-vertical segments). x is in index units, y in weight units.

    Swaroop does not define the distance; this is our definition. Points with intermediate values
    next to a sign change are close to the square wave's vertical edge, not just to its levels.
    """
    p = len(w)
    xs = np.linspace(0.0, p, p * oversample + 1)
    ys = curve(xs)
    A = np.stack([xs[:-1], ys[:-1]], axis=1)  # [M, 2] segment starts
    D = np.stack([xs[1:] - xs[:-1], ys[1:] - ys[:-1]], axis=1)  # [M, 2] segment vectors
    P = np.stack([np.arange(p, dtype=np.float64), w], axis=1)  # [p, 2]
    # The point (j, curve(j)) is at vertical distance |w_j - curve(j)|, so no segment further than
    # that in x can be nearer: search only a window of that half-width around each j (exact).
    half = int(np.ceil(np.abs(w - ys[:: oversample][:p]).max())) + 1
    offs = np.arange(-half * oversample, half * oversample)
    seg = np.clip(np.arange(p)[:, None] * oversample + offs[None, :], 0, len(A) - 1)  # [p, S]
    rel = P[:, None, :] - A[seg]  # [p, S, 2]
    Dw = D[seg]
    t = np.clip((rel * Dw).sum(-1) / (Dw**2).sum(-1), 0.0, 1.0)  # projection onto each segment
    d2 = ((rel - t[..., None] * Dw) ** 2).sum(-1)  # [p, S]
    return float(np.sqrt(d2.min(axis=1)).mean())


def square_vs_cosine(
    w: Array, oversample: int = 16, cos_amplitude: str = "dft"
) -> dict[str, float]:
    """Distances of one weight vector to its ideal square wave and to a matched cosine.

    Square: frequency and phase of the dominant DFT bin, levels = `square_levels` (nothing fitted).
    Cosine: same frequency and phase; with cos_amplitude='dft' (default: the vector's own
    amplitude 2|X_ν|/p and offset mean(w), i.e. the least-squares cosine, so a pure cosine is at
    distance 0) or 'levels' (the square's amplitude (hi−lo)/2 and offset (hi+lo)/2).
    Also returns binariness = 1 − mean_j min(|w_j − hi|, |w_j − lo|) / ((hi − lo)/2), clipped to
    [0, 1]: 1 for a two-level vector, ≈ 0.7 for a cosine, lower for noise.
    """
    w = np.asarray(w, dtype=np.float64)
    p = len(w)
    nu, phi, amp = (float(v) for v in dominant_frequency_phase(w))
    nu = int(nu)
    hi, lo = square_levels(w, nu, phi)
    if cos_amplitude == "levels":
        c_amp, c_off = (hi - lo) / 2, (hi + lo) / 2
    elif cos_amplitude == "dft":
        c_amp, c_off = amp, float(w.mean())
    else:
        raise AnalysisError(f"cos_amplitude must be 'levels' or 'dft', got {cos_amplitude!r}")
    d_sq = nearest_point_distance(w, lambda x: square_wave(p, nu, phi, hi, lo, x), oversample)
    d_cos = nearest_point_distance(w, lambda x: c_off + c_amp * np.cos(2 * np.pi * nu * x / p - phi), oversample)
    half = abs(hi - lo) / 2
    dev = np.minimum(np.abs(w - hi), np.abs(w - lo)).mean()
    binariness = float(np.clip(1 - dev / half, 0.0, 1.0)) if half > 0 else 0.0
    return {"dist_square": d_sq, "dist_cosine": d_cos, "level_hi": hi, "level_lo": lo,
            "binariness": binariness}


def paired_t_test(x: Array, y: Array) -> tuple[float, float, int]:
    """Paired t-test of x − y -> (t, two-sided p, df). scipy if installed, else our own t CDF."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    n = len(d)
    if n < 2:
        return float("nan"), float("nan"), max(n - 1, 0)
    sd = d.std(ddof=1)
    if sd == 0:
        return (0.0 if d.mean() == 0 else math.copysign(math.inf, d.mean())), (1.0 if d.mean() == 0 else 0.0), n - 1
    t = float(d.mean() / (sd / math.sqrt(n)))
    try:
        from scipy import stats

        pval = float(2 * stats.t.sf(abs(t), n - 1))
    except ImportError:
        pval = _t_two_sided(t, n - 1)
    return t, pval, n - 1


def _t_two_sided(t: float, df: int) -> float:
    """P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2) (regularised incomplete beta)."""
    return _betainc(df / 2.0, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by the continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below the mean
        return 1.0 - _betainc(b, a, 1.0 - x)
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-15:
            break
    return math.exp(ln_front) * (f - 1.0) / a


# ---------------------------------------------------------------- phase-sum relation


def circular_mean(x: Array) -> float:
    return float(np.angle(np.exp(1j * np.asarray(x)).mean()))


def circular_correlation(x: Array, y: Array) -> float:
    """Jammalamadaka–Sarma circular correlation:
    r = Σ sin(x − x̄) sin(y − ȳ) / sqrt(Σ sin²(x − x̄) · Σ sin²(y − ȳ)), x̄, ȳ circular means."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx, sy = np.sin(x - circular_mean(x)), np.sin(y - circular_mean(y))
    denom = math.sqrt((sx**2).sum() * (sy**2).sum())
    return float((sx * sy).sum() / denom) if denom > 0 else float("nan")


def resultant_length(x: Array) -> float:
    """Mean resultant length R = |mean e^{ix}| (1 = all angles equal, ≈ 1/√n for uniform)."""
    return float(np.abs(np.exp(1j * np.asarray(x)).mean())) if len(x) else float("nan")


def phase_sum_relation(
    phi_a: Array, phi_b: Array, phi_out: Array, n_perm: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Test φ_out ≡ φ_a + φ_b (mod 2π) over neurons.

    r: Jammalamadaka–Sarma correlation of φ_out with φ_a + φ_b. R: mean resultant length of the
    residual φ_out − φ_a − φ_b; p_perm: permutation p-value of R (φ_out shuffled across neurons,
    (1 + #{R_null ≥ R}) / (1 + n_perm)); R_null_mean: the null's mean.
    """
    phi_a, phi_b, phi_out = (np.asarray(v, dtype=np.float64) for v in (phi_a, phi_b, phi_out))
    n = len(phi_out)
    if n < 2:
        return {"r": float("nan"), "R": float("nan"), "p_perm": float("nan"), "R_null_mean": float("nan"), "n": n}
    s = wrap(phi_a + phi_b)
    R = resultant_length(phi_out - s)
    rng = np.random.default_rng(seed)
    null = np.array([resultant_length(phi_out[rng.permutation(n)] - s) for _ in range(n_perm)])
    return {"r": circular_correlation(phi_out, s), "R": R,
            "p_perm": float((1 + (null >= R).sum()) / (1 + n_perm)) if n_perm else float("nan"),
            "R_null_mean": float(null.mean()) if n_perm else float("nan"), "n": n}


# ---------------------------------------------------------------- which neurons, in which order


def readable_neurons(table: Mapping[str, Any], n_show: int = N_NEURONS_SHOWN) -> list[int]:
    """The neurons worth drawing, from an `analyze_neurons` table: among the 4·n_show most periodic,
    the n_show of lowest frequency ν_a, so a wave's shape is readable."""
    score, nu = np.asarray(table["periodicity"]), np.asarray(table["nu_a"])
    top = np.argsort(-score, kind="stable")[: 4 * n_show]
    return [int(i) for i in top[np.argsort(nu[top], kind="stable")][:n_show]]


def frequency_order(W: Array, axis: int = 0) -> Array:
    """Neurons (the other axis of W) sorted by the dominant frequency along `axis` (stable)."""
    return np.argsort(dominant_frequency_phase(W, axis=axis)[0], kind="stable")


# ---------------------------------------------------------------- one model


@dataclass
class NeuronReport:
    """Per-neuron columns (`table`, one list per column) and model-level `summary`."""

    table: dict[str, Array] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def neuron_table(W_a: Array, W_b: Array, W_out: Array, hi: float, lo: float) -> dict[str, Array]:
    """Per-neuron columns of `analyze_neurons` but the IPR, from the weight views W_a, W_b [n, d_mlp]
    and W_out [d_mlp, n] (n_out == n): periodicity scores (a, b, their mean, out), kind, dominant
    frequency / phase / amplitude of each, frequency agreement ν_a = ν_b = ν_out, φ_a + φ_b."""
    n = W_a.shape[0]
    if W_out.shape[1] != n:
        raise AnalysisError(f"neuron analysis needs n_out == n ({W_out.shape[1]} != {n})")
    per_a, per_b = periodicity_score(W_a, axis=0), periodicity_score(W_b, axis=0)
    per_out = periodicity_score(W_out, axis=1)
    score = (per_a + per_b) / 2
    nu_a, phi_a, amp_a = dominant_frequency_phase(W_a, axis=0)
    nu_b, phi_b, amp_b = dominant_frequency_phase(W_b, axis=0)
    nu_o, phi_o, amp_o = dominant_frequency_phase(W_out, axis=1)
    return {
        "neuron": np.arange(W_a.shape[1]), "periodicity": score, "periodicity_a": per_a,
        "periodicity_b": per_b, "periodicity_out": per_out, "kind": classify_neurons(score, hi, lo),
        "nu_a": nu_a, "nu_b": nu_b, "nu_out": nu_o, "phi_a": phi_a, "phi_b": phi_b, "phi_out": phi_o,
        "phi_sum": wrap(phi_a + phi_b),
        "amp_a": amp_a, "amp_b": amp_b, "amp_out": amp_o, "freq_agree": (nu_a == nu_b) & (nu_b == nu_o),
    }


def analyze_neurons(
    params: Mapping[str, torch.Tensor],
    cfg: ModelConfig,
    n: int,
    hi: float | None = None,
    lo: float | None = None,
    ipr_convention: str = "rfft",
    square_fit: bool = True,
    cos_amplitude: str = "dft",
    n_perm: int = 1000,
) -> NeuronReport:
    """Everything per neuron for one model (no K axis) on operands 0..n−1.

    Neuron score = mean of the periodicity scores of W_a[:, i] and W_b[:, i]; structured if > hi,
    unstructured if < lo (defaults: `default_thresholds(n)`). Frequency agreement = ν_a = ν_b =
    ν_out. Phase-sum over structured neurons with agreeing frequencies (and over all agreeing).
    """
    W_a, W_b = neuron_input_weights(params, cfg, n)  # [n, d_mlp] each
    W_out = neuron_output_weights(params, cfg)  # [d_mlp, n_out]
    d_hi, d_lo = default_thresholds(n)
    hi, lo = (d_hi if hi is None else hi), (d_lo if lo is None else lo)
    table = neuron_table(W_a, W_b, W_out, hi, lo)
    table["ipr"] = neuron_ipr(W_a, W_b, W_out, ipr_convention)
    score, kind, agree = table["periodicity"], table["kind"], table["freq_agree"]
    phi_a, phi_b, phi_o = table["phi_a"], table["phi_b"], table["phi_out"]
    structured = kind == "structured"
    summary: dict[str, Any] = {
        "n_neurons": len(score), "n_structured": int(structured.sum()),
        "n_unstructured": int((kind == "unstructured").sum()),
        "structured_hi": hi, "unstructured_lo": lo,
        "freq_agreement": float(agree.mean()),
        "freq_agreement_structured": float(agree[structured].mean()) if structured.any() else float("nan"),
        "ipr_mean": float(table["ipr"].mean()), "ipr_convention": ipr_convention,
    }
    for name, mask in (("structured", structured & agree), ("all", agree)):
        rel = phase_sum_relation(phi_a[mask], phi_b[mask], phi_o[mask], n_perm=n_perm)
        for key in ("r", "R", "p_perm", "n"):
            summary[f"phase_sum_{key}_{name}"] = rel[key]
    if square_fit:
        fits = [square_vs_cosine(W_a[:, i], cos_amplitude=cos_amplitude) for i in range(W_a.shape[1])]
        for key in ("dist_square", "dist_cosine", "binariness", "level_hi", "level_lo"):
            table[key] = np.array([f[key] for f in fits])
        for name, mask in (("structured", structured), ("all", np.ones_like(structured))):
            t, pval, df = paired_t_test(table["dist_square"][mask], table["dist_cosine"][mask])
            summary[f"sq_vs_cos_t_{name}"], summary[f"sq_vs_cos_p_{name}"] = t, pval
            summary[f"sq_vs_cos_df_{name}"] = df
        summary["binariness_structured"] = (
            float(table["binariness"][structured].mean()) if structured.any() else float("nan"))
    return NeuronReport(table=table, summary=summary)


@register("neurons", rank=20)
def _neurons(ck: Checkpoint) -> dict[str, Any]:
    rep = analyze_neurons(ck.one, ck.model.cfg, ck.task.n, square_fit=ck.square_fit, n_perm=ck.n_perm)
    return {k: v for k, v in rep.summary.items() if not isinstance(v, str)}
