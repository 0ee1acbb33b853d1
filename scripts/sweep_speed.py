"""Wall time of one sweep in this tree and in another revision, run side by side, plus a check
that every run ends in the same phase.

    python scripts/sweep_speed.py 44f2e3a                       # sweeps/bench_pair240.toml
    python scripts/sweep_speed.py 44f2e3a --spec sweeps/x.toml

Both sweeps start at the same moment, each training in its own process with one torch thread
(workers = 0, OMP_NUM_THREADS=1: a revision's own worker pool may pick its threads differently),
so on a 2-core machine each side gets one core, and background load hits both alike. The other
revision is `git archive`d into a temporary folder and run with its own `src/` first on the path.
Prints both wall times, the ratio, and the runs whose Liu phase or t_val99 differ.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ lives at the repository root
from bench.__main__ import cpu_model  # noqa: E402

CHILD = """
import sys, time
from grokscope.sweep.runner import run_sweep
t = time.perf_counter()
run_sweep(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), **({"threads": 1} if sys.argv[4] == "new" else {}))
print(time.perf_counter() - t)
"""
QUERY = """
import json, sys
from grokscope.store.db import query
df = query("select run_id, liu_phase, t_val99 from runs order by run_id", root=sys.argv[1])
print(json.dumps(df.to_dict(orient="records"), default=str))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", help="the other revision (commit, tag, branch)")
    ap.add_argument("--spec", default=str(REPO / "sweeps" / "bench_pair240.toml"))
    ap.add_argument("--workers", type=int, default=0,
                    help="worker processes per side (default 0: in the sweep's own process, 1 thread)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweep_speed_") as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.rev], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        sides = {"new": REPO / "src", "old": old / "src"}
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-c", CHILD, args.spec, str(Path(tmp) / name), str(args.workers), name],
                env={**env, "PYTHONPATH": str(src)}, stdout=subprocess.PIPE, text=True)
            for name, src in sides.items()
        }
        load = os.getloadavg()[0]
        wall = {name: float(p.communicate()[0].strip().splitlines()[-1]) for name, p in procs.items()}
        rows = {name: {r["run_id"]: r for r in json.loads(subprocess.run(
                    [sys.executable, "-c", QUERY, str(Path(tmp) / name)], env={**env, "PYTHONPATH": str(REPO / "src")},
                    check=True, capture_output=True, text=True).stdout)} for name in sides}
    differ = [rid for rid in rows["new"] if rows["new"][rid] != rows["old"].get(rid)]
    print(f"{cpu_model()}, {os.cpu_count()} CPUs, 1-min load at start {load:.2f}")
    print(f"sweep {Path(args.spec).name}: {len(rows['new'])} runs, workers={args.workers}, 1 thread per side")
    print(f"  {args.rev}: {wall['old']:.1f} s   this tree: {wall['new']:.1f} s   ratio {wall['old'] / wall['new']:.2f}x")
    print(f"  runs whose Liu phase or t_val99 differ: {len(differ)} of {len(rows['new'])}")
    for rid in differ[:20]:
        print(f"    {rid}: {args.rev} {rows['old'].get(rid)}  this tree {rows['new'][rid]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
