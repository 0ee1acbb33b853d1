"""Merrill, Tsilivis, Shukla 2023 (with Barak et al. 2022) — sparse parity groks, and the progress
hides in the weights (docs/papers/merrill2023.md).

Main: the `merrill2023` preset ((n, k) = (40, 3), 1,000 samples, 40 → 1000 → 2 ReLU, SGD lr 0.1,
wd 0.01, batch 32) over several seeds as one ensemble, evaluated every 50 steps and checkpointed
every 250. Per seed: t_train99, t_val99, the transition's width (steps from 60% to 95% test
accuracy), and over the checkpoints the hidden-progress measures (`analysis.hidden_progress`):
‖w − w_0‖ and the relevant-bit neuron picture, read at the last checkpoint before test accuracy
leaves chance (first ≥ 55%) and at grokking.
Control: the same seeds with weight decay 0 (the claim fails: no grokking within the control
budget, a multiple of the main runs' t_val99, while the main runs of the same reproduction grok).
Scaling: t_val99 for n = 20, 30, 40 (and 50 in the full form) at k = 3, N = 1,000. Third-party
point: (n, k) = (20, 3) with 500 samples.

Quick: control budget 40k steps, n = 20, 30, 40. Full: control budget 100k steps, n up to 50, and a
second control with 300 samples. One model per arm per replicate: the seeds are `reproduce`'s
(`--seeds 3` for the quick form, `--seeds 5` for the full form's published runs; replicate s = init and
data seed s), trained as one stack per arm; the claims are read per replicate and merged over them. Every model is the paper's size: one K = 3
stack trains at about 1.2 ms per step on one CPU thread, so nothing needs scaling down.
"""

from __future__ import annotations

import logging
import math
import statistics
from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result, first_replicate, replicate, train_or_reuse

log = logging.getLogger(__name__)

TITLE = "Merrill et al. 2023 / Barak et al. 2022: sparse parity (40, 3) groks; hidden progress in the weights"
# every model: dense evaluation and checkpoints for the transition and the hidden-progress series
SCHEDULE = ["train.eval_every=50", "train.eval_log_points=20", "train.checkpoint_every=250",
            "train.checkpoint_log_points=10", "train.steps=30000"]
# controls never stop early: sparse checkpoints, a longer budget
CONTROL_SCHEDULE = ["train.eval_every=500", "train.eval_log_points=20", "train.checkpoint_every=5000",
                    "train.checkpoint_log_points=5"]
CHANCE_END = 0.55  # test accuracy that marks "left chance" (3 sd of a 1,000-string test set above 0.5)
THIRD_PARTY_N20_STEPS = 832  # (n, k) = (20, 3), 500 samples, 99% test accuracy (a third-party replication, one run)


def _seeded(cfg: Any, n_seeds: int, seed: int) -> list[Any]:
    """n_seeds copies with init and data seeds seed·n_seeds + 0..n-1 (n_seeds = 1: replicate s is seed s, so
    replicates 0, 1, 2 train the runs that the earlier 3-model stacks of replicate 0 did)."""
    return [replicate(cfg.override(["train.seed=0", "task.data_seed=0"]), seed * n_seeds + i) for i in range(n_seeds)]


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> dict[str, list[Any]]:
    """Arm name -> the configs of its seeds (each arm one ensemble stack)."""
    from grokscope.presets import load_preset

    n_seeds = 1  # models per arm within one replicate: the replicates are reproduce's seeds
    base = load_preset("merrill2023").override([*SCHEDULE, f"train.device={device}"])
    control_steps = 40000 if quick else 100000
    control = base.override([*CONTROL_SCHEDULE, f"train.steps={control_steps}"])
    arms = {"main": base, "wd0": control.override(["optim.weight_decay=0"])}
    if not quick:
        arms["n_train300"] = control.override(["task.n_train=300"])
    for n in (20, 30) if quick else (20, 30, 50):
        arms[f"n{n}"] = base.override([f"task.n_bits={n}", *(["train.steps=100000"] if n == 50 else [])])
    arms["n20_N500"] = base.override(["task.n_bits=20", "task.n_train=500"])
    return {arm: _seeded(cfg, n_seeds, seed) for arm, cfg in arms.items()}


