"""Nanda et al. 2023 — progress measures for grokking (docs/papers/nanda2023.md).

Full: the nanda2023 preset (1-layer transformer, p = 113, 30% train, full-batch AdamW lr 1e-3,
wd 1, β (0.9, 0.98), float64 loss) for 20,000 steps with a checkpoint every 200, plus the same
model at wd 0 (trained in one ensemble: weight decay is a per-model setting). The main run is
analysed by `grokscope analyze`'s own `analyze_run` (progress measures with the *final*
checkpoint's key frequencies held fixed, the paper's method) and its phases located by
`analysis.phases.nanda_phases` — the paper's words turned into rules; the paper's boundaries are
memorisation ≈ 0–1.4k, circuit formation ≈ 1.4k–9.4k, cleanup ≈ 9.4k–14k.

Quick: the paper's model (d_model 128, 4 heads, d_mlp 512) at p = 31, 50% train, lr 3e-3,
2,500 steps; wd 1 vs wd 0, three seeds stacked; the phase rules over a 100-step window (the full
run's 500 would span a fifth of the quick run and a third of its time to 99% test accuracy). The
smallest scale searched where, on seeds 0–2, wd 1 groks, wd 0 does not and the rules find
memorisation, circuit formation and cleanup in order: p = 23 at 70% generalises while it
memorises; at p = 31 a 64-wide model at 50% generalises too gradually for a cleanup on every seed,
and 40–45% train (or p = 37 at 40%) leaves a seed short of 99% in 3–4k steps.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from grokscope.reproduce.common import Result, replicate, train_or_reuse

log = logging.getLogger(__name__)

TITLE = "Nanda et al. 2023: progress measures for grokking (1-layer transformer, (a+b) mod p)"
FULL_STEPS = 20_000
FULL_SETS = [f"train.steps={FULL_STEPS}", "train.checkpoint_every=200"]
QUICK_SETS = [
    "task.p=31",
    "task.frac_train=0.5",
    "optim.lr=3e-3",
    "train.steps=2500",
    "train.eval_every=50",
    "train.checkpoint_every=50",
    "train.checkpoint_log_points=6",
]
QUICK_WINDOW = 100
PAPER = {
    "t_mem_end": 1400,
    "t_circuit": 1400,
    "t_cleanup": 9400,
    "t_cleanup_end": 14000,
    "t_val99": 10000,
    "n_keys": 5,
}


def configs(quick: bool, device: str = "cpu", seed: int = 0) -> list[Any]:
    from grokscope.presets import load_preset

    sets = QUICK_SETS if quick else FULL_SETS
    base = replicate(load_preset("nanda2023").override([*sets, f"train.device={device}"]), seed)
    return [base, base.override(["optim.weight_decay=0"])]


def rules(quick: bool) -> Any:
    from grokscope.analysis.phases import NandaRules

    return NandaRules(window=QUICK_WINDOW) if quick else NandaRules()


def analyze_main(path: Path, quick: bool = False) -> dict[str, Any]:
    """Progress measures at every checkpoint of the main (wd 1) run — `analyze_run`, the same code
    as `grokscope analyze`, with the final model's key frequencies held fixed — and the phases of
    that series (`nanda_phases`)."""
    from grokscope.analysis.pipeline import analyze_run
    from grokscope.store.run import load_run

    run = load_run(path)
    a = analyze_run(path, measures=("progress",), keys="final", rules=rules(quick))
    cols = (
        "step",
        "restricted_loss_test",
        "excluded_loss_train",
        "gini_W_L",
        "gini_embed",
        "sum_sq_weights",
        "train_loss",
        "test_loss",
        "train_acc",
        "test_acc",
    )
    series = [
        {c: (int(r[c]) if c == "step" else float(r[c])) for c in cols} for r in a.table.to_dict("records")
    ]
    ev = {
        k: a.summary.get(k)
        for k in ("t_train99", "t_val99", "t_mem_end", "t_circuit", "t_cleanup", "t_cleanup_end")
    }
    summ = run.summary or {}
    final = series[-1]
    t_mem = ev.get("t_train99") or 0  # "at memorisation": where train acc first reaches 99% (rule-free)
    at_mem = next((r for r in series if r["step"] >= t_mem), series[-1])
    keys = [int(k) for k in str(a.summary.get("key_freqs", "")).split(",") if k.strip()]
    out: dict[str, Any] = dict(ev)
    out.update(
        {
            "key_freqs": keys,
            "n_keys": len(keys),
            "phase_rules": a.summary.get("phase_rules"),
            "steps": summ.get("steps"),
            "final_test_acc": summ.get("final_test_acc"),
            "wall_s": summ.get("wall_s"),
            "analysis_wall_s": a.summary.get("analysis_wall_s"),
            "final_train_loss": summ.get("final_train_loss"),
            "final_test_loss": summ.get("final_test_loss"),
            "restricted_loss_test_final": final["restricted_loss_test"],
            "restricted_loss_test_at_mem": at_mem["restricted_loss_test"],
            "excluded_loss_train_final": final["excluded_loss_train"],
            "excluded_loss_train_at_mem": at_mem["excluded_loss_train"],
            "gini_W_L_at_mem": at_mem["gini_W_L"],
            "gini_W_L_final": final["gini_W_L"],
            "sum_sq_at_mem": at_mem["sum_sq_weights"],
            "sum_sq_final": final["sum_sq_weights"],
            "series": series,
        }
    )
    return out


def build_table(res: Result, main: dict[str, Any], nowd: dict[str, Any] | None, quick: bool) -> None:
    steps_rel = dict(relative=True)
    res.add(
        "t_val99 (test acc ≥ 99%)",
        None if quick else PAPER["t_val99"],
        main.get("t_val99"),
        paper_text=None if quick else "≈ 10000",
        group="events",
        **steps_rel,
    )
    for key, what in (
        ("t_mem_end", "end of memorisation (excluded and train loss stop falling together)"),
        ("t_circuit", "circuit formation (excluded↑, Σθ²↓, restricted not ↑, test loss flat)"),
        ("t_cleanup", "cleanup starts (test loss and Σθ² drop sharply, Gini(W_L) jumps)"),
        ("t_cleanup_end", "cleanup ends (test loss and Gini(W_L) stop moving sharply)"),
    ):
        res.add(
            what,
            None if quick else PAPER[key],
            main.get(key),
            paper_text=None if quick else f"≈ {PAPER[key]}",
            group="phases (paper §5.2)",
            **steps_rel,
        )
    res.add(
        f"number of key frequencies (ours: {main.get('key_freqs')})",
        None if quick else PAPER["n_keys"],
        main.get("n_keys"),
        paper_text=None if quick else "5 {14,35,41,42,52}",
        group="mechanism",
        relative=True,
    )
    res.add("final test accuracy", 1.0, main.get("final_test_acc"), group="mechanism")
    res.add(
        "restricted loss (test) at train acc 99%",
        None,
        main["restricted_loss_test_at_mem"],
        group="curves",
        in_largest=False,
    )
    res.add(
        "restricted loss (test) final",
        None,
        main["restricted_loss_test_final"],
        group="curves",
        in_largest=False,
    )
    res.add(
        "excluded loss (train) at train acc 99%",
        None,
        main["excluded_loss_train_at_mem"],
        group="curves",
        in_largest=False,
    )
    res.add(
        "excluded loss (train) final",
        None,
        main["excluded_loss_train_final"],
        group="curves",
        in_largest=False,
    )
    res.add("Gini(W_L) at train acc 99%", None, main["gini_W_L_at_mem"], group="curves", in_largest=False)
    res.add("Gini(W_L) final", None, main["gini_W_L_final"], group="curves", in_largest=False)
    res.add("Σθ² at train acc 99%", None, main["sum_sq_at_mem"], group="curves", in_largest=False)
    res.add("Σθ² final", None, main["sum_sq_final"], group="curves", in_largest=False)
    if nowd is not None:
        res.add(
            "wd 0: final test accuracy (paper: never groks)",
            None,
            nowd.get("final_test_acc"),
            paper_text="no grokking",
            group="weight decay",
        )
        res.add("wd 0: t_val99", None, nowd.get("t_val99"), paper_text="never", group="weight decay")


def _at(series: list[dict[str, Any]], step: int | None) -> dict[str, Any] | None:
    """The series row at `step` (the first analysed step ≥ it), None when step is None."""
    if step is None:
        return None
    return next((r for r in series if r["step"] >= step), series[-1])


def add_claims(res: Result, main: dict[str, Any], nowd: dict[str, Any] | None) -> None:
    """The paper's claims as checks, each with the number it rests on."""
    t_tr, t_val = main.get("t_train99"), main.get("t_val99")
    ratio = None if t_val is None else t_val / max(t_tr or 1, 1)
    res.claim(
        "wd 1 groks: test acc reaches 99% long after train acc 99% (t_val99 > 3 × t_train99)",
        ratio is not None and ratio > 3,
        ratio,
        "t_val99 / t_train99, wd 1",
    )
    res.claim(
        "wd 1 ends at test accuracy ≥ 0.99",
        (main.get("final_test_acc") or 0) >= 0.99,
        main.get("final_test_acc"),
        "final test acc, wd 1",
    )
    if nowd is not None:  # paired: the wd-1 model above is the control that does grok in the same budget
        res.claim(
            "wd 0 does not grok in the same budget (test acc never reaches 99%)",
            nowd.get("t_val99") is None,
            nowd.get("final_test_acc"),
            "final test acc, wd 0",
        )
    ex = main["excluded_loss_train_final"] / main["excluded_loss_train_at_mem"]
    res.claim(
        "excluded loss (train) rises after memorisation (final > 2 × at train acc 99%)",
        ex > 2,
        ex,
        "excluded loss final / at train acc 99%",
    )
    rl = main["restricted_loss_test_final"] / main["restricted_loss_test_at_mem"]
    res.claim(
        "restricted loss (test) falls after memorisation (final < 0.5 × at train acc 99%)",
        rl < 0.5,
        rl,
        "restricted loss final / at train acc 99%",
    )
    gini = main["gini_W_L_final"] - main["gini_W_L_at_mem"]
    res.claim(
        "Gini of W_L rises after memorisation (by > 0.05: sparse in frequency)",
        gini > 0.05,
        gini,
        "Gini(W_L) final − at train acc 99%",
    )
    sq = main["sum_sq_final"] / main["sum_sq_at_mem"]
    res.claim("Σθ² falls after memorisation", sq < 1, sq, "Σθ² final / at train acc 99%")
    t_mem, t_circ, t_clean = (main.get(k) for k in ("t_mem_end", "t_circuit", "t_cleanup"))
    found = None not in (t_mem, t_circ, t_clean)
    in_order = found and t_mem <= t_circ < t_clean <= (t_val if t_val is not None else t_clean)
    res.claim(
        "three phases found in order: memorisation end ≤ circuit formation < cleanup ≤ t_val99",
        in_order,
        (t_clean - t_circ) if found else None,
        "length of circuit formation (steps)",
    )
    series = main["series"]
    a, b = _at(series, t_circ), _at(series, t_clean)
    for key, what, rises in (
        ("excluded_loss_train", "excluded loss (train) rises", True),
        ("restricted_loss_test", "restricted loss (test) falls", False),
        ("sum_sq_weights", "Σθ² falls", False),
    ):
        if a is None or b is None or a is b:
            res.claim(f"circuit formation: {what}", False, None, f"{key} at cleanup / at circuit formation")
            continue
        r = b[key] / a[key]
        res.claim(
            f"circuit formation: {what}",
            r > 1 if rises else r < 1,
            r,
            f"{key} at cleanup start / at circuit formation start",
        )


