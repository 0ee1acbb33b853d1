"""Denormal flushing: on every pool thread inside the block, off after it, and what it changes."""

import pytest
import torch

from grokscope.train.denormals import flushed, set_flush

DENORMAL = 1e-39  # below float32's smallest normal (1.18e-38)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _kept(x: torch.Tensor) -> float:
    """Share of the elements whose denormal survives a multiply (kept by the thread that computed it)."""
    return ((x * 1.0) != 0).double().mean().item()


def test_flushed_reaches_every_pool_thread_and_is_undone_after(two_threads):
    if not set_flush(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    x = torch.full((1 << 22,), DENORMAL)  # large enough that both threads take a share of the multiply
    assert _kept(x) == 1.0  # control: the default keeps denormals (the pool exists now)
    torch.set_flush_denormal(True)  # the calling thread only: the pool threads still keep theirs
    assert 0.0 < _kept(x) < 1.0
    torch.set_flush_denormal(False)
    with flushed():
        assert _kept(x) == 0.0
    assert _kept(x) == 1.0
    with flushed(False):
        assert _kept(x) == 1.0


def test_the_engine_flushes_only_when_the_config_asks(monkeypatch):
    from tests.helpers import tiny_mlp

    import grokscope.train.loop as loop
    from grokscope.train.sinks import NullSink

    seen = []
    monkeypatch.setattr(loop, "flushed", lambda on: seen.append(on) or flushed(on))
    for on in ("true", "false"):
        loop.train([tiny_mlp("train.steps=3", f"train.flush_denormal={on}")], [NullSink()])
    assert seen == [True, False]