def series(path: Path) -> list[dict[str, float]]:
    """Per checkpoint: train/test accuracy (NaN off the evaluation grid) and the hidden-progress measures."""
    from grokscope.analysis.hidden_progress import distance_from_init, sparse_neuron_stats
    from grokscope.analysis.views import unstack
    from grokscope.store.run import load_run

    run = load_run(path)
    family, relevant = run.family(), run.task().meta["relevant"]
    metrics = {r["step"]: r for r in run.rows()}
    steps = run.checkpoint_steps()
    w0 = run.params(steps[0])
    out = []
    for step in steps:
        params = run.params(step)
        m = metrics.get(step, {})
        w_in, _ = family.neuron_input_weights(unstack(params))
        d = distance_from_init(params, w0)
        out.append({"step": step, "train_acc": m.get("train_acc", math.nan), "test_acc": m.get("test_acc", math.nan),
                    "dist_init": d["dist_init"], "dist_init_W_in": d["dist_init_W_in"],
                    **sparse_neuron_stats(w_in, relevant)})
    return out


def _first(rows: list[dict[str, Any]], key: str, x: float) -> int | None:
    from grokscope.events import first_step

    return first_step(rows, key, x)


def per_seed(path: Path) -> dict[str, Any]:
    """Events and the hidden-progress numbers of one run."""
    from grokscope.store.run import load_run

    run = load_run(path)
    s, rows = run.summary or {}, run.rows()
    out: dict[str, Any] = {k: s.get(k) for k in ("t_train99", "t_val99", "steps", "final_test_acc", "best_test_acc")}
    out.update(t_val55=_first(rows, "test_acc", CHANCE_END), t_val60=_first(rows, "test_acc", 0.6),
               t_val95=_first(rows, "test_acc", 0.95))
    if out["t_val60"] is not None and out["t_val95"] is not None:
        out["width_60_95"] = out["t_val95"] - out["t_val60"]
        out["width_rel"] = out["width_60_95"] / out["t_val99"] if out["t_val99"] else None
    ser = series(path)
    out["series"] = ser
    first, last = ser[0], ser[-1]
    out["init"] = {k: first[k] for k in ("top_rest_ratio", "rel_enrichment", "top_norm_share", "n_sparse_neurons")}
    out["final"] = {k: last[k] for k in ("step", "test_acc", "dist_init", "top_rest_ratio", "rel_enrichment",
                                         "top_norm_share", "n_sparse_neurons")}
    # the last evaluated checkpoint while test accuracy is still at chance (before it first reaches 55%)
    end = out["t_val55"] if out["t_val55"] is not None else math.inf
    hidden = [r for r in ser if 0 < r["step"] < end and not math.isnan(r["test_acc"])]
    if hidden and out["t_val99"] is not None:
        h = hidden[-1]
        out["hidden"] = {k: h[k] for k in ("step", "test_acc", "dist_init", "top_rest_ratio", "rel_enrichment",
                                           "top_norm_share", "n_sparse_neurons")}
        out["dist_frac_hidden"] = h["dist_init"] / last["dist_init"]
        out["top_rest_growth_hidden"] = h["top_rest_ratio"] / first["top_rest_ratio"]
        # the first checkpoint whose top/rest ratio is twice its initial value, and its lead on t_val60
        lead = next((r["step"] for r in ser if r["top_rest_ratio"] >= 2 * first["top_rest_ratio"]), None)
        out["t_top_rest_x2"] = lead
        out["lead_steps"] = None if lead is None or out["t_val60"] is None else out["t_val60"] - lead
    return out