def reproduce(out: Path, quick: bool = False, device: str = "cpu", seed: int = 0) -> Result:
    res = Result("nanda2023", TITLE, quick=quick)
    cfgs = configs(quick, device, seed)
    paths = [out / "runs" / "wd_1", out / "runs" / "wd_0"]
    train_or_reuse(cfgs, paths)
    main = analyze_main(paths[0], quick)
    from grokscope.store.run import load_run

    nowd = dict(load_run(paths[1]).summary or {})
    res.data = {
        "wd_1": main,
        "wd_0": {k: nowd.get(k) for k in ("t_train99", "t_val99", "final_test_acc", "steps")},
    }
    build_table(res, main, res.data["wd_0"], quick)
    add_claims(res, main, res.data["wd_0"])
    r = main.get("phase_rules") or {}
    res.notes = [
        "regime: the paper's (nanda2023 preset: full batch, AdamW wd 1, float64 loss, p = 113, 30%)"
        if not quick
        else "regime: the paper's model and optimiser (d_model 128, d_mlp 512, full-batch AdamW wd 1, "
        "float64 loss) at a smaller scale (p = 31, 50% train, lr 3e-3, 2,500 steps); the paper's numbers are for "
        "p = 113, so no paper column",
        "phases: analysis.phases.nanda_phases — the paper's §5.2 words as rules over a "
        f"{r.get('window')}-step window (falls/rises/flat as fractions: {r}); key frequencies: the final "
        "checkpoint's (W_L Fourier norms ≥ 0.25 × max), held fixed at every checkpoint, as the paper does and as "
        "`grokscope analyze` does by default",
        f"main run trained for {main.get('steps')} steps in {main.get('wall_s')} s (wd 1 and wd 0 as one ensemble); "
        f"analysis of {len(main['series'])} checkpoints in {main.get('analysis_wall_s')} s",
    ]
    return res


__all__ = ["PAPER", "TITLE", "add_claims", "analyze_main", "build_table", "configs", "reproduce"]
