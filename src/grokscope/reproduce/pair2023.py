"""PAIR 2023 explorable — "Do machine learning models memorize or generalize?" (docs/papers/pair2023.md).

The explorable's model ReLU(W_in[a] + W_in[b])·W_out (shared W_in, no biases) on (a + b) mod 67
with symmetric pairs, swept over width × weight decay × training fraction × seeds with the sweep
machinery (ensembles; the same grid as `sweeps/pair_phase.toml`), every run labelled with Liu's
phases. The article's claims, stated beside our numbers:

1. "Grokking is contingent on model size, weight decay and data size": the share of runs that
   generalise grows with width and with the training fraction, and no run without weight decay
   generalises.
2. "Weight decay drives neurons periodic": the neurons' IPR (one-sided rfft convention, a pure
   cosine scores 1) is higher with weight decay than without.

The article gives no numbers for these, so the paper column holds the claim's direction; each is a
claim (`Result.claim`) resting on a difference of shares or medians, and "no run without weight
decay generalises" is paired with its control (runs with weight decay do, in the same sweep).

3. The notebook's main model (preset pair2023_notebook: the tied 500-wide model on the notebook's own
   split, np.random.seed(165) over the a ≤ b pairs) groks within its 50,000 steps after memorising:
   full form only (one 50k-step model per seed); the quick form marks it not tested at this scale.

Full: widths 16/24/48/96 × wd 0–3 × fractions 0.3–0.9 × 13 seeds = 1,040 models at lr 3e-2 and a
2,500-step budget (why: sweeps/pair_phase.toml), and the notebook's main model for 50,000 steps.
Quick: widths 16/96 × wd 0/0.3 × fractions 0.3/0.8 × 2 seeds = 16 models, 1,500 steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result

TITLE = "PAIR 2023: grokking is contingent on width, weight decay and data; weight decay makes neurons periodic"
GENERALISED = ("comprehension", "grokking")
_SET = {"optim": {"lr": 3e-2}, "train": {"stop_test_acc": 0.99, "eval_every": 100, "eval_log_points": 10}}
SPEC_FULL: dict[str, Any] = {
    "name": "pair_phase", "base": "pair2023", "seeds": 13,
    "set": {**_SET, "train": {**_SET["train"], "steps": 2500}},
    "grid": {"model": {"d_mlp": [16, 24, 48, 96]}, "optim": {"weight_decay": [0.0, 0.1, 0.3, 1.0, 3.0]},
             "task": {"frac_train": [0.3, 0.5, 0.7, 0.9]}},
    "plot": {"x": "optim.weight_decay", "y": "task.frac_train", "facet": "model.d_mlp"},
}
SPEC_QUICK: dict[str, Any] = {
    **SPEC_FULL, "name": "pair_phase_quick", "seeds": 2,
    "set": {**_SET, "train": {**_SET["train"], "steps": 1500}},
    "grid": {"model": {"d_mlp": [16, 96]}, "optim": {"weight_decay": [0.0, 0.3]}, "task": {"frac_train": [0.3, 0.8]}},
}


def mean_ipr(path: Path) -> float:
    """Mean over neurons of Doshi's per-neuron IPR of a run's final weights."""
    from grokscope.analysis.neurons import model_neuron_ipr
    from grokscope.analysis.views import unstack
    from grokscope.store.run import load_run

    run = load_run(path)
    return float(model_neuron_ipr(unstack(run.params("final")), run.config.model, run.task().n).mean())


def _shares(df: Any, key: str) -> dict[float, float]:
    """Share of finished runs that generalised, per value of `key`."""
    done = df[df["liu_phase"].notna()]
    return {float(v): float(g["liu_phase"].isin(GENERALISED).mean()) for v, g in done.groupby(key)}


# The notebook's logged trajectory (its saved cell output, commit 808a8ea): step -> (L2 norm of all
# parameters, test accuracy). Its "step s" row is logged after s + 1 updates; ours after s. Test
# accuracy first reaches 0.5 at 38.8k, 0.95 at 40.1k, 0.99 at 40.8k.
NOTEBOOK_LOG = {
    0: (37.39, 0.0154), 1000: (53.51, 0.0088), 2500: (51.28, 0.0095), 5000: (50.35, 0.0095),
    7500: (50.09, 0.0088), 10000: (49.64, 0.0066), 12500: (49.15, 0.0080), 15000: (48.61, 0.0080),
    17500: (47.81, 0.0124), 20000: (46.41, 0.0161), 22500: (45.05, 0.0307), 25000: (42.86, 0.0475),
    27500: (41.95, 0.0534), 30000: (41.45, 0.0512), 32500: (40.39, 0.0651), 34800: (38.96, 0.1075),
    35000: (38.86, 0.1127), 37500: (37.13, 0.2436), 38000: (36.19, 0.3336), 38800: (34.78, 0.5069),
    40000: (32.05, 0.9356), 40100: (31.86, 0.9503), 42500: (29.67, 1.0000), 45000: (29.06, 1.0000),
    47500: (28.92, 1.0000), 50000: (28.86, 1.0000),
}
NOTEBOOK_CROSSINGS = {"t_test50": 38_800, "t_test95": 40_100, "t_test99": 40_800}


def notebook_model(out: Path, seed: int = 0, device: str = "cpu") -> Path:
    """The notebook's main model (preset pair2023_notebook: its split, seed 165), replicate `seed`
    (init seed and the np_legacy split's seed both shifted), trained or reused under `out`."""
    from grokscope.presets import load_preset
    from grokscope.reproduce.common import replicate, train_or_reuse

    cfg = replicate(load_preset("pair2023_notebook"), seed)
    if device != "cpu":
        cfg = cfg.override([f"train.device={device}"])
    return train_or_reuse([cfg], [out])[0]


def notebook_trajectory(path: Path) -> dict[str, Any]:
    """Weight norm and test accuracy of a run at every evaluation, its first step of test ≥ 0.5 and ≥ 0.95,
    and its train / test accuracy at step 10,000."""
    import json

    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "test_acc" in r]
    first = lambda t: next((r["step"] for r in rows if r["test_acc"] >= t), None)  # noqa: E731
    at = {r["step"]: r for r in rows}
    mid = at.get(10_000, {})
    return {"steps": [r["step"] for r in rows], "weight_norm": [r["weight_norm"] for r in rows],
            "test_acc": [r["test_acc"] for r in rows], "t_test50": first(0.5), "t_test95": first(0.95),
            "t_test99": first(0.99), "train_acc_10k": mid.get("train_acc"), "test_acc_10k": mid.get("test_acc"),
            "final_norm": rows[-1]["weight_norm"], "final_test_acc": rows[-1]["test_acc"]}


