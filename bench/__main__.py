"""python -m bench: grokscope vs plain-PyTorch eager transcriptions, side by side in one process.

    python -m bench                 # ~3-5 min on 2 CPU cores: MLP, transformer, ensembles, tied model, dense tasks
    python -m bench --quick         # seconds; tiny sizes (what the tests run)
    python -m bench --full          # also time-to-grok of the Swaroop MLP, 200-step ensembles
    python -m bench --only mlp --json out.json
    python -m bench --profile --only transformer   # torch.profiler tables of grokscope's step

Every speed is also printed as a ratio against the eager baseline measured in the same run
(× eager > 1 means grokscope is faster), and as its share of a roofline floor: the slower of the
step's unavoidable matmul FLOPs at the measured fp32 (digits: fp64) matmul peak and the bytes it
must move (parameters, optimizer state, activations and their gradients; each setup module's
`step_bytes`) at the measured memory bandwidth (a large tensor copy); "floor bound" names the one
that binds. Timings run on `--threads` CPU threads (default 1: on a
small shared machine, OpenMP threads fighting other processes for cores make multi-threaded
timings swing by 10×; pass 0 for PyTorch's default).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

SETUPS = ("mlp", "transformer", "ensemble", "tied", "dense")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="few steps, tiny sizes (for tests)")
    size.add_argument("--full", action="store_true", help="also time-to-grok (MLP), longer runs")
    ap.add_argument("--only", action="append", choices=SETUPS,
                    help="run only this setup (repeatable)")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1; 0 = PyTorch's default)")
    ap.add_argument("--compile", action="store_true",
                    help="also time grokscope with train.compile=true (adds its compile time to the run)")
    ap.add_argument("--profile", action="store_true",
                    help="print torch.profiler tables of grokscope's train step and evaluate() "
                         "instead of timing")
    return ap.parse_args(argv)


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo; platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment() -> dict[str, Any]:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu_model(), "isa": torch.backends.cpu.get_cpu_capability(),
        "mkl": torch.backends.mkl.is_available(),
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
        "load_avg_1m": load[0] if load else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from rich.console import Console

    from bench.common import DEFAULT, FULL, QUICK, print_section

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    settings = QUICK if args.quick else FULL if args.full else DEFAULT
    if args.compile:
        settings = dataclasses.replace(settings, compile=True)
    only = set(args.only or SETUPS)
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    env = environment()
    console.print(f"CPU: {env['cpu']} — ATen ISA {env['isa']}, MKL {'yes' if env['mkl'] else 'no'}", highlight=False)
    console.print(
        f"[bold]grokscope bench[/bold] ({settings.mode}) — torch {env['torch']}, "
        f"{env['threads']} thread(s) of {env['cpus']} CPUs, 1-min load {env['load_avg_1m']:.2f}"
        if env["load_avg_1m"] is not None else
        f"[bold]grokscope bench[/bold] ({settings.mode}) — torch {env['torch']}, {env['threads']} thread(s)"
    )
    if env["load_avg_1m"] is not None and env["cpus"] and env["load_avg_1m"] > 0.5 * env["cpus"]:
        console.print("[yellow]warning: the machine is busy; timings will be noisy[/yellow]")
    console.print()

    if args.profile:
        from bench import profile

        profile.run(settings, only, console)
        return 0

    from bench import dense, ensemble, mlp, tied, transformer

    modules = {"mlp": mlp, "transformer": transformer, "ensemble": ensemble, "tied": tied, "dense": dense}
    sections = []
    t_start = time.perf_counter()
    for key in SETUPS:
        if key not in only:
            continue
        t0 = time.perf_counter()
        section = modules[key].run(settings)
        section.extra["bench_wall_s"] = time.perf_counter() - t0
        print_section(section, console)
        sections.append(section)
    total = time.perf_counter() - t_start
    console.print(f"total benchmark time {total:.1f} s")
    if args.json:
        payload = {
            "settings": dataclasses.asdict(settings), "env": env, "total_s": total,
            "sections": {s.key: s.to_dict() for s in sections},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
