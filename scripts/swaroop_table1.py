"""Swaroop 2026 Table 1 from scratch: idealized Cos→Cos, Sq→Cos, Sq→Sq MLPs at p = 97.

Prints our mean ± sd over seeds next to the paper's mean and the largest absolute difference.
Usage: python scripts/swaroop_table1.py [--seeds 40] [--p 97]
"""

from __future__ import annotations

import argparse
import math
import time

from grokscope.analysis.idealized import LABELS, PAPER_TABLE1, table1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--p", type=int, default=97)
    parser.add_argument("--N", type=int, nargs="*", default=sorted(PAPER_TABLE1))
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = table1(args.N, tuple(LABELS), args.seeds, args.p)
    by = {(r["N"], r["variant"]): r for r in rows}
    head = f"{'N':>5} " + " ".join(f"{LABELS[v] + ' ours':>19} {'paper':>7}" for v in LABELS)
    print(f"idealized models, p = {args.p}, {args.seeds} seeds, accuracy on all p² pairs")
    print(head)
    worst = (0.0, None)
    for N in args.N:
        cells = []
        for v in LABELS:
            r = by[(N, v)]
            cells.append(f"{r['mean']:>10.4f} ± {r['sd']:.4f} {r['paper']:>7.4f}")
            diff = abs(r["mean"] - r["paper"])
            if not math.isnan(diff) and diff > worst[0]:
                worst = (diff, (N, v))
        print(f"{N:>5} " + " ".join(cells))
    if worst[1] is not None:
        print(f"largest |ours − paper| = {worst[0]:.4f} at N = {worst[1][0]}, {LABELS[worst[1][1]]}")
    print(f"wall {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