def beside_notebook(path: Path) -> dict[str, Any]:
    """A run's weight norm and test accuracy at the notebook's logged steps (`NOTEBOOK_LOG`; a step the
    run did not evaluate is read at the nearest evaluated one), beside the notebook's, and the crossings."""
    import json

    traj = notebook_trajectory(path)
    ours = dict(zip(traj["steps"], zip(traj["weight_norm"], traj["test_acc"], strict=True), strict=True))
    cfg = json.loads((path / "config.json").read_text())
    rows = []
    for step, (norm, acc) in NOTEBOOK_LOG.items():
        near = min(ours, key=lambda s: abs(s - step))
        rows.append({"step": step, "notebook_norm": norm, "notebook_test_acc": acc, "our_step": near,
                     "our_norm": round(ours[near][0], 3), "our_test_acc": round(ours[near][1], 4)})
    return {"run": path.name, "config": cfg, "rows": rows, "notebook": NOTEBOOK_CROSSINGS,
            "ours": {k: traj[k] for k in ("t_test50", "t_test95", "t_test99", "final_norm", "final_test_acc")}}


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    from grokscope.report.phase import sweep_phase_diagrams
    from grokscope.reproduce.common import train_or_reuse
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import expand, parse_spec

    res = Result("pair2023", TITLE, quick=quick)
    raw = SPEC_QUICK if quick else SPEC_FULL
    if seed:  # an independent replicate: the seed axis (train.seed, task.data_seed) shifted past this one's
        raw = {**raw, "seeds": [seed * raw["seeds"] + i for i in range(raw["seeds"])]}
    if device != "cpu":
        raw = {**raw, "set": {**raw["set"], "train": {**raw["set"]["train"], "device": device}}}
    spec = parse_spec(raw, source="grokscope.reproduce.pair2023")
    sweep_dir = out / "sweep"
    cfgs = expand(spec)
    # trained through train_or_reuse, so `reproduce(seeds=N)` stacks the replicates' runs; the sweep
    # then finds them finished and only writes its sweep.json and index
    train_or_reuse(cfgs, [sweep_dir / c.run_id for c in cfgs])
    sweep = run_sweep(spec, sweep_dir, workers=0)
    figures, df, _ = sweep_phase_diagrams(sweep_dir)
    df = df.assign(mean_ipr=[mean_ipr(Path(p)) if s == "finished" else float("nan")
                             for p, s in zip(df["path"], df["status"], strict=True)])
    by_width, by_frac, by_wd = _shares(df, "width"), _shares(df, "frac"), _shares(df, "wd")
    ipr_wd0 = float(df[df["wd"] == 0]["mean_ipr"].median())
    ipr_wd = float(df[df["wd"] > 0]["mean_ipr"].median())
    phases = df.groupby(["width", "liu_phase"]).size().unstack(fill_value=0)
    res.data = {"n_runs": sweep.n_runs, "finished": sweep.finished, "sweep_wall_s": round(sweep.wall_s, 1),
                "share_by_width": by_width, "share_by_frac": by_frac, "share_by_wd": by_wd,
                "median_ipr_wd0": ipr_wd0, "median_ipr_wd_pos": ipr_wd,
                "phases_by_width": {int(w): {str(k): int(v) for k, v in row.items()} for w, row in phases.iterrows()},
                "figures": [str(f) for f in figures]}

    for w, s in by_width.items():
        res.add(f"width {w:g}: share of runs that generalise (Liu: test ≥ 90%)", None, s,
                paper_text="grows with width", group="contingent on size")
    for f, s in by_frac.items():
        res.add(f"train fraction {f:g}: share that generalise", None, s, paper_text="grows with data", group="… on data")
    for wd, s in by_wd.items():
        res.add(f"weight decay {wd:g}: share that generalise", None, s,
                paper_text="0 without weight decay" if wd == 0 else None, group="… on weight decay")
    res.add("median mean-neuron IPR, weight decay 0", None, ipr_wd0, paper_text="lower", group="periodic neurons")
    res.add("median mean-neuron IPR, weight decay > 0", None, ipr_wd, paper_text="higher", group="periodic neurons")

    widths, fracs = sorted(by_width), sorted(by_frac)
    wide = by_width[widths[-1]] - by_width[widths[0]]
    res.claim(f"grokking is contingent on size: width {widths[-1]:g} generalises more often than width "
              f"{widths[0]:g}", wide > 0, wide, "share generalising (Liu: test ≥ 90%), widest minus narrowest")
    more = by_frac[fracs[-1]] - by_frac[fracs[0]]
    res.claim(f"grokking is contingent on data: train fraction {fracs[-1]:g} generalises more often than "
              f"{fracs[0]:g}", more > 0, more, "share generalising, largest minus smallest fraction")
    wd0 = by_wd.get(0.0)
    res.claim("grokking is contingent on weight decay: no run without weight decay generalises within the budget",
              None if wd0 is None else wd0 == 0.0, wd0, "share of the weight-decay-0 runs that generalise")
    best_wd = max((k for k in by_wd if k > 0), key=lambda k: by_wd[k])
    res.claim("control of the claim above: runs with weight decay generalise in the same sweep and budget",
              by_wd[best_wd] > 0, by_wd[best_wd], f"share generalising at weight decay {best_wd:g}")
    res.claim("weight decay makes neurons periodic: higher median mean-neuron IPR with weight decay than without",
              ipr_wd > ipr_wd0, ipr_wd - ipr_wd0, "median mean-neuron IPR, wd > 0 minus wd 0")

    main_memorises = "the notebook's main model on its own split memorises first: train accuracy 1, test below 0.1 at step 10,000"
    main_groks = "the notebook's main model on its own split groks within 50,000 steps (test accuracy ≥ 0.95)"
    if quick:  # one 50k-step model per seed: the full form's
        res.claim(main_memorises, None, rests_on="test accuracy at step 10,000")
        res.claim(main_groks, None, rests_on="first step with test accuracy ≥ 0.95")
    else:
        traj = notebook_trajectory(notebook_model(out / "notebook_model", seed, device))
        res.data["notebook_model"] = traj
        res.claim(main_memorises, traj["train_acc_10k"] == 1.0 and traj["test_acc_10k"] < 0.1,
                  traj["test_acc_10k"], "test accuracy at step 10,000")
        res.claim(main_groks, traj["t_test95"] is not None, traj["t_test95"], "first step with test accuracy ≥ 0.95")
        res.add("notebook's main model: first step of test accuracy ≥ 0.95", 40_100, traj["t_test95"],
                group="main model")
        res.add("notebook's main model: weight norm at 50k", 28.86, traj["final_norm"], group="main model")
    res.notes = [
        "the sweep runs at lr 3e-2 and a short budget (sweeps/pair_phase.toml says why); the article trains "
        "at lr 1e-3 for 50k steps, so 'never within the budget' is a statement about this budget",
        "Liu phases at 90% and a 10³-step delay; phase diagrams: " + ", ".join(Path(f).name for f in figures),
        "IPR in the one-sided rfft convention per neuron (mean over W_in as a- and b-weights and W_out)",
        "the article's main model is the notebook's tied model, `grokscope run --preset pair2023_notebook` "
        "(on the notebook's own split; pair2023_tied on ours); its trajectory beside the notebook's log is on "
        "docs/papers/pair2023.md; the article's folded-in formula (preset pair2023) at the notebook's lr 1e-3, "
        "wd 1, 50k steps reaches only 0.64 train accuracy",
    ]
    if quick:
        res.notes.append("quick mode: widths 16/96, wd 0/0.3, fractions 0.3/0.8, 2 seeds, 1,500 steps; "
                         "the notebook's main model (50k steps) only in the full form")
    return res


__all__ = ["NOTEBOOK_CROSSINGS", "NOTEBOOK_LOG", "SPEC_FULL", "SPEC_QUICK", "TITLE", "beside_notebook",
           "mean_ipr", "notebook_model", "notebook_trajectory", "reproduce"]


if __name__ == "__main__":  # python -m grokscope.reproduce.pair2023 RUN_DIR OUT.json: a run beside the notebook's log
    import json
    import sys

    Path(sys.argv[2]).write_text(json.dumps(beside_notebook(Path(sys.argv[1])), indent=1) + "\n")
