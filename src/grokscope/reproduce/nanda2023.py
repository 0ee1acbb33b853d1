"""Nanda et al. 2023 — progress measures for grokking (PAPERS.md §2.2).

Full: the nanda2023 preset (1-layer transformer, p = 113, 30% train, full-batch AdamW lr 1e-3,
wd 1, β (0.9, 0.98), float64 loss) for 10,000 steps, plus the same model at wd 0 (trained in one
ensemble: weight decay is a per-model setting). The main run is analysed at every checkpoint
(restricted / excluded loss, Gini of W_L, Σθ²) and the phase boundaries located by
`analysis.phases.phase_events`; the paper's are memorisation ≈ 0–1.4k, circuit formation
≈ 1.4k–9.4k, cleanup ≈ 9.4k–14k.

Quick: p = 23, d_model 64, d_mlp 128, 70% train, lr 3e-3, 2,000 steps; wd 1 vs wd 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result, replicate, train_or_reuse

log = logging.getLogger(__name__)

TITLE = "Nanda et al. 2023: progress measures for grokking (1-layer transformer, (a+b) mod p)"
FULL_STEPS = 10_000
QUICK_SETS = ["task.p=23", "task.frac_train=0.7", "model.d_model=64", "model.d_mlp=128", "optim.lr=3e-3",
              "train.steps=2000", "train.eval_every=50", "train.checkpoint_every=100",
              "train.checkpoint_log_points=6"]
PAPER = {"t_mem_end": 1400, "t_circuit": 1400, "t_cleanup": 9400, "t_val99": 10000, "n_keys": 5}


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> list[Any]:
    from grokscope.presets import load_preset

    sets = QUICK_SETS if quick else [f"train.steps={FULL_STEPS}"]
    base = replicate(load_preset("nanda2023").override([*sets, f"train.device={device}"]), seed)
    return [base, base.override(["optim.weight_decay=0"])]


def analyze_main(path: Path) -> dict[str, Any]:
    """Progress measures at every checkpoint of the main (wd 1) run, with the *final* model's key
    frequencies held fixed (as in the paper: the excluded loss removes the eventual algorithm's
    frequencies), and the phase events located on that series."""
    from grokscope.analysis.fourier import key_frequencies, unembed_freq_norms, unstack
    from grokscope.analysis.phases import phase_events
    from grokscope.analysis.progress import progress_measures
    from grokscope.store.run import load_run

    run = load_run(path)
    model, task, split, cfg = run.model(), run.task(), run.split(), run.config
    keys = key_frequencies(unembed_freq_norms(unstack(run.params("final")), cfg.model), 0.25)
    metrics = {r["step"]: r for r in run.rows()}
    series = []
    for step in run.checkpoint_steps():
        pm = progress_measures(model, run.params(step), task, split, keys=keys, splits=("train", "test"))
        m = metrics.get(step, {})
        series.append({"step": step, "restricted_loss_test": pm["restricted_loss_test"],
                       "excluded_loss_train": pm["excluded_loss_train"], "gini_W_L": pm["gini_W_L"],
                       "sum_sq_weights": pm["sum_sq_weights"], "train_acc": m.get("train_acc"),
                       "test_acc": m.get("test_acc")})
    ev = phase_events(run.rows(), series)
    summ = run.summary or {}
    final = series[-1]
    t_mem = ev.get("t_train99") or 0
    at_mem = next(r for r in series if r["step"] >= t_mem)
    out: dict[str, Any] = dict(ev)
    out.update({
        "key_freqs": list(map(int, keys)), "n_keys": len(keys),
        "steps": summ.get("steps"), "final_test_acc": summ.get("final_test_acc"),
        "final_train_loss": summ.get("final_train_loss"), "final_test_loss": summ.get("final_test_loss"),
        "restricted_loss_test_final": final["restricted_loss_test"],
        "restricted_loss_test_at_mem": at_mem["restricted_loss_test"],
        "excluded_loss_train_final": final["excluded_loss_train"],
        "excluded_loss_train_at_mem": at_mem["excluded_loss_train"],
        "gini_W_L_at_mem": at_mem["gini_W_L"], "gini_W_L_final": final["gini_W_L"],
        "sum_sq_at_mem": at_mem["sum_sq_weights"], "sum_sq_final": final["sum_sq_weights"],
        "series": series,
    })
    return out


def build_table(res: Result, main: dict[str, Any], nowd: dict[str, Any] | None, quick: bool) -> None:
    steps_rel = dict(relative=True)
    res.add("t_val99 (test acc ≥ 99%)", None if quick else PAPER["t_val99"], main.get("t_val99"),
            paper_text=None if quick else "≈ 10000", group="events", **steps_rel)
    res.add("end of memorisation (train acc ≥ 99.9%)", None if quick else PAPER["t_mem_end"], main.get("t_mem_end"),
            paper_text=None if quick else "≈ 1400", group="events", **steps_rel)
    res.add("circuit formation onset (excluded↑, restricted↓)", None if quick else PAPER["t_circuit"],
            main.get("t_circuit"), paper_text=None if quick else "≈ 1400", group="events", **steps_rel)
    res.add("cleanup (Gini of W_L jumps)", None if quick else PAPER["t_cleanup"], main.get("t_cleanup"),
            paper_text=None if quick else "≈ 9400", group="events", **steps_rel)
    res.add(f"number of key frequencies (ours: {main.get('key_freqs')})", None if quick else PAPER["n_keys"],
            main.get("n_keys"), paper_text=None if quick else "5 {14,35,41,42,52}", group="mechanism", relative=True)
    res.add("final test accuracy", 1.0, main.get("final_test_acc"), group="mechanism")
    res.add("restricted loss (test) at memorisation", None, main["restricted_loss_test_at_mem"], group="curves", in_largest=False)
    res.add("restricted loss (test) final", None, main["restricted_loss_test_final"], group="curves", in_largest=False)
    res.add("excluded loss (train) at memorisation", None, main["excluded_loss_train_at_mem"], group="curves", in_largest=False)
    res.add("excluded loss (train) final", None, main["excluded_loss_train_final"], group="curves", in_largest=False)
    res.add("Gini(W_L) at memorisation", None, main["gini_W_L_at_mem"], group="curves", in_largest=False)
    res.add("Gini(W_L) final", None, main["gini_W_L_final"], group="curves", in_largest=False)
    res.add("Σθ² at memorisation", None, main["sum_sq_at_mem"], group="curves", in_largest=False)
    res.add("Σθ² final", None, main["sum_sq_final"], group="curves", in_largest=False)
    if nowd is not None:
        res.add("wd 0: final test accuracy (paper: never groks)", None, nowd.get("final_test_acc"),
                paper_text="no grokking", group="weight decay")
        res.add("wd 0: t_val99", None, nowd.get("t_val99"), paper_text="never", group="weight decay")
    res.checks = {
        "wd 1 groks: test acc ≥ 0.99 long after train acc 99%":
            (main.get("t_val99") or 0) > 3 * max(main.get("t_train99") or 1, 1) and (main.get("final_test_acc") or 0) >= 0.99,
        "excluded loss (train) rises after memorisation": main["excluded_loss_train_final"] > 2 * main["excluded_loss_train_at_mem"],
        "restricted loss (test) falls after memorisation": main["restricted_loss_test_final"] < 0.5 * main["restricted_loss_test_at_mem"],
        "Gini of W_L rises (sparse in frequency)": main["gini_W_L_final"] > main["gini_W_L_at_mem"] + 0.05,
        "Σθ² falls after memorisation": main["sum_sq_final"] < main["sum_sq_at_mem"],
        "phases in order: memorisation ≤ circuit formation ≤ cleanup": all(
            main.get(k) is not None for k in ("t_mem_end", "t_circuit", "t_cleanup"))
            and main["t_mem_end"] <= main["t_circuit"] <= main["t_cleanup"],
    }
    if nowd is not None:
        res.checks["wd 0 does not grok in the same budget (t_val99 never reached)"] = nowd.get("t_val99") is None


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    res = Result("nanda2023", TITLE, quick=quick)
    cfgs = configs(quick, device, seed)
    paths = [out / "runs" / "wd_1", out / "runs" / "wd_0"]
    train_or_reuse(cfgs, paths)
    main = analyze_main(paths[0])
    from grokscope.store.run import load_run

    nowd = dict(load_run(paths[1]).summary or {})
    res.data = {"wd_1": main, "wd_0": {k: nowd.get(k) for k in ("t_train99", "t_val99", "final_test_acc", "steps")}}
    build_table(res, main, res.data["wd_0"], quick)
    res.notes = [
        "phase boundaries: analysis.phases.phase_events (t_mem_end: train acc ≥ 99.9%; circuit onset: excluded loss "
        "≥ 2× and restricted loss ≤ 0.5× their values at the excluded-loss minimum; cleanup: half the Gini(W_L) rise)",
        "key frequencies: W_L Fourier norms ≥ 0.25 × max (the TransformerLens-demo rule, on W_L); identities depend on the seed",
        f"budget {FULL_STEPS} steps (paper 40k): our seed groks by ~10k, so cleanup after 10k is not covered"
        if not quick else "quick mode: p = 23, d_model 64, d_mlp 128, 70% train, lr 3e-3, 2,000 steps; paper numbers are for p = 113",
    ]
    return res


__all__ = ["PAPER", "TITLE", "analyze_main", "build_table", "configs", "reproduce"]
