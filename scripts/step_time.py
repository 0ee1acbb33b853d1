"""Training-step time of a preset's stack of K models, evaluation and checkpoints off, one thread.

    python scripts/step_time.py PRESET K STEPS [key=value ...]
    python scripts/step_time.py power2022_fig1 1 100          # Figure 1's transformer, batch 512

Prints wall and CPU milliseconds per step of the whole stack (so per model-step = that / K); what a
long run's budget costs before it is started.
"""

from __future__ import annotations

import sys
import time

import torch

from grokscope.presets import load_preset
from grokscope.train.loop import train
from grokscope.train.sinks import NullSink


def main(preset: str, k: str, steps: str, *sets: str) -> None:
    torch.set_num_threads(1)
    off = ["train.eval_every=100000000", "train.eval_log_points=0", "train.checkpoint_every=100000000",
           "train.checkpoint_log_points=0"]
    base = load_preset(preset).override([f"train.steps={steps}", *off, *sets])
    cfgs = [base.override([f"train.seed={s}"]) for s in range(int(k))]
    t0, c0 = time.perf_counter(), time.process_time()
    train(cfgs, [NullSink() for _ in cfgs])
    n = int(steps)
    print(f"{preset} {' '.join(sets)} K={k}: {(time.perf_counter() - t0) / n * 1e3:.2f} ms wall, "
          f"{(time.process_time() - c0) / n * 1e3:.2f} ms CPU per step")


if __name__ == "__main__":
    main(*sys.argv[1:])
