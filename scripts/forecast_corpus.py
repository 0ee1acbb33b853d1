"""The forecast corpus as a table: one row per finished run of the given stores, with what the forecast
was fitted or scored on and the verdict of the shipped model (docs/data/forecast/corpus.csv), and a
per-sweep summary with the verdicts' counts on stdout.

    python scripts/forecast_corpus.py OUT.csv STORE [STORE ...]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

from grokscope.forecast import load_model, verdict
from grokscope.forecast.fit import load_runs


def main(out: str, *roots: str) -> int:
    runs = load_runs(roots)
    cols = ["sweep", "run", "family", "op", "p", "d_mlp", "lr", "weight_decay", "beta2", "frac_train", "noise",
            "seed", "budget", "last_step", "t_mem", "t_val99", "verdict"]
    band = load_model().null_band
    labels = {r.path: verdict(r.rows, r.recipe.n_classes, band).label for r in runs}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in runs:
            c = r.cfg
            w.writerow([r.group, r.path.name, r.recipe.family, c.task.op, c.task.p, c.model.d_mlp, c.optim.lr,
                        c.optim.weight_decay, r.recipe.beta2, c.task.frac_train, c.task.noise, c.train.seed, r.budget,
                        r.end, r.t_mem, r.t_val99, labels[r.path]])
    per: dict[str, list] = defaultdict(list)
    for r in runs:
        per[r.group].append(r)
    kinds = sorted(set(labels.values()))
    print(f"{'sweep':<14} {'runs':>5} {'memorised':>9} {'t_val99':>7}  " + "  ".join(kinds) + "  families")
    for g, rs in sorted(per.items()):
        fams = ", ".join(sorted({r.recipe.family for r in rs}))
        counts = "  ".join(f"{sum(labels[r.path] == k for r in rs):>{len(k)}}" for k in kinds)
        print(f"{g:<14} {len(rs):>5} {sum(r.t_mem is not None for r in rs):>9} "
              f"{sum(r.t_val99 is not None for r in rs):>7}  {counts}  {fams}")
    counts = "  ".join(f"{sum(v == k for v in labels.values()):>{len(k)}}" for k in kinds)
    print(f"{'all':<14} {len(runs):>5} {sum(r.t_mem is not None for r in runs):>9} "
          f"{sum(r.t_val99 is not None for r in runs):>7}  {counts}  (null band ≤ {band:.2f}× chance) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
