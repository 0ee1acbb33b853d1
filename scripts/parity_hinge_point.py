"""The third-party sparse-parity point ((n, k) = (20, 3), 500 samples: 99% test accuracy in 832 SGD steps with
the hinge loss) under grokscope's merrill2023 recipe, hinge vs two-class cross-entropy, 5 seeds each trained as one
stack; prints the steps to 99% test and train accuracy per seed (evaluated every 50 steps).

    python scripts/parity_hinge_point.py > docs/data/parity/hinge_point.txt
"""

import time

import torch

from grokscope.presets import load_preset
from grokscope.train import MemorySink
from grokscope.train.loop import train

torch.set_num_threads(1)
for loss in ("hinge", "ce"):
    base = load_preset("merrill2023").override(["task.n_bits=20", "task.n_train=500", f"train.loss={loss}",
                                                "train.steps=20000", "train.eval_every=50", "train.eval_log_points=0"])
    cfgs = [base.override([f"train.seed={s}", f"task.data_seed={s}"]) for s in range(5)]
    t0 = time.perf_counter()
    summaries = train(cfgs, [MemorySink() for _ in cfgs])
    print(f"train.loss={loss}: t_val99 {[s['t_val99'] for s in summaries]}, "
          f"t_train99 {[s['t_train99'] for s in summaries]} ({time.perf_counter() - t0:.0f} s, 1 thread)")
