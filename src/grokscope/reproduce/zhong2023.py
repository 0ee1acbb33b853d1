"""Zhong et al. 2023 — the clock and the pizza (docs/papers/zhong2023.md).

Model A (attention rate 1) and Model B (rate 0, uniform attention), several seeds each (one
ensemble per rate: the seed is a per-model setting). Gradient symmetricity and distance
irrelevance separate them: the pizza has symmetric gradients (≈ 1) and a correct logit that
depends on a − b (low DI); the clock has DI ≈ 1. The paper gives these as clusters in figures
(not checked numerically: docs/papers/zhong2023.md), so the "paper" column holds the direction, not a number.

Each run is read over its trajectory (`measure`): the measures at every checkpoint from the first
evaluation at test accuracy ≥ 0.9 to the end, their medians deciding its family
(`grokscope.analysis.algorithms.classify_trajectory`); the final checkpoint alone is kept beside them.
`share_report` classifies a rate × width sweep (sweeps/zhong_rate_width.toml) the same way and gives the
clock-or-pizza share against the thresholds (`share_curves`), beside the article's ≈ 40%.

Full: the zhong2023_clock / zhong2023_pizza presets (p = 59, 80% train, wd 2, 20k steps), 3 models per rate.
Quick: p = 23, d_model 64, d_mlp 128, lr 3e-3, 1,500 steps, checkpoints every 250, 2 models per rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grokscope.reproduce.common import Result, replicate, train_or_reuse

TITLE = "Zhong et al. 2023: clock (attention rate 1) vs pizza (attention rate 0)"
QUICK_SETS = ["task.p=23", "model.d_model=64", "model.d_mlp=128", "optim.lr=3e-3", "train.steps=1500",
              "train.eval_every=50", "train.checkpoint_every=250", "train.checkpoint_log_points=4"]


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> dict[str, list[Any]]:
    from grokscope.presets import load_preset

    seeds = (0, 1) if quick else (0, 1, 2)
    out = {}
    for name, preset in (("clock", "zhong2023_clock"), ("pizza", "zhong2023_pizza")):
        base = load_preset(preset).override([*(QUICK_SETS if quick else []), f"train.device={device}"])
        # replicate `seed` shifts past this one's seeds, so replicates share no model
        out[name] = [replicate(base.override([f"train.seed={s}"]), seed * len(seeds)) for s in seeds]
    return out


def _test_acc_at(rows: list[dict[str, Any]], step: int) -> float:
    """Test accuracy at the last evaluation at or before `step` (NaN before the first)."""
    seen = [r for r in rows if r["step"] <= step and r.get("test_acc") is not None]
    return float(seen[-1]["test_acc"]) if seen else float("nan")


def measure(path: Path, min_test_acc: float = 0.9) -> dict[str, Any]:
    """A run's clock/pizza measures read over its trajectory: every checkpoint from the first evaluation
    at test accuracy ≥ `min_test_acc` (`t_generalised`) to the end, their medians (`median`) and the
    family they give (`family`, `classify_trajectory`), beside the final checkpoint's measures alone
    (`final`, `family_final`: the old single-checkpoint reading). A run that never generalised has no
    trajectory; its `median` holds its final checkpoint's measures and its family is 'none'."""
    from grokscope.analysis.algorithms import (
        TRAJECTORY_KEYS,
        algorithm_measures,
        classify_run,
        classify_trajectory,
        median_measures,
    )
    from grokscope.store.run import load_run

    run = load_run(path)
    model, task, rows = run.model(), run.task(), run.rows()
    acc = (run.summary or {}).get("final_test_acc")
    acc = float("nan") if acc is None else float(acc)
    t_gen = next((int(r["step"]) for r in rows if (r.get("test_acc") or 0.0) >= min_test_acc), None)
    steps = run.checkpoint_steps()
    traj = []
    for step in steps if t_gen is not None else []:
        if step >= t_gen:
            m = algorithm_measures(model, run.params(step), task)
            traj.append({"step": step, "test_acc": _test_acc_at(rows, step), **{k: m[k] for k in m if k != "algorithm"}})
    final = traj[-1] if traj and traj[-1]["step"] == steps[-1] else algorithm_measures(model, run.params("final"), task)
    final = {k: v for k, v in final.items() if k not in ("step", "test_acc", "algorithm")}
    # a run that never generalised has no trajectory: its medians are its final checkpoint's (its family is none)
    median = median_measures(traj) if traj else {k: final[k] for k in TRAJECTORY_KEYS}
    return {"final_test_acc": acc, "t_generalised": t_gen, "trajectory": traj, "median": median,
            "final": final, "family": classify_trajectory(traj, acc, min_test_acc),
            "family_final": classify_run(final, acc, min_test_acc)}


