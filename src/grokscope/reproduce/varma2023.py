"""Varma et al. 2023 — ungrokking, semi-grokking and their hysteresis (docs/papers/varma2023.md).

The paper (a 1-layer transformer on modular arithmetic, p = 113) predicts a critical dataset size
D_crit: trained from scratch near it a model *semi-groks* (generalisation delayed and partial);
a grokked model continued on a training set below it *ungroks* (test accuracy falls); and the
two directions disagree — ungrokking runs keep ≈ 0.7 test accuracy down to ≈ 800–1,000 examples,
the semi-grokking run needed ≈ 2,000 to reach it (appendix A.2).

Ours, on CPU: the fast modular recipe (`swaroop2026_fast`: (a+b) mod p, two-hot → ReLU MLP → p,
AdamW lr 0.15, β₂ 0.95, wd 1, full batch, stratified split), one model per size per replicate (the
seeds are `reproduce`'s: `--seeds 3`, replicate s = init and data seed s; their runs train as one
ensemble per size, the continuations too):

1. from scratch, a fixed budget at each training fraction of a ladder (no early stop);
2. the largest size's models (grokked) continued, each on a smaller nested subset of its own
   training set (same data seed, smaller `task.frac_train`: a per-class prefix of the same
   permutation), for a fixed budget, with a fresh optimizer — and, as the control, on the same
   (full) training set;
3. per direction, the smallest size whose mean final test accuracy stays ≥ 0.7.

Full: p = 59, d_mlp 128, ladder 0.15–0.50, 4,000 steps from scratch, 2,000 continued (`--seeds 5`).
Quick: p = 59, d_mlp 128, ladder 0.2–0.5, 2,000 from scratch, 1,000 continued (~2–4 min for 3 seeds).

Test accuracy of a continued run is the engine's: on every pair outside its (smaller) training set,
i.e. the source's held-out pairs plus the training pairs it no longer sees — the same test set as
a from-scratch run at that size. Accuracy on the source's own held-out pairs is reported beside it.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result, first_replicate, replicate, train_or_reuse

log = logging.getLogger(__name__)

TITLE = "Varma et al. 2023: ungrokking, semi-grokking and their hysteresis (ReLU MLP, (a+b) mod p)"
LEVEL = 0.7  # the paper's hysteresis level of test accuracy
PAPER_TOTAL = 113 * 113  # the paper's task size (p = 113, every pair), for its sizes as fractions
PAPER_UNGROK = (800, 1000)  # ungrokking keeps ≈ 0.7 test accuracy down to ≈ 800–1,000 examples
PAPER_SCRATCH = 2000  # the semi-grokking run needed ≈ 2,000 to reach it
COMMON_SETS = ["train.stop_test_acc=2", "train.patience=0", "train.checkpoint_log_points=0"]
# Both at p = 59, d_mlp 128 (p = 97 with the preset's d_mlp 256 costs ~9x more per step); full has the
# finer ladder and twice the budgets (so the two show whether a plateau is budget-limited). "seeds": models per
# size within one replicate (1: the replicates are reproduce's seeds; replicate s = seed s, so `--seeds 3` trains
# the runs the earlier 3-model stacks of replicate 0 did, and the full form's published runs are `--seeds 5`).
SMALL = ["task.p=59", "model.d_mlp=128"]
SETTINGS: dict[bool, dict[str, Any]] = {
    False: {"sets": SMALL, "seeds": 1, "scratch": (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
            "ungrok": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35), "scratch_steps": 4000, "ungrok_steps": 2000},
    True: {"sets": SMALL, "seeds": 1, "scratch": (0.2, 0.3, 0.4, 0.5),
           "ungrok": (0.1, 0.2, 0.3), "scratch_steps": 2000, "ungrok_steps": 1000},
}


def configs(frac: float, steps: int, quick: bool, device: str = "cpu", seed: int = 0) -> list[Any]:
    """The setting's seeds at one training fraction (one ensemble stack: they differ in seeds only)."""
    from grokscope.presets import load_preset

    s = SETTINGS[quick]
    base = load_preset("swaroop2026_fast").override([
        *s["sets"], *COMMON_SETS, f"task.frac_train={frac}", f"train.steps={steps}",
        f"train.checkpoint_every={steps}", f"train.device={device}"])
    n = s["seeds"]
    return [replicate(base, seed * n + k) for k in range(n)]


