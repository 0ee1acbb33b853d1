"""Which steps are evaluated and checkpointed: every k steps plus log-spaced steps early on."""

from __future__ import annotations

import numpy as np


def log_spaced_steps(total: int, every: int, n_log: int) -> set[int]:
    """{0, every, 2*every, ...} ∪ ~n_log log-spaced steps in [1, total] ∪ {total}.

    Grokking curves are read on a log step axis, so the first few hundred steps (memorisation)
    need as many points as the long tail.
    """
    steps = set(range(0, total + 1, every)) | {total}
    if n_log > 0:
        steps |= {int(s) for s in np.unique(np.geomspace(1, total, n_log).round())}
    return steps
