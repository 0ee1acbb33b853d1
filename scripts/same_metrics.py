"""Does this tree train exactly like another revision? Short runs of many presets, both trees.

    python scripts/same_metrics.py cb225f1        # this working tree vs that commit

Each case trains a 2-model ensemble (different seed, data seed and lr) for 60–300 steps with
one torch thread and records every metrics row and, per checkpoint, each tensor's float64 sum.
The other revision is `git archive`d into a temporary folder and run in a child process with
its own `src/` first on the path. Prints, per case, whether the records are bit-identical and
the largest relative difference of the final train loss.
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
SMALL = ["train.steps=300", "train.eval_every=50", "train.checkpoint_every=100"]
GRID = ["train.steps=100", "train.eval_every=20", "train.checkpoint_every=50", "task.p=23"]
CASES = {
    "swaroop": ("swaroop2026", SMALL),
    "swaroop_minibatch_noise": ("swaroop2026", [*SMALL, "train.batch_size=256", "task.noise=0.1"]),
    "nanda": ("nanda2023", GRID),
    "power": ("power2022", [*GRID[1:], "train.steps=60", "task.p=23"]),
    "zhong_pizza": ("zhong2023_pizza", [*GRID[1:], "train.steps=60", "task.p=23"]),
    "doshi": ("doshi2024", ["task.p=23", "train.steps=200", "train.eval_every=50", "train.checkpoint_every=100"]),
    "pair": ("pair2023", SMALL),
    "pair_tied": ("pair2023_tied", ["train.steps=200", "train.eval_every=50", "train.checkpoint_every=100"]),
    "embed_concat_adam_warmup": ("swaroop2026", [*SMALL, "model.input=embed_concat", "optim.name=adam",
                                                  "optim.warmup_steps=10"]),
    "sgd_momentum": ("swaroop2026", [*SMALL, "optim.name=sgd", "optim.lr=0.1", "optim.momentum=0.9",
                                      "optim.weight_decay=1e-3"]),
}

RECORD = """
import json, sys
import torch
from grokscope.presets import load_preset
from grokscope.train.loop import train

torch.set_num_threads(1)
cases = json.loads(sys.argv[2])


class Record:
    def __init__(self):
        self.rows, self.ckpts = [], {}

    def on_eval(self, row):
        self.rows.append({k: v for k, v in row.items() if k != "wall_s"})

    def on_checkpoint(self, step, params, kind):
        self.ckpts[f"{step}:{kind}"] = {n: t.double().sum().item() for n, t in params.items()}

    def on_state(self, *args):
        pass

    def on_finish(self, summary):
        pass


out = {}
for name, (preset, sets) in cases.items():
    base = load_preset(preset).override(sets)
    cfgs = [base, base.override(["train.seed=1", "task.data_seed=1", "optim.lr=2e-3"])]
    sinks = [Record(), Record()]
    train(cfgs, sinks)
    out[name] = [{"rows": s.rows, "ckpts": s.ckpts} for s in sinks]
json.dump(out, open(sys.argv[1], "w"), sort_keys=True)
"""


def record(src: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", RECORD, str(out), json.dumps(CASES)], env=env, check=True)
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", help="the other revision (a commit, tag or branch)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.rev], check=True, capture_output=True).stdout
        (tmp / "other").mkdir()
        subprocess.run(["tar", "-x", "-C", str(tmp / "other")], input=archive, check=True)
        theirs = record(tmp / "other" / "src", tmp / "other.json")
        ours = record(REPO / "src", tmp / "ours.json")
    same = 0
    for name in CASES:
        a, b = ours[name], theirs[name]
        la, lb = a[0]["rows"][-1]["train_loss"], b[0]["rows"][-1]["train_loss"]
        print(f"{name:26s} {'bit-identical' if a == b else 'differs':14s} final train loss "
              f"{la:.10g} vs {lb:.10g} (rel {abs(la - lb) / abs(lb):.1e})")
        same += a == b
    print(f"{same} of {len(CASES)} cases bit-identical to {args.rev}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