def continued(source_cfg: Any, frac: float, share: float) -> Any:
    """A source run's config continued on `frac` of the pairs for `share` of its step budget
    (same seeds: with the same data seed the smaller training set is a subset of the source's)."""
    steps = max(1, round(source_cfg.train.steps * share))
    return source_cfg.override([f"task.frac_train={frac}", f"train.steps={steps}", f"train.checkpoint_every={steps}"])


def continue_from(cfgs: list[Any], paths: list[Path], sources: list[Path]) -> None:
    """Train `cfgs` into `paths`, each starting from the final checkpoint of `sources[i]`, as few
    stacks as possible. A finished continuation is reused only if its init.json names the same
    weights (a retrained source retrains what was continued from it)."""
    from grokscope.lifecycle import Policy, plan, stacks, train_stack
    from grokscope.report.curves import write_curves
    from grokscope.store.init_from import load_source, read_init, weights_hash, write_init

    src = {p: load_source(s) for p, s in zip(paths, sources, strict=True)}
    info = {p: {**s.info(), "weights_hash": weights_hash(s.params)} for p, s in src.items()}
    for p in paths:
        old = read_init(p) if p.exists() else None
        if p.exists() and (old is None or old.get("weights_hash") != info[p]["weights_hash"]):
            shutil.rmtree(p)  # continued from other weights (or unknown): not this experiment's run
    jobs, _ = plan(cfgs, paths, Policy.resume)

    def provenance(cfg: Any, path: Path) -> list:
        write_init(path, info[path])  # the directory exists now; before step 0
        return []

    for group in stacks(jobs):
        fresh = group[0].start == 0
        train_stack(group, sinks=provenance if fresh else None,
                    init=[src[j.path].params for j in group] if fresh else None)
        for j in group:
            write_curves(j.path)


def continuations(root: Path, quick: bool) -> tuple[list[Any], list[Path], list[Path]]:
    """The continuation runs of the replicate in `root` (configs, paths, their source runs): the largest size's
    finished models, each continued on every smaller size of the ungrokking ladder and on its own size."""
    from grokscope.store.run import load_run

    s = SETTINGS[quick]
    source_frac = max(s["scratch"])
    sources = [root / "scratch" / f"frac_{source_frac:.3f}_s{k}" for k in range(s["seeds"])]
    share = s["ungrok_steps"] / s["scratch_steps"]
    cfgs, paths, srcs = [], [], []
    for f in [*s["ungrok"], source_frac]:
        for k, src in enumerate(sources):
            cfgs.append(continued(load_run(src).config, f, share))
            paths.append(root / "ungrok" / f"from_{source_frac:.2f}_to_{f:.3f}_s{k}")
            srcs.append(src)
    return cfgs, paths, srcs


def _replicates_ready(out: Path, quick: bool, sources: list[Path]) -> list[Path]:
    """While `reproduce(seeds=N)` defers training (its replicates in sibling `seed<N>` folders), the other
    replicates whose from-scratch sources are finished and of this form: their continuations are trained in
    the same call as ours, one stack per size over the replicates (`continue_from` trains directly, outside
    the deferral)."""
    from grokscope.reproduce import common
    from grokscope.store.run import load_run
    from grokscope.store.rundir import is_finished
    from grokscope.train.loop import stack_key

    if common._pending is None:
        return []
    key = stack_key(load_run(sources[0]).config)  # seeds aside: the same form
    ready = []
    for other in sorted(out.parent.glob("seed*")):
        theirs = [other / "scratch" / p.name for p in sources]
        if other == out or not all(p.is_dir() and is_finished(p) for p in theirs):
            continue
        if stack_key(load_run(theirs[0]).config) == key:
            ready.append(other)
    return ready


