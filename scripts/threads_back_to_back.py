"""Back-to-back runs: the thread count grokscope chooses right after another job, and what it costs.

Runs `grokscope run --preset power2022 --set train.steps=STEPS` three times in a row (fresh
output each time, default thread choice), then once each with --threads 1 and --threads 2. Before
each run it records the 1-minute load average, the core count the old rule (cores − load) gives,
and the count `grokscope.cores.free_cores()` gives now. Run it on a quiet machine.

    python scripts/threads_back_to_back.py [STEPS] > docs/data/threads_back_to_back.json
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

from grokscope.cores import cpu_count, free_cores


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def one(steps: int, threads: int | None, out: str) -> dict:
    load = os.getloadavg()[0]
    rec = {"threads_arg": threads, "load1": round(load, 2),
           "old_rule_threads": max(1, min(cpu_count(), cpu_count() - math.floor(load + 0.5))),
           "free_cores_now": free_cores()}
    cmd = [sys.executable, "-m", "grokscope.cli", "run", "--preset", "power2022", "--set", f"train.steps={steps}",
           "--out", out, "--quiet", "--force"] + ([] if threads is None else ["--threads", str(threads)])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    rec["wall_s"] = round(time.perf_counter() - t0, 2)
    return rec


def main() -> int:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as d:
        runs = [one(steps, None, d) for _ in range(3)] + [one(steps, 1, d), one(steps, 2, d)]
    print(json.dumps({"cpu": cpu_name(), "cores": cpu_count(), "steps": steps, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
