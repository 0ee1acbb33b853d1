"""Prieto et al. 2025 — Grokking at the edge of numerical stability (docs/papers/prieto2025.md).

MLP [200, 200] on the two-hot input, (a+b) mod 113, 40% random split, full batch, AdamW with
weight decay 0 (the `prieto2025` preset). Four runs, no regularisation anywhere:
  - StableMax cross-entropy (log in float64), lr 0.01, β₂ 0.999 — groks (Fig. 1);
  - ⊥AdamW with float32 softmax CE, lr 0.01, β₂ 0.99 — groks within hundreds of steps (Fig. 1);
  - float32 softmax CE, lr 0.01, β₂ 0.99 — softmax collapse, no grokking;
  - float64 softmax CE, same — the paper's "float64 delays SC" control.
Measured: steps to 99% validation accuracy, final validation accuracy, and over the checkpoints
of the float32-softmax run the softmax-collapse (SC) fraction of the training samples (Σ_j
exp(z_j − max z) == 1) evaluated at float32 and at float64 (`analysis.numerics`).

Full: 20k steps (the paper's StableMax and float64 runs use 80k epochs). Quick: 1.5k steps — the
⊥AdamW claim and the SC fractions; StableMax may not have grokked yet.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result, replicate, train_or_reuse

TITLE = "Prieto et al. 2025: StableMax and ⊥AdamW grok with wd 0; float32 softmax collapses (MLP [200, 200])"
ARMS: dict[str, list[str]] = {
    "stablemax": [],
    "ortho_adamw": ["optim.ortho=true", "optim.beta2=0.99", "train.probs=softmax", "train.loss_dtype=float32"],
    "softmax_f32": ["optim.beta2=0.99", "train.probs=softmax", "train.loss_dtype=float32"],
    "softmax_f64": ["optim.beta2=0.99", "train.probs=softmax", "train.loss_dtype=float64"],
}
FULL_SETS = ["train.steps=20000"]
QUICK_SETS = ["train.steps=1500", "train.eval_every=50", "train.checkpoint_every=250", "train.checkpoint_log_points=4"]


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> dict[str, Any]:
    from grokscope.presets import load_preset

    base = load_preset("prieto2025").override([*(QUICK_SETS if quick else FULL_SETS), f"train.device={device}"])
    return {arm: replicate(base.override(sets), seed) for arm, sets in ARMS.items()}


def sc_curve(path: Path) -> list[dict[str, float]]:
    """SC fraction of the training samples at float32 and float64 over a run's checkpoints."""
    from grokscope.analysis.numerics import softmax_collapse_fraction
    from grokscope.store.run import load_run

    run = load_run(path)
    train = run.split().train_idx
    out = []
    for step in run.checkpoint_steps():
        logits = run.logits(step)[train]
        out.append({"step": step, "sc_float32": softmax_collapse_fraction(logits, "float32"),
                    "sc_float64": softmax_collapse_fraction(logits, "float64")})
    return out


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    from grokscope.store.run import load_run

    res = Result("prieto2025", TITLE, quick=quick)
    cfgs = configs(quick, device, seed)
    paths = {arm: out / "runs" / arm for arm in cfgs}
    train_or_reuse(list(cfgs.values()), list(paths.values()))
    runs = {arm: load_run(p).summary or {} for arm, p in paths.items()}
    budget = next(iter(cfgs.values())).train.steps
    t = {arm: s.get("t_val99") for arm, s in runs.items()}
    acc = {arm: s.get("final_test_acc") for arm, s in runs.items()}
    curve = sc_curve(paths["softmax_f32"])
    res.data = {"t_val99": t, "final_test_acc": acc, "sc_curve_softmax_f32": curve, "budget": budget}

    g = f"steps to 99% val (budget {budget}; — = never)"
    res.add("StableMax: steps to 99% val", None, t["stablemax"], group=g, paper_text="groks (< 8e4)")
    res.add("⊥AdamW: steps to 99% val", 300, t["ortho_adamw"], relation="le", relative=True, group=g,
            paper_text="≈ 300")
    res.add("float32 softmax: steps to 99% val", None, t["softmax_f32"], group=g, paper_text="never")
    res.add("float64 softmax: steps to 99% val", None, t["softmax_f64"], group=g, paper_text="later than StableMax")
    g = "final validation accuracy"
    for arm in cfgs:
        res.add(f"{arm}: final val acc", None, acc[arm], group=g)
    g = "SC fraction of training samples (float32 softmax run)"
    last = curve[-1] if curve else {"step": 0, "sc_float32": math.nan, "sc_float64": math.nan}
    res.add(f"at float32, final checkpoint (step {last['step']})", None, last["sc_float32"], group=g,
            paper_text="→ high")
    res.add(f"at float64, final checkpoint (step {last['step']})", None, last["sc_float64"], group=g,
            paper_text="≈ 0")
    res.add("at float32, max over checkpoints", None, max((c["sc_float32"] for c in curve), default=None), group=g)

    res.claim("StableMax groks with weight decay 0", t["stablemax"] is not None)
    res.claim("⊥AdamW groks with weight decay 0", t["ortho_adamw"] is not None)
    res.claim("float32 softmax CE does not grok", t["softmax_f32"] is None)
    res.claim("⊥AdamW groks before StableMax", t["ortho_adamw"] is not None and (
        t["stablemax"] is None or t["ortho_adamw"] < t["stablemax"]))
    res.claim("softmax collapse is larger at float32 than at float64 (final checkpoint)", bool(
        curve and last["sc_float32"] > last["sc_float64"]))
    res.notes.append("the SC fraction is evaluated on the float32-softmax run's own checkpoints at both precisions "
                     "(the same logits: only the precision of Σ exp(z − max z) differs)")
    if quick:
        res.notes.append("quick: 1.5k steps — the paper's StableMax / float64 runs take up to 80k epochs")
    return res
