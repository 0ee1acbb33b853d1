"""grokscope against the public PyTorch port danielmamay/grokking, whole process, paired runs.

    python -m bench.peer PATH/TO/grokking                # 1,000 steps, 3 pairs, each tool's default threads
    python -m bench.peer PATH --steps 1000 --pairs 3 --json out.json

PATH is a checkout of https://github.com/danielmamay/grokking that the user made (nothing of its
code is in this repository); it needs torch, einops, tqdm and wandb importable by `--python`
(default: this interpreter). Both tools train Power et al.'s default recipe for `--steps` steps,
x/y mod 97 at 50%, 2 layers of width 128, 4 heads, batch 512, AdamW lr 1e-3 wd 1, β = (0.9, 0.98),
10 warm-up steps, and evaluate the whole train and validation sets every 100 steps (the peer also at
steps 1 and 10; grokscope at 0, 100, ..., STEPS, with its stop rule off so that both train every
step). Differences the comparison keeps, each the tool's own default: the peer's MLP is ReLU,
grokscope's `power2022` preset GELU; grokscope writes its run directory (metrics, checkpoints every
2,000 steps and at the end, curves.png, report.html), the peer logs to W&B offline.

Each run is a fresh process timed from its start to its exit, both tools choosing their threads
themselves (the peer: PyTorch's default, one per core; grokscope: the cores free when it starts);
a pair runs one tool after the other, alternating which goes first. Prints every time, the per-pair
ratios (peer / grokscope: > 1 means grokscope is faster), their median, the CPU and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.__main__ import cpu_model

EVAL_EVERY = 100
PEER_SCRIPT = Path("grokking") / "cli.py"


def peer_command(python: str, checkout: Path, steps: int) -> list[str]:
    """The peer's own entry point with its defaults (Power's recipe) and our step count."""
    return [python, str(checkout / PEER_SCRIPT), "--num_steps", str(steps), "--device", "cpu"]


def grokscope_command(steps: int, out: Path) -> list[str]:
    """`grokscope run --preset power2022` for `steps` steps, evaluated every 100, nothing stopping it early."""
    sets = [f"train.steps={steps}", f"train.eval_every={EVAL_EVERY}", "train.eval_log_points=0",
            "train.stop_test_acc=1.01"]
    return [sys.executable, "-m", "grokscope.cli", "run", "--preset", "power2022", "--out", str(out),
            *(a for s in sets for a in ("--set", s))]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of one process, start to exit; a failure stops the benchmark with its output."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"bench.peer: {' '.join(cmd[:3])} ... failed (exit {proc.returncode}): {tail[0]}")
    return wall


def run_pairs(checkout: Path, steps: int, pairs: int, python: str) -> dict[str, Any]:
    """Time `pairs` pairs of whole-process runs; each run in a fresh temporary directory."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("OMP_NUM_THREADS", None)  # each tool's own thread choice
    times: dict[str, list[float]] = {"peer": [], "grokscope": []}
    loads = []
    for i in range(pairs):
        order = ("peer", "grokscope") if i % 2 == 0 else ("grokscope", "peer")
        for tool in order:
            with tempfile.TemporaryDirectory(prefix=f"bench_peer_{tool}_") as tmp:
                loads.append(os.getloadavg()[0])
                cmd = (peer_command(python, checkout, steps) if tool == "peer"
                       else grokscope_command(steps, Path(tmp) / "runs"))
                times[tool].append(timed(cmd, Path(tmp), env))  # the peer's wandb/ lands in tmp
    ratios = [p / g for p, g in zip(times["peer"], times["grokscope"], strict=True)]
    return {"cpu": cpu_model(), "cpus": os.cpu_count(), "steps": steps, "pairs": pairs,
            "load_1m_before_each_run": [round(x, 2) for x in loads], "wall_s": times,
            "ratios": ratios, "median_ratio": statistics.median(ratios)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", type=Path, help="a checkout of danielmamay/grokking")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--python", default=sys.executable, help="the interpreter that runs the peer")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    args = ap.parse_args(argv)
    if not (args.checkout / PEER_SCRIPT).is_file():
        print(f"bench.peer: {args.checkout} has no {PEER_SCRIPT}; pass a checkout of danielmamay/grokking",
              file=sys.stderr)
        return 2
    if args.steps < 1 or args.pairs < 1:
        print(f"bench.peer: --steps and --pairs must be >= 1, got {args.steps} and {args.pairs}", file=sys.stderr)
        return 2
    res = run_pairs(args.checkout.resolve(), args.steps, args.pairs, args.python)
    print(f"CPU: {res['cpu']}, {res['cpus']} CPUs; 1-min load before each run: {res['load_1m_before_each_run']}")
    print(f"power2022, {args.steps} steps, evaluated every {EVAL_EVERY}, whole process, each tool's default threads")
    for i, (p, g, r) in enumerate(zip(res["wall_s"]["peer"], res["wall_s"]["grokscope"], res["ratios"],
                                      strict=True)):
        print(f"  pair {i + 1}: danielmamay/grokking {p:6.1f} s   grokscope {g:6.1f} s   ratio {r:.2f}x")
    print(f"  median ratio {res['median_ratio']:.2f}x (> 1: grokscope faster)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