def _summarise(path: Path, held_out: Any = None) -> dict[str, Any]:
    """One run's numbers: final accuracies, the test accuracy at half the budget (still rising?),
    when training accuracy reached 99% and when test accuracy rose (half its final value)."""
    from grokscope.store.run import load_run

    run = load_run(path)
    rows = run.rows()
    last = rows[-1]
    steps = int(last["step"])
    half = min(rows, key=lambda r: abs(r["step"] - steps / 2))
    final = float(last["test_acc"])
    rise = next((int(r["step"]) for r in rows if final >= 0.2 and r["test_acc"] >= final / 2), None)
    out = {"final_test_acc": final, "final_train_acc": float(last["train_acc"]),
           "half_budget_test_acc": float(half["test_acc"]), "min_test_acc": float(min(r["test_acc"] for r in rows)),
           "start_test_acc": float(rows[0]["test_acc"]), "t_train99": (run.summary or {}).get("t_train99"),
           "t_rise": rise, "steps": steps}
    if held_out is not None:  # accuracy on the source's own held-out pairs
        pred = run.logits("final").argmax(1).numpy()
        out["held_out_test_acc"] = float((pred[held_out] == run.task().c[held_out]).mean())
    return out


def _threshold(by_frac: dict[float, float], level: float = LEVEL) -> float | None:
    """The smallest fraction from which every larger one on the ladder has mean test acc ≥ level."""
    ok = None
    for f in sorted(by_frac, reverse=True):
        if by_frac[f] < level:
            break
        ok = f
    return ok


