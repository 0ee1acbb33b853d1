"""Doshi, Das, He, Gromov 2024 — to grok or not to grok: label corruption (docs/papers/doshi2024.md).

The quadratic MLP f(m, n) = W·(U e_m + V e_n)², MSE loss, full-batch AdamW lr 0.01, 50% of the
pairs for training, a fraction ξ of the training labels replaced by uniform random labels. One
ensemble per mode: ξ and weight decay are per-model settings.

- Phases (App. C rule on final accuracies) per (ξ, weight decay): without weight decay, a small
  ξ gives *coexistence* (the corrupted labels are memorised and the test set is still solved);
  weight decay gives *inversion* (the corrupted labels are ignored: train accuracy falls to
  ≈ 1 − ξ while test accuracy stays high), after a first stage at 100% train accuracy.
- IPR pruning of the coexistence model (ξ = 0.1, no weight decay): pruning low-IPR neurons
  first removes the memorised corrupted labels while test accuracy holds; pruning high-IPR
  neurons first destroys test accuracy. A random order is our control (the paper has none).

Accuracy on the corrupted training pairs is measured against their corrupted labels, so it is
the fraction memorised. Paper values are read off figures (docs/papers/doshi2024.md marks them approximate).

Full: p = 97, N = 500, init N(0, (16N)^(-2/3)), 2,000 steps, ξ ∈ {0.1, 0.2, 0.3, 0.5} × wd ∈ {0, 5}.
Quick: p = 59, N = 256, 2,000 steps, ξ ∈ {0.1, 0.3} × wd ∈ {0, 5}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grokscope.reproduce.common import Result, replicate, train_or_reuse

TITLE = "Doshi et al. 2024: label corruption — coexistence, inversion and IPR pruning (quadratic MLP)"
XIS_FULL, XIS_QUICK = (0.1, 0.2, 0.3, 0.5), (0.1, 0.3)
WEIGHT_DECAYS = (0.0, 5.0)  # the paper's sweep uses {0, 5, 15, 20}; 5 is its smallest non-zero value
PRUNE_XI = 0.1  # the coexistence model that is pruned
HIGH_IPR_FRAC = 0.3  # "pruning about 30% of high-IPR neurons drops test accuracy to about 0%"


def _size(quick: bool) -> tuple[int, int]:
    return (59, 256) if quick else (97, 500)


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> list[Any]:
    from grokscope.presets import load_preset

    p, n = _size(quick)
    std = (16 * n) ** (-1 / 3)  # N(0, (16N)^(-2/3)) read as a variance
    base = load_preset("doshi2024").override(
        [f"task.p={p}", f"model.d_mlp={n}", f"model.init_std={std}", "train.checkpoint_every=1000",
         f"train.device={device}"])
    xis = XIS_QUICK if quick else XIS_FULL
    return [replicate(base.override([f"task.noise={xi}", f"optim.weight_decay={wd}"]), seed)
            for wd in WEIGHT_DECAYS for xi in xis]


def measure(path: Path, prune: bool) -> dict[str, Any]:
    """Final accuracies, phase, the two training stages, IPR distribution and (optionally) pruning curves."""
    from grokscope.analysis.neurons import model_neuron_ipr
    from grokscope.analysis.pruning import pruning_curve
    from grokscope.analysis.views import unstack
    from grokscope.events import doshi_phase
    from grokscope.store.run import load_run

    run = load_run(path)
    cfg, model, task, split = run.config, run.model(), run.task(), run.split()
    params = run.params("final")
    start = pruning_curve(model, params, task, split, order="low_ipr", n_steps=1)[0]  # nothing pruned
    rows = run.rows()
    xi = cfg.task.noise
    ipr = model_neuron_ipr(unstack(params), cfg.model, task.n)
    out: dict[str, Any] = {
        "xi": xi, "weight_decay": cfg.optim.weight_decay, **{k: start[k] for k in
        ("train_acc", "test_acc", "corrupted_acc", "clean_train_acc")},
        "max_train_acc": max(r["train_acc"] for r in rows),
        "phase": doshi_phase(start["train_acc"], start["test_acc"], xi),
        # IPR (rfft convention: a pure cosine scores 1): share of clearly periodic / clearly not
        "ipr_high_frac": float((ipr >= 0.5).mean()), "ipr_low_frac": float((ipr < 0.2).mean()),
        "ipr_hist": np.histogram(ipr, bins=10, range=(0, 1))[0].tolist(),
    }
    if prune:
        out["pruning"] = {order: pruning_curve(model, params, task, split, order=order, n_steps=20)
                          for order in ("low_ipr", "high_ipr", "random")}
    return out


def _pruning_summary(curves: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """The paper's two pruning claims as numbers (see module docstring)."""
    low = curves["low_ipr"]
    holding = [r for r in low if r["test_acc"] >= 0.9]  # pruned while the test set is still solved
    best = min(holding, key=lambda r: r["corrupted_acc"]) if holding else low[0]
    high = min(curves["high_ipr"], key=lambda r: abs(r["frac_pruned"] - HIGH_IPR_FRAC))
    low30 = min(low, key=lambda r: abs(r["frac_pruned"] - HIGH_IPR_FRAC))
    rand = min(curves["random"], key=lambda r: abs(r["frac_pruned"] - best["frac_pruned"]))
    return {"low_corrupted_min": best["corrupted_acc"], "low_test_there": best["test_acc"],
            "low_frac_there": best["frac_pruned"], "random_corrupted_there": rand["corrupted_acc"],
            "random_test_there": rand["test_acc"], "high_test_at_30": high["test_acc"],
            "high_frac": high["frac_pruned"], "low_test_at_30": low30["test_acc"]}


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    res = Result("doshi2024", TITLE, quick=quick)
    cfgs = configs(quick, device, seed)
    paths = [out / "runs" / f"xi{c.task.noise:.2f}_wd{c.optim.weight_decay:g}" for c in cfgs]
    train_or_reuse(cfgs, paths)
    per = [measure(path, prune=c.task.noise == PRUNE_XI and c.optim.weight_decay == 0)
           for c, path in zip(cfgs, paths, strict=True)]
    res.data["runs"] = per

    for d in per:
        g = f"wd={d['weight_decay']:g}"
        res.add(f"{g} ξ={d['xi']:.2f}: test acc (phase: {d['phase']})",
                None, d["test_acc"], group=g)
        res.add(f"{g} ξ={d['xi']:.2f}: corrupted training labels memorised", None, d["corrupted_acc"], group=g)
        res.add(f"{g} ξ={d['xi']:.2f}: final train acc (max during training {d['max_train_acc']:.3f})", None, d["train_acc"], group=g)

    coex = next(d for d in per if d["xi"] == PRUNE_XI and d["weight_decay"] == 0)
    inv = next(d for d in per if d["xi"] == PRUNE_XI and d["weight_decay"] > 0)
    ps = _pruning_summary(coex["pruning"])
    res.data["pruning_summary"] = ps
    g = "pruning"
    res.add(f"coexistence model (ξ={PRUNE_XI}): corrupted labels memorised before pruning", 0.94, coex["corrupted_acc"], group=g)
    res.add(f"low-IPR first: fewest corrupted labels left while test ≥ 0.9 (at {ps['low_frac_there']:.0%} pruned)",
            0.0, ps["low_corrupted_min"], group=g)
    res.add("low-IPR first: test acc there", 0.97, ps["low_test_there"], relation="ge", paper_text="≈ 0.97–1.0", group=g)
    res.add("random order (ours, a control): corrupted memorised at the same count", None, ps["random_corrupted_there"], group=g)
    res.add(f"high-IPR first: test acc after pruning {ps['high_frac']:.0%}", 0.0, ps["high_test_at_30"],
            paper_text="≈ 0", group=g)
    res.add("coexistence: share of neurons with IPR ≥ 0.5 / < 0.2 (bimodal) — high share shown", None,
            coex["ipr_high_frac"], group=g)

    xi = PRUNE_XI
    res.claim(f"without weight decay at ξ = {xi} the network still generalises (test acc ≥ 0.9)",
              coex["test_acc"] >= 0.9, coex["test_acc"], f"test accuracy, ξ = {xi}, wd 0")
    res.claim(f"without weight decay at ξ = {xi} it memorises the corrupted labels (≥ 90% fit): coexistence",
              coex["corrupted_acc"] >= 0.9, coex["corrupted_acc"], f"share of the corrupted labels fit, ξ = {xi}, wd 0")
    # the inversion claim ("the corrupted labels are not memorised") has its control above: the same ξ
    # without weight decay memorises them
    res.claim(f"weight decay at ξ = {xi} ignores the corrupted labels (≤ 10% fit) and generalises (test ≥ 0.9): inversion",
              inv["test_acc"] >= 0.9 and inv["corrupted_acc"] <= 0.1, inv["corrupted_acc"],
              f"share of the corrupted labels fit, ξ = {xi}, wd {inv['weight_decay']:g}")
    drop = inv["max_train_acc"] - inv["train_acc"]
    res.claim(f"with weight decay, train acc first reaches ≥ 0.99 then falls towards 1 − ξ (grok, then unlearn; "
              f"a fall ≥ ξ/2 = {xi / 2:g})", inv["max_train_acc"] >= 0.99 and drop >= 0.5 * xi, drop,
              f"fall of train acc from its maximum, ξ = {xi}, wd {inv['weight_decay']:g}")
    xi_max = max(d["xi"] for d in per)
    no_wd = next(d for d in per if d["xi"] == xi_max and d["weight_decay"] == 0)
    with_wd = next(d for d in per if d["xi"] == xi_max and d["weight_decay"] > 0)
    res.claim(f"without weight decay the largest ξ ({xi_max:g}) does not generalise (test < 0.9): memorisation",
              no_wd["test_acc"] < 0.9, no_wd["test_acc"], f"test accuracy, ξ = {xi_max:g}, wd 0")
    res.claim(f"control: with weight decay the same ξ ({xi_max:g}) generalises (test ≥ 0.9)",
              with_wd["test_acc"] >= 0.9, with_wd["test_acc"], f"test accuracy, ξ = {xi_max:g}, wd {with_wd['weight_decay']:g}")
    bimodal = min(coex["ipr_high_frac"], coex["ipr_low_frac"])
    res.claim(f"the coexistence model's neuron IPR is bimodal: ≥ 20% of neurons periodic (IPR ≥ 0.5) and ≥ 20% not "
              f"(IPR < 0.2), ξ = {xi}, wd 0", bimodal >= 0.2, bimodal, "the smaller of the two shares of neurons")
    res.claim(f"weight decay removes the low-IPR (memorising) neurons: < 5% of neurons at IPR < 0.2, ξ = {xi}",
              inv["ipr_low_frac"] < 0.05, inv["ipr_low_frac"],
              f"share of neurons at IPR < 0.2, wd {inv['weight_decay']:g} (the wd-0 model above is the control)")
    res.claim("pruning low-IPR neurons first removes the memorised corrupted labels (≤ 10% left) while test acc "
              "stays ≥ 0.9", ps["low_corrupted_min"] <= 0.1 and ps["low_test_there"] >= 0.9, ps["low_corrupted_min"],
              "corrupted labels still fit at the most pruned count with test ≥ 0.9")
    gap = ps["random_corrupted_there"] - ps["low_corrupted_min"]
    res.claim("control (ours): pruning in a random order at the same count leaves ≥ 0.1 more corrupted labels fit",
              gap >= 0.1, gap, "random − low-IPR order, corrupted labels fit at that count")
    res.claim(f"pruning {HIGH_IPR_FRAC:.0%} of the neurons highest IPR first destroys test accuracy (≤ 0.15)",
              ps["high_test_at_30"] <= 0.15, ps["high_test_at_30"], f"test accuracy after pruning {ps['high_frac']:.0%}")
    res.claim(f"control: pruning the same share ({HIGH_IPR_FRAC:.0%}) lowest IPR first keeps test acc ≥ 0.9",
              ps["low_test_at_30"] >= 0.9, ps["low_test_at_30"], f"test accuracy after pruning {ps['high_frac']:.0%} low-IPR first")
    res.notes = [
        "IPR in the one-sided rfft convention (a pure cosine scores 1), per neuron the mean over U, V and W",
        "weight decay 5 is the smallest non-zero value of the paper's sweep; phase labels use App. C's rule, under "
        "which an inverted model at ξ = 0.1 (train ≈ 0.90) still reads as coexistence — the corrupted-memorised "
        "row tells the two apart",
        "pruning zeroes a neuron's U, V rows and W column on a copy (no retraining), 21 evenly spaced counts",
    ]
    if quick:
        res.notes.append("quick mode: p = 59, N = 256 (init std (16N)^(-1/3)); the paper's p = 97, N = 500 "
                         "read-offs are shown for orientation")
    return res


__all__ = ["TITLE", "configs", "measure", "reproduce"]