ARTICLE_SHARE = 0.40  # Quanta on Liu et al.: "about 40%" of the algorithms found were clock or pizza varieties
FAMILIES = ("clock", "pizza", "other", "none")
DI_CUTS = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))  # 0.5 … 0.95: the distance-irrelevance cut
CIRC_CUTS = (0.5, 0.6, 0.7, 0.8)  # the circularity cut (classify_run's default 0.6)
GS_CUTS = tuple(round(0.5 + 0.05 * i, 3) for i in range(10)) + (0.99,)  # the symmetricity cut: 0.5 … 0.95, 0.99


def classify_sweep(root: Path) -> list[dict[str, Any]]:
    """Every finished run under `root` (a sweep directory) with its measures (`measure`: over the
    trajectory after it generalised, and at the final checkpoint), its family from the trajectory
    (`family`) and from the final checkpoint alone (`family_final`), attention rate, d_model and seed."""
    from grokscope.store.db import find_runs
    from grokscope.store.run import load_run

    rows = []
    for path, _ in find_runs(root):
        run = load_run(path)
        if not run.finished:
            continue
        m = measure(path)
        m.update(path=str(path), rate=run.config.model.attention_rate, d_model=run.config.model.d_model,
                 seed=run.config.train.seed)
        rows.append(m)
    return rows


def family_shares(rows: list[dict[str, Any]], key: str | None = None, family: str = "family") -> dict[Any, dict[str, float]]:
    """Share of each family (`rows[i][family]`), overall (key None -> {'all': ...}) or per value of `key`;
    'clock+pizza' also over the runs that generalised (the article's "algorithms discovered")."""
    groups: dict[Any, list[str]] = {}
    for r in rows:
        groups.setdefault("all" if key is None else r[key], []).append(r[family])
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


def share_curves(rows: list[dict[str, Any]], basis: str = "median") -> dict[str, Any]:
    """The clock-or-pizza share of the runs that generalised as the thresholds move: against the DI cut
    (one curve per circularity cut, symmetricity cut 0.9) and against the symmetricity cut (DI 0.8,
    circularity 0.6). `basis` 'median' reads each run's medians after it generalised, 'final' its
    final checkpoint alone."""
    from grokscope.analysis.algorithms import classify_run

    def share(**cuts: float) -> float:
        fams = [classify_run(r[basis], r["final_test_acc"], **cuts) if r["trajectory"] or basis == "final" else "none"
                for r in rows]
        found = [f for f in fams if f != "none"]
        return sum(f in ("clock", "pizza") for f in found) / len(found) if found else float("nan")

    return {"basis": basis, "di_cuts": list(DI_CUTS), "gs_cuts": list(GS_CUTS),
            "by_di": {str(c): [share(di_clock=d, min_circularity=c) for d in DI_CUTS] for c in CIRC_CUTS},
            "by_gs": [share(gs_pizza=g) for g in GS_CUTS]}