def _median(xs: list[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fit_exponent(ns: list[int], ts: list[float | None]) -> float | None:
    """Least-squares slope of log t against log n (None with fewer than two points)."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts, strict=True) if t]
    if len(pts) < 2:
        return None
    mx, my = (sum(p[i] for p in pts) / len(pts) for i in (0, 1))
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    res = Result("merrill2023", TITLE, quick=quick)
    cfgs = configs(quick, device, seed)
    paths = {arm: [out / "runs" / arm / f"seed{i}" for i in range(len(cs))] for arm, cs in cfgs.items()}
    train_or_reuse([c for cs in cfgs.values() for c in cs], [p for ps in paths.values() for p in ps])
    per = {arm: [per_seed(p) for p in ps] for arm, ps in paths.items()}
    main, wd0 = per["main"], per["wd0"]
    budget_main = cfgs["main"][0].train.steps
    budget_ctl = cfgs["wd0"][0].train.steps
    res.data = {arm: [{k: v for k, v in d.items() if k != "series"} for d in ds] for arm, ds in per.items()}
    res.data["series"] = {arm: [d["series"] for d in per[arm]] for arm in ("main", "wd0")}
    res.data["budgets"] = {"main": budget_main, "control": budget_ctl}
    from grokscope.report.parity import plot_hidden_progress

    if first_replicate(out):  # over seeds the figure is drawn once
        plot_hidden_progress(res.data["series"]["main"], res.data["series"]["wd0"], out / "hidden_progress.png")

    def col(ds: list[dict[str, Any]], key: str) -> list[Any]:
        return [d.get(key) for d in ds]

    n_seeds = len(main)
    # --- the main setting
    g = "(40, 3), N = 1000" + (f": {n_seeds} seeds (median; min–max in data)" if n_seeds > 1 else "")
    res.add("t_train99 (steps)", None, _median(col(main, "t_train99")), group=g)
    res.add("t_val99: grokking step", None, _median(col(main, "t_val99")), group=g,
            paper_text="groks (step not given)")
    res.add("steps from 60% to 95% test acc", None, _median(col(main, "width_60_95")), group=g,
            paper_text="abrupt")
    res.add("  as a fraction of t_val99", None, _median(col(main, "width_rel")), group=g)
    g = "hidden progress (last checkpoint with test acc < 55%)"
    res.add("‖w − w0‖ there / at grokking", None, _median(col(main, "dist_frac_hidden")), group=g,
            paper_text="grows before the jump")
    res.add("top-8/rest relevant-norm ratio there / at init", None, _median(col(main, "top_rest_growth_hidden")),
            group=g, paper_text="few neurons grow")
    res.add("lead of 2× top/rest ratio on t_val60 (steps)", None, _median(col(main, "lead_steps")), group=g)
    res.add("relevant share ÷ k/n at grokking (1 = random)", None,
            _median([d["final"]["rel_enrichment"] for d in main]), group=g)
    res.add("first-layer norm share of the top 8 neurons: init", None,
            _median([d["init"]["top_norm_share"] for d in main]), group=g)
    res.add("first-layer norm share of the top 8 neurons: grokking", None,
            _median([d["final"]["top_norm_share"] for d in main]), group=g, paper_text="sparse subnetwork")
    # --- scaling in n (k = 3, N = 1000)
    ns = sorted(int(arm[1:]) for arm in per if arm.startswith("n") and arm[1:].isdigit()) + [40]
    ns = sorted(ns)
    arm_of = {n: "main" if n == 40 else f"n{n}" for n in ns}
    t_med = {n: _median(col(per[arm_of[n]], "t_val99")) for n in ns}
    solved = {n: sum(t is not None for t in col(per[arm_of[n]], "t_val99")) for n in ns}
    g = "scaling: t_val99" + (" (median)" if n_seeds > 1 else "") + ", k = 3, N = 1000"
    for n in ns:
        res.add(f"n = {n} ({solved[n]}/{n_seeds} seeds grok)", None, t_med[n], group=g)
    expo = _fit_exponent(ns, [t_med[n] for n in ns])
    res.add("fitted exponent of t_val99 ∝ n^a", None, expo, group=g, paper_text="n^O(k)")
    g = "third-party point: (20, 3), 500 samples"
    res.add("steps to 99% test acc", THIRD_PARTY_N20_STEPS, _median(col(per["n20_N500"], "t_val99")), group=g,
            relative=True)
    # --- the controls
    g = f"control: weight decay 0 (budget {budget_ctl})"
    res.add("seeds reaching 99% test acc", None, float(sum(t is not None for t in col(wd0, "t_val99"))), group=g)
    res.add("best test acc (max over seeds)", None, max(col(wd0, "best_test_acc")), group=g)
    res.add("top-8/rest relevant-norm ratio at the end", None, _median([d["final"]["top_rest_ratio"] for d in wd0]),
            group=g)
    if "n_train300" in per:
        n3 = per["n_train300"]
        g = f"control: 300 samples (budget {budget_ctl})"
        res.add("seeds reaching 99% test acc", None, float(sum(t is not None for t in col(n3, "t_val99"))), group=g)
        res.add("best test acc (max over seeds)", None, max(col(n3, "best_test_acc")), group=g)

    # --- claims (each over this replicate's models: one per arm)
    t99 = col(main, "t_val99")
    groks = all(t is not None for t in t99)
    slowest = max(t for t in t99 if t is not None) if any(t is not None for t in t99) else None
    hidden_ok = groks and all(d.get("hidden") for d in main)

    def worst(xs: list[Any], low: bool = True) -> float | None:  # the value the claim's verdict rests on
        xs = [x for x in xs if x is not None]
        return (min(xs) if low else max(xs)) if xs else None

    res.claim(f"(40, 3) groks: test acc reaches 99% within {budget_main} steps", groks, slowest,
              "t_val99, the grokking step")
    res.claim("grokking is delayed: t_val99 ≥ 3 × t_train99",
              groks and all(d["t_val99"] >= 3 * (d["t_train99"] or math.inf) for d in main),
              worst([d["t_val99"] / d["t_train99"] if d["t_val99"] and d["t_train99"] else None for d in main]),
              "t_val99 / t_train99")
    res.claim("the transition is abrupt: 60% → 95% test acc within half of t_val99",
              groks and all((d.get("width_rel") or 1.0) <= 0.5 for d in main),
              worst([d.get("width_rel") for d in main], low=False), "steps from 60% to 95% test acc / t_val99")
    steady = [min(b["dist_init"] / a["dist_init"] for a, b in zip(d["series"], d["series"][1:]) if a["dist_init"] > 0)
              for d in main]
    res.claim("hidden progress is steady: ‖w − w0‖ rises from each checkpoint to the next",
              all(x > 1 for x in steady), worst(steady), "smallest ‖w − w0‖ ratio between checkpoints")
    res.claim("hidden progress: ‖w − w0‖ has covered ≥ 75% of its grokking value while test acc < 55%",
              hidden_ok and all(d["dist_frac_hidden"] >= 0.75 for d in main),
              worst([d.get("dist_frac_hidden") for d in main]), "‖w − w0‖ there / at grokking")
    res.claim("hidden progress: the top-8/rest relevant-norm ratio has grown ≥ 2× while test acc < 55%",
              hidden_ok and all(d["top_rest_growth_hidden"] >= 2 for d in main),
              worst([d.get("top_rest_growth_hidden") for d in main]), "top-8/rest ratio there / at init")
    res.claim("sparse subnetwork: at grokking the top 8 neurons hold ≥ 10× their initial share of the first-layer norm",
              groks and all(d["final"]["top_norm_share"] >= 10 * d["init"]["top_norm_share"] for d in main),
              worst([d["final"]["top_norm_share"] / d["init"]["top_norm_share"] for d in main]),
              "top-8 norm share at grokking / at init")
    rises = [t_med[b] / t_med[a] if t_med[a] and t_med[b] else None for a, b in zip(ns, ns[1:])]
    res.claim(f"scaling: t_val99 rises with n ({', '.join(map(str, ns))})",
              all(x is not None and x > 1 for x in rises), worst(rises),
              "smallest ratio of t_val99 between neighbouring n")
    # the "does not grok" claims stand beside the main runs of the same reproduction, which do (the first claim)
    best_wd0 = worst(col(wd0, "best_test_acc"), low=False)
    res.claim(f"control: with weight decay 0 the model does not reach 60% test acc in {budget_ctl} steps",
              groks and all((d["best_test_acc"] or 1.0) < 0.6 for d in wd0), best_wd0,
              "best test acc of the weight-decay-0 control")
    res.claim("the control's budget is ≥ 4× the main t_val99 (and the main model groks)",
              groks and slowest is not None and budget_ctl >= 4 * slowest,
              None if not slowest else budget_ctl / slowest, "control budget / main t_val99")
    n3 = per.get("n_train300")
    res.claim(f"control: with 300 samples the model does not reach 99% test acc in {budget_ctl} steps",
              None if n3 is None else groks and all(d["t_val99"] is None for d in n3),
              None if n3 is None else worst(col(n3, "best_test_acc"), low=False),
              "best test acc of the 300-sample control")
    res.notes = [
        "loss: two-class softmax cross-entropy (ours); third-party write-ups quote Barak et al.'s MLP runs "
        "with the hinge loss (train.loss = hinge; scripts/parity_hinge_point.py measures it on the third-party (20, 3) point)",
        "PyTorch default init, output bias on; a fresh test set of 1,000 strings per seed; evaluation every 50 steps "
        "(t_val99 is a multiple of 50 past the log-spaced early evaluations)",
        "top-8 = 2^k neurons; 'left chance' = first test acc ≥ 55% (3 sd of 1,000 strings above 0.5)",
        "scaling at a fixed N = 1,000 mixes sample and step complexity: Barak et al.'s n^O(k) is for fresh samples",
    ]
    if quick:
        res.notes.append("quick: control budget 40k steps (full 100k), n = 20, 30, 40 (full adds 50) "
                         "and no 300-sample control (not tested at this scale) — the models themselves are the paper's size")
    return res


__all__ = ["TITLE", "configs", "per_seed", "reproduce", "series"]
