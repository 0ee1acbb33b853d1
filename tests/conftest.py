"""Every test starts from seeded RNGs on one torch thread. Tiny configs live in tests/helpers.py."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything_one_thread():
    """Seed every RNG; one torch thread (fastest for tiny models, no oversubscription)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
