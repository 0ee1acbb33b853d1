"""Where a sweep's time goes: run a sweep spec in this process (one torch thread, no worker pool)
under cProfile and print the wall time split into training steps, evaluations, run-directory
writes, the index and the rest.

    python scripts/sweep_profile.py sweeps/pair_phase_slice.toml
    python scripts/sweep_profile.py sweeps/pair_phase_slice.toml --set train.flush_denormal=false
    python scripts/sweep_profile.py SPEC --json out.json

`--set` adds entries to the spec's [set] (every run), e.g. to switch an engine option off for a
before/after comparison. The output directory is a fresh temporary one.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ lives at the repository root
from bench.__main__ import cpu_model  # noqa: E402

# (label, file suffix, function name) of the parts reported; cumulative time of each
PARTS = (
    ("training steps (forward, backward, update)", "grokscope/train/loop.py", "train_step"),
    ("evaluations (all pairs, every model)", "grokscope/train/loop.py", "evaluate"),
    ("run directories: metrics rows", "grokscope/store/rundir.py", "on_eval"),
    ("run directories: checkpoints", "grokscope/store/rundir.py", "on_checkpoint"),
    ("run directories: resumable state", "grokscope/store/rundir.py", "on_state"),
    ("run directories: summary, metrics.parquet", "grokscope/store/rundir.py", "on_finish"),
    ("the index (grokscope.duckdb)", "grokscope/store/db.py", "build_index"),
)


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    """Cumulative seconds of every function `name` defined in a file ending in `suffix`."""
    total = 0.0
    for (file, _, func), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and file.endswith(suffix):
            total += ct
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    from grokscope.config import RunConfig
    from grokscope.keys import get_key
    from grokscope.sweep.runner import run_sweep
    from grokscope.sweep.spec import load_spec

    torch.set_num_threads(1)
    spec = load_spec(args.spec)
    # each value parsed as `grokscope run --set` parses it, by the config field's type
    extra = {key: get_key(RunConfig().override([item]).to_dict(), key)
             for item in args.sets for key in [item.partition("=")[0].strip()]}
    spec = dataclasses.replace(spec, set={**spec.set, **extra})
    with tempfile.TemporaryDirectory(prefix="sweep_profile_") as tmp:
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        result = run_sweep(spec, Path(tmp) / spec.name, workers=0, threads=1)
        prof.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    parts = {label: cumulative(stats, suffix, name) for label, suffix, name in PARTS}
    parts["everything else (planning, configs, Python)"] = wall - sum(parts.values())
    cpu = cpu_model()
    print(f"{cpu}, 1 torch thread, 1-min load at the end {os.getloadavg()[0]:.2f}")
    print(f"sweep {spec.name}: {result.n_runs} runs, [set] extra {extra or '-'}: {wall:.1f} s wall (under cProfile)")
    for label, s in parts.items():
        print(f"  {label:48s} {s:8.1f} s  {100 * s / wall:5.1f}%")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"spec": str(args.spec), "set": extra, "n_runs": result.n_runs, "cpu": cpu,
                                         "wall_s": wall, "parts_s": parts}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