def share_report(root: Path, png: Path | None = None) -> dict[str, Any]:
    """The sweep under `root` classified (`classify_sweep`), its shares per attention rate and the
    threshold-sensitivity curves (trajectory medians and final checkpoint), drawn to `png` when given."""
    rows = classify_sweep(root)
    slim = [{k: r[k] for k in ("rate", "d_model", "seed", "final_test_acc", "t_generalised", "median", "final",
                               "family", "family_final")} for r in rows]
    out = {"n": len(rows), "article_share": ARTICLE_SHARE, "runs": slim,
           "shares": {basis: {str(k): v for k, v in family_shares(rows, "rate", fam).items()} |
                      {"all": family_shares(rows, None, fam)["all"]}
                      for basis, fam in (("median", "family"), ("final", "family_final"))},
           "curves": {basis: share_curves(rows, basis) for basis in ("median", "final")}}
    if png is not None:
        from grokscope.report.algorithms import plot_share_sensitivity

        plot_share_sensitivity(out["curves"], png, article=ARTICLE_SHARE, n=len(rows))
    return out


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    res = Result("zhong2023", TITLE, quick=quick)
    groups = configs(quick, device, seed)
    found: dict[str, list[dict[str, Any]]] = {}
    for name, cfgs in groups.items():
        paths = [out / "runs" / f"{name}_seed{c.train.seed}" for c in cfgs]
        train_or_reuse(cfgs, paths)
        found[name] = [measure(p) for p in paths]
    res.data = found
    for name, ms in found.items():
        for key, label in (("gradient_symmetricity", "gradient symmetricity"),
                           ("distance_irrelevance", "distance irrelevance"), ("circularity", "circularity"),
                           ("fve_clock", "logit FVE, clock template"), ("fve_pizza", "logit FVE, pizza template")):
            vals = np.array([m["median"][key] for m in ms], dtype=float)
            text = None
            if key == "gradient_symmetricity":
                text = "≈ 1 (high)" if name == "pizza" else "lower"
            elif key == "distance_irrelevance":
                text = "≈ 1" if name == "clock" else "low"
            ok = vals[np.isfinite(vals)]  # NaN: a run that never generalised has no trajectory
            res.add(f"{name}: {label}, median (mean of {len(ok)}; min "
                    f"{ok.min() if len(ok) else float('nan'):.3f})", None, float(ok.mean()) if len(ok) else None,
                    paper_text=text, group=name)
        accs = np.array([m["final_test_acc"] for m in ms], dtype=float)
        res.add(f"{name}: final test accuracy (mean of {len(accs)}; min {accs.min():.3f})", 1.0, float(accs.mean()), group=name)
        res.add(f"{name}: distance irrelevance, final checkpoint (mean of {len(ms)})", None,
                float(np.mean([m["final"]["distance_irrelevance"] for m in ms])), group=name)
        res.add(f"{name}: family, trajectory / final checkpoint: "
                + ", ".join(f"{m['family']}/{m['family_final']}" for m in ms), None, None, group=name)

    def mean(name: str, key: str) -> float:
        return float(np.mean([m["median"][key] for m in found[name]]))

    for name, rate in (("clock", 1), ("pizza", 0)):
        acc = min(m["final_test_acc"] for m in found[name])
        res.claim(f"the {name} models (attention rate {rate}) generalise: final test accuracy ≥ 0.9", acc >= 0.9, acc,
                  "lowest final test accuracy of the rate's models")
    gs_gap = mean("pizza", "gradient_symmetricity") - mean("clock", "gradient_symmetricity")
    res.claim("the pizza (rate 0) has higher gradient symmetricity than the clock (rate 1), medians after generalising",
              gs_gap > 0, gs_gap, "pizza − clock, mean of the runs' medians")
    di_gap = mean("clock", "distance_irrelevance") - mean("pizza", "distance_irrelevance")
    res.claim("the clock (rate 1) has higher distance irrelevance than the pizza (rate 0), medians after generalising",
              di_gap > 0, di_gap, "clock − pizza, mean of the runs' medians")
    for name, rate in (("clock", 1), ("pizza", 0)):
        share = float(np.mean([m["family"] == name for m in found[name]]))
        res.claim(f"every rate-{rate} model is classified {name} from its trajectory after generalising", share == 1.0,
                  share, f"share of the rate-{rate} models labelled {name}")
    res.claim("about 40% of the algorithms found are clock or pizza varieties (the article's share)", None, None,
              "the 100-model rate × width sweep, with its threshold curve (docs page)")
    res.notes = ["a measure's 'median' is its median over a run's checkpoints after it generalised; "
                 "each run is classified from those medians (checkpoints from the first evaluation at test acc ≥ 0.9 "
                 "to the end); thresholds are ours: final test acc < 0.9 "
                 "→ none; circularity < 0.6 → other; clock = DI ≥ 0.8 and gradient symmetricity < 0.9; pizza = "
                 "DI < 0.8 and symmetricity ≥ 0.9; else other. At rate 0 the symmetricity is 1 by construction "
                 "(uniform attention), so a rate-0 model is pizza or other, never clock",
                 "gradient symmetricity over 100 sampled triples (a ≠ b), fixed seed"]
    if quick:
        res.notes.append("quick mode: p = 23, d_model 64, d_mlp 128, lr 3e-3, 1,500 steps, checkpoints every 250 "
                         "steps, 2 models per rate and replicate")
    return res


__all__ = ["ARTICLE_SHARE", "CIRC_CUTS", "DI_CUTS", "FAMILIES", "GS_CUTS", "TITLE", "classify_sweep", "configs",
           "family_shares", "measure", "reproduce", "share_curves", "share_report"]
