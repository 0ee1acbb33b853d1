"""Zhong et al. 2023 — the clock and the pizza (docs/papers/zhong2023.md).

Model A (attention rate 1) and Model B (rate 0, uniform attention), several seeds each (one
ensemble per rate: the seed is a per-model setting). Gradient symmetricity and distance
irrelevance separate them: the pizza has symmetric gradients (≈ 1) and a correct logit that
depends on a − b (low DI); the clock has DI ≈ 1. The paper gives these as clusters in figures
(not checked numerically: docs/papers/zhong2023.md), so the "paper" column holds the direction, not a number.

Full: the zhong2023_clock / zhong2023_pizza presets (p = 59, 80% train, wd 2, 20k steps), 3 seeds.
Quick: p = 23, d_model 64, d_mlp 128, lr 3e-3, 1,500 steps, 2 seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grokscope.reproduce.common import Result, replicate, train_or_reuse

TITLE = "Zhong et al. 2023: clock (attention rate 1) vs pizza (attention rate 0)"
QUICK_SETS = ["task.p=23", "model.d_model=64", "model.d_mlp=128", "optim.lr=3e-3", "train.steps=1500",
              "train.eval_every=50", "train.checkpoint_every=500", "train.checkpoint_log_points=4"]


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> dict[str, list[Any]]:
    from grokscope.presets import load_preset

    seeds = (0, 1) if quick else (0, 1, 2)
    out = {}
    for name, preset in (("clock", "zhong2023_clock"), ("pizza", "zhong2023_pizza")):
        base = load_preset(preset).override([*(QUICK_SETS if quick else []), f"train.device={device}"])
        # replicate `seed` shifts past this one's seeds, so replicates share no model
        out[name] = [replicate(base.override([f"train.seed={s}"]), seed * len(seeds)) for s in seeds]
    return out


def measure(path: Path) -> dict[str, Any]:
    from grokscope.analysis.algorithms import algorithm_measures
    from grokscope.store.run import load_run

    run = load_run(path)
    m = algorithm_measures(run.model(), run.params("final"), run.task())
    m["final_test_acc"] = (run.summary or {}).get("final_test_acc")
    return m


ARTICLE_SHARE = 0.40  # Quanta on Liu et al.: "about 40%" of the algorithms found were clock or pizza varieties
FAMILIES = ("clock", "pizza", "other", "none")


def classify_sweep(root: Path) -> list[dict[str, Any]]:
    """Every finished run under `root` (a sweep directory) with its measures and its family
    (`classify_run`: clock / pizza / other / none), attention rate and d_model."""
    from grokscope.analysis.algorithms import classify_run
    from grokscope.store.db import find_runs
    from grokscope.store.run import load_run

    rows = []
    for path, _ in find_runs(root):
        run = load_run(path)
        if not run.finished:
            continue
        m = measure(path)
        m.update(path=str(path), rate=run.config.model.attention_rate, d_model=run.config.model.d_model,
                 seed=run.config.train.seed, family=classify_run(m, float(m["final_test_acc"] or float("nan"))))
        rows.append(m)
    return rows


def family_shares(rows: list[dict[str, Any]], key: str | None = None) -> dict[Any, dict[str, float]]:
    """Share of each family, overall (key None -> {'all': ...}) or per value of `key`; 'clock+pizza'
    also over the runs that generalised (the article's "algorithms discovered")."""
    groups: dict[Any, list[str]] = {}
    for r in rows:
        groups.setdefault("all" if key is None else r[key], []).append(r["family"])
    out = {}
    for g, fams in sorted(groups.items(), key=lambda kv: str(kv[0])):
        n = len(fams)
        shares = {f: fams.count(f) / n for f in FAMILIES}
        found = n - fams.count("none")
        shares["clock+pizza"] = shares["clock"] + shares["pizza"]
        shares["clock+pizza of generalised"] = (fams.count("clock") + fams.count("pizza")) / found if found else float("nan")
        shares["n"] = n
        out[g] = shares
    return out


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    from grokscope.analysis.algorithms import classify_run

    res = Result("zhong2023", TITLE, quick=quick)
    groups = configs(quick, device, seed)
    found: dict[str, list[dict[str, Any]]] = {}
    for name, cfgs in groups.items():
        paths = [out / "runs" / f"{name}_seed{c.train.seed}" for c in cfgs]
        train_or_reuse(cfgs, paths)
        found[name] = [measure(p) for p in paths]
    res.data = found
    for name, ms in found.items():
        for key, label in (("final_test_acc", "test accuracy"), ("gradient_symmetricity", "gradient symmetricity"),
                           ("distance_irrelevance", "distance irrelevance"), ("fve_clock", "logit FVE, clock template"),
                           ("fve_pizza", "logit FVE, pizza template")):
            vals = np.array([m[key] for m in ms], dtype=float)
            paper, text = None, None
            if key == "final_test_acc":
                paper = 1.0
            elif key == "gradient_symmetricity":
                text = "≈ 1 (high)" if name == "pizza" else "lower"
            elif key == "distance_irrelevance":
                text = "≈ 1" if name == "clock" else "low"
            res.add(f"{name}: {label} (mean of {len(vals)}; min {vals.min():.3f})", paper, float(vals.mean()),
                    paper_text=text, group=name)
        for m in ms:
            m["family"] = classify_run(m, float(m["final_test_acc"] if m["final_test_acc"] is not None else "nan"))
        res.add(f"{name}: classified as (ours) " + ", ".join(m["family"] for m in ms), None, None, group=name)
    gs = {n: np.mean([m["gradient_symmetricity"] for m in ms]) for n, ms in found.items()}
    di = {n: np.mean([m["distance_irrelevance"] for m in ms]) for n, ms in found.items()}
    res.checks = {  # plain bools (numpy comparisons below)
        "both models generalise (test acc ≥ 0.9)": all(m["final_test_acc"] >= 0.9 for ms in found.values() for m in ms),
        "pizza has higher gradient symmetricity than clock": bool(gs["pizza"] > gs["clock"]),
        "clock has higher distance irrelevance than pizza": bool(di["clock"] > di["pizza"]),
    }
    res.notes = ["classification thresholds are ours: test acc < 0.9 → none; circularity < 0.6 → other; "
                 "clock = DI ≥ 0.8 and gradient symmetricity < 0.9; pizza = DI < 0.8 and symmetricity ≥ 0.9; "
                 "else other. At rate 0 the symmetricity is 1 by construction (uniform attention), so "
                 "a rate-0 model is pizza or other, never clock",
                 "gradient symmetricity over 100 sampled triples (a ≠ b), fixed seed"]
    if quick:
        res.notes.append("quick mode: p = 23, d_model 64, d_mlp 128, lr 3e-3, 1,500 steps, 2 seeds")
    return res


__all__ = ["ARTICLE_SHARE", "FAMILIES", "TITLE", "classify_sweep", "configs", "family_shares", "measure", "reproduce"]