def _mean(xs: list[float | None]) -> float:
    """The mean of the values that exist (nan if none: e.g. no seed's test accuracy rose)."""
    got = [x for x in xs if x is not None]
    return sum(got) / len(got) if got else float("nan")


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    from grokscope.store.run import load_run
    from grokscope.tasks import split_counts

    s = SETTINGS[quick]
    n_seeds = s["seeds"]
    res = Result("varma2023", TITLE, quick=quick)
    source_frac = max(s["scratch"])
    timing: dict[str, float] = {}

    # (a) from scratch at every size of the ladder (one stack of n_seeds per size)
    t0 = time.perf_counter()
    scratch_cfgs = {f: configs(f, s["scratch_steps"], quick, device, seed) for f in s["scratch"]}
    scratch_paths = {f: [out / "scratch" / f"frac_{f:.3f}_s{k}" for k in range(n_seeds)] for f in s["scratch"]}
    train_or_reuse([c for f in s["scratch"] for c in scratch_cfgs[f]], [p for f in s["scratch"] for p in scratch_paths[f]])
    timing["scratch_s"] = round(time.perf_counter() - t0, 1)

    # (b) the largest size's (grokked) models continued on nested subsets, and on their own set (control)
    t0 = time.perf_counter()
    sources = scratch_paths[source_frac]
    targets = [*s["ungrok"], source_frac]
    # each source run's own config with a smaller training set (as `grokscope run --init-from` does)
    cont = [continuations(root, quick) for root in [out, *_replicates_ready(out, quick, sources)]]
    continue_from(*(sum((c[i] for c in cont), []) for i in range(3)))
    ung_cfgs = {f: [c for c in cont[0][0] if c.task.frac_train == f] for f in targets}
    ung_paths = {f: [out / "ungrok" / f"from_{source_frac:.2f}_to_{f:.3f}_s{k}" for k in range(n_seeds)] for f in targets}
    timing["ungrok_s"] = round(time.perf_counter() - t0, 1)

    held_out = [load_run(p).split().test_idx for p in sources]  # each source's own test pairs
    src_cfg, task = load_run(sources[0]).config, load_run(sources[0]).task()
    n_pairs = sum(split_counts(src_cfg.task, task))
    n_train = {f: split_counts(continued(src_cfg, f, 1.0).task, task)[0] for f in {*s["scratch"], *targets}}
    rows: list[dict[str, Any]] = []
    for f in s["scratch"]:
        for k, p in enumerate(scratch_paths[f]):
            rows.append({"direction": "scratch", "frac_train": f, "n_train": n_train[f], "seed": k, **_summarise(p)})
    for f in targets:
        for k, p in enumerate(ung_paths[f]):
            rows.append({"direction": "control" if f == source_frac else "ungrok", "frac_train": f,
                         "n_train": n_train[f], "seed": k, **_summarise(p, held_out[k])})
    res.data.update({"runs": rows, "n_pairs": n_pairs, "p": src_cfg.task.p, "source_frac": source_frac,
                     "scratch_steps": src_cfg.train.steps, "ungrok_steps": ung_cfgs[source_frac][0].train.steps,
                     "seeds": n_seeds,
                     "timing": timing})

    def per(direction: str, key: str = "final_test_acc") -> dict[float, float]:
        fr = sorted({r["frac_train"] for r in rows if r["direction"] == direction})
        return {f: _mean([r[key] for r in rows if r["direction"] == direction and r["frac_train"] == f]) for f in fr}

    scratch, ungrok, control = per("scratch"), per("ungrok"), per("control")
    res.data.update({"scratch_mean": scratch, "ungrok_mean": ungrok, "control_mean": control,
                     "ungrok_held_out_mean": per("ungrok", "held_out_test_acc"),
                     "scratch_half_budget_mean": per("scratch", "half_budget_test_acc"),
                     "ungrok_half_budget_mean": per("ungrok", "half_budget_test_acc"),
                     # the lowest test acc on the way: a fresh optimizer's first steps dip every continuation
                     "ungrok_min_mean": per("ungrok", "min_test_acc"), "control_min_mean": per("control", "min_test_acc")})

    # (c) the hysteresis: the smallest size keeping / reaching LEVEL in each direction
    th_scratch = _threshold(scratch)
    th_ungrok = _threshold({**ungrok, **control})
    frac_of = lambda f: None if f is None else n_train[f] / n_pairs  # noqa: E731 — stratified: ≈ f
    ratio = None if th_scratch is None or th_ungrok is None else n_train[th_ungrok] / n_train[th_scratch]
    res.data.update({"threshold_scratch": th_scratch, "threshold_ungrok": th_ungrok, "threshold_ratio": ratio})

    g = "sizes as fractions of the task"
    res.add(f"from scratch reaches test acc ≥ {LEVEL} from (fraction of pairs)",
            PAPER_SCRATCH / PAPER_TOTAL, frac_of(th_scratch),
            paper_text=f"≈ {PAPER_SCRATCH / PAPER_TOTAL:.3f} (≈ 2,000 of 12,769)", group=g)
    res.add(f"ungrokking keeps test acc ≥ {LEVEL} down to (fraction of pairs)",
            _mean([*PAPER_UNGROK]) / PAPER_TOTAL, frac_of(th_ungrok),
            paper_text=f"≈ {PAPER_UNGROK[0] / PAPER_TOTAL:.3f}–{PAPER_UNGROK[1] / PAPER_TOTAL:.3f} (800–1,000 of 12,769)",
            group=g)
    res.add("ratio of the two sizes (ungrokking / from scratch)", _mean([*PAPER_UNGROK]) / PAPER_SCRATCH, ratio,
            paper_text="≈ 0.40–0.50", group=g)
    for f in s["scratch"]:
        res.add(f"scratch {f:.2f} ({n_train[f]} pairs): test acc", None, scratch[f], group="from scratch")
    for f in sorted(ungrok):
        res.add(f"ungrok {source_frac:.2f} → {f:.2f}: test acc", None, ungrok[f], group="ungrokking")
    res.add(f"control {source_frac:.2f} → {source_frac:.2f}: test acc", None, control[source_frac], group="ungrokking")

    # --- claims
    smallest_u = min(ungrok)
    partial = [f for f in s["scratch"] if 0.2 <= scratch[f] <= 0.9]
    big_rise = _mean([r["t_rise"] for r in rows if r["direction"] == "scratch" and r["frac_train"] == source_frac])
    # a seed that stayed below 0.2 has no rise: the size's rise is its seeds' that rose
    delayed = {f: _mean([r["t_rise"] for r in rows if r["direction"] == "scratch" and r["frac_train"] == f])
               for f in partial}
    res.data.update({"semi_grokking_fracs": partial, "t_rise_source": big_rise, "t_rise_partial": delayed})
    below = [f for f in ungrok if f in scratch]
    smallest_s = min(scratch)
    generalises = scratch[source_frac] >= 0.99
    ung_rows = [r for r in rows if r["direction"] == "ungrok"]
    res.claim(f"from scratch at the largest size ({source_frac:.2f}) the model generalises (test acc ≥ 0.99)",
              generalises, scratch[source_frac], f"test acc from scratch at {source_frac:.2f}")
    # "does not generalise" stands beside the largest size of the same run, which does (the claim above)
    res.claim(f"from scratch at the smallest size ({smallest_s:.2f}) the model memorises: train acc ≥ 0.99, test acc < 0.1",
              generalises and scratch[smallest_s] < 0.1 and per("scratch", "final_train_acc")[smallest_s] >= 0.99,
              scratch[smallest_s], f"test acc from scratch at {smallest_s:.2f}")
    res.claim("semi-grokking: a size from scratch ends partial (test acc 0.2–0.9), its rise later than the largest size's",
              bool(partial) and all(delayed[f] > big_rise for f in partial),
              min((delayed[f] / big_rise for f in partial if big_rise), default=None),
              "t_rise at the partial size / at the largest")
    res.claim(f"ungrokking: grokked models continued on the smallest subset ({smallest_u:.2f}) fall to test acc < 0.1",
              ungrok[smallest_u] < 0.1 and _mean([r["start_test_acc"] for r in ung_rows]) >= 0.99,
              ungrok[smallest_u], f"test acc after continuing on {smallest_u:.2f}")
    held = per("ungrok", "held_out_test_acc")[smallest_u]
    res.claim("ungrokking: on the source's own held-out pairs the continued models fall below 0.1 as well",
              held < 0.1, held, "test acc on the source's held-out pairs")
    # the ungrokking claims stand beside this control of the same run, which keeps its test accuracy
    res.claim("control: continued on the same training set the grokked models keep test acc ≥ 0.99",
              control[source_frac] >= 0.99, control[source_frac], f"test acc after continuing on {source_frac:.2f}")
    res.claim("ungrokked models still fit their (smaller) training set (train acc ≥ 0.99)",
              all(r["final_train_acc"] >= 0.99 for r in ung_rows),
              min((r["final_train_acc"] for r in ung_rows), default=None), "lowest final train acc, ungrokking")
    res.claim(f"hysteresis: the ungrokking direction keeps test acc ≥ {LEVEL} at a smaller size than from scratch reaches it",
              th_ungrok is not None and th_scratch is not None and th_ungrok < th_scratch, ratio,
              "ratio of the two sizes (ungrokking / from scratch)")
    gain = max((ungrok[f] - scratch[f] for f in below), default=None)
    res.claim("hysteresis: at some size the continued models beat the from-scratch ones by ≥ 0.2 test acc",
              gain is not None and gain >= 0.2, gain, "largest test-acc gain of continued over from-scratch")
    res.notes = [
        f"regime: {'quick' if quick else 'full'} — (a+b) mod {src_cfg.task.p} (swaroop2026_fast: two-hot → "
        f"{src_cfg.model.d_mlp} ReLU → p, AdamW lr 0.15 β₂ 0.95 wd 1, full batch, stratified), "
        f"{n_seeds} model(s) per size; {res.data['scratch_steps']:,} steps from scratch, {res.data['ungrok_steps']:,} continued "
        "with a fresh optimizer",
        f"sizes are training fractions of the {n_pairs:,} pairs; the paper's are examples of p² = 12,769 (p = 113), "
        "shown as fractions; the thresholds are read on our ladder (resolution: its spacing)",
        "a continued run's test set is every pair outside its smaller training set (the source's held-out pairs "
        "plus the training pairs it no longer sees), as for a from-scratch run of that size; its accuracy on "
        "the source's own held-out pairs is in data (ungrok_held_out_mean)",
        "fixed budgets: test accuracy at half the budget is in data (…_half_budget_mean) to show which sizes "
        "were still moving",
    ]
    _figure(res, rows, out)
    return res


def _figure(res: Result, rows: list[dict[str, Any]], out: Path) -> None:
    """hysteresis.csv beside reproduce.json, and hysteresis.png in the first replicate's folder (a figure never
    costs the result)."""
    from grokscope.report.ungrokking import plot_hysteresis, write_hysteresis_csv

    out.mkdir(parents=True, exist_ok=True)
    try:
        write_hysteresis_csv(rows, out / "hysteresis.csv")
        if not first_replicate(out):  # over seeds the figure is drawn once
            return
        d = res.data
        plot_hysteresis(rows, out / "hysteresis.png", source_frac=d["source_frac"], level=LEVEL,
                        title=f"(a+b) mod {d['p']}, {d['seeds']} model(s) per size: {d['scratch_steps']:,} steps from scratch; "
                              f"grokked at {d['source_frac']:.2f}, then {d['ungrok_steps']:,} steps on the subset")
    except Exception as e:  # noqa: BLE001 — matplotlib or disk: log it, keep the numbers
        log.warning("could not draw the hysteresis figure: %s", e)


__all__ = ["SETTINGS", "TITLE", "configs", "continue_from", "continued", "reproduce"]
