"""Test accuracy of a commutative op's runs, split by whether each test pair's mirror is in train.

    python scripts/mirror_split.py RUN_DIR [RUN_DIR ...] [--step STEP]

For x*y or x+y, a test pair (a, b) whose mirror (b, a) was trained on can be answered by symmetry
alone; about half the test pairs are such pairs under a random split. High accuracy on them with
chance on the rest is memorisation plus symmetry, not the group's structure (generalisation).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from grokscope.store.run import load_run


def mirror_split(path: str, step: int | str = "final") -> dict[str, float]:
    """{'val', 'mirror_share', 'acc_mirror_in_train', 'acc_mirror_not_in_train'} at one checkpoint."""
    run = load_run(path)
    task, split = run.task(), run.split()
    pred = run.logits(step).argmax(-1).numpy()
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(task.a, task.b, strict=True))}
    in_train = np.zeros(task.n_pairs, dtype=bool)
    in_train[split.train_idx] = True
    test = split.test_idx
    mirror = np.array([in_train[index[(int(task.b[i]), int(task.a[i]))]] for i in test])  # [n_test]
    correct = pred[test] == task.c[test]  # [n_test]
    return {"val": float(correct.mean()), "mirror_share": float(mirror.mean()),
            "acc_mirror_in_train": float(correct[mirror].mean()),
            "acc_mirror_not_in_train": float(correct[~mirror].mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--step", default="final", help="checkpoint step or final")
    args = ap.parse_args()
    torch.set_num_threads(1)
    step = int(args.step) if args.step.isdigit() else args.step
    for path in args.runs:
        m = mirror_split(path, step)
        print(f"{path}: test acc {m['val']:.3f}; mirror in train ({m['mirror_share']:.0%} of test): "
              f"{m['acc_mirror_in_train']:.3f}; mirror not in train: {m['acc_mirror_not_in_train']:.3f}")


if __name__ == "__main__":
    main()
