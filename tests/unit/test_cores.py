"""Threads and workers chosen from the free cores: never more threads than free cores."""

import pytest

from grokscope import cores


@pytest.fixture
def machine(monkeypatch):
    """A fake machine: `machine(cores, load)`."""
    def set_(n: int, load: float) -> None:
        monkeypatch.setattr(cores, "cpu_count", lambda: n)
        monkeypatch.setattr(cores.os, "getloadavg", lambda: (load, load, load))
    return set_


@pytest.mark.parametrize("n, load, free", [(2, 0.0, 2), (2, 0.9, 1), (2, 3.0, 1), (16, 4.4, 12), (8, 0.4, 8)])
def test_free_cores_subtracts_the_load(machine, n, load, free):
    machine(n, load)
    assert cores.free_cores() == free


@pytest.mark.parametrize("n, load", [(1, 0.0), (2, 0.0), (2, 1.0), (4, 0.0), (16, 3.0), (64, 10.0)])
@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7, 100])
def test_sweep_plan_fits_the_free_cores(machine, n, load, n_chunks):
    machine(n, load)
    workers, threads = cores.plan_workers(n_chunks)
    assert 1 <= workers <= n_chunks
    assert threads >= 1 and workers * threads <= cores.free_cores()
    # no free core left idle when there is work for it
    assert workers * threads > cores.free_cores() - workers or workers == n_chunks


def test_one_big_ensemble_gets_one_worker_with_every_core(machine):
    machine(8, 0.0)
    assert cores.plan_workers(1) == (1, 8)
    assert cores.plan_workers(100) == (8, 1)


def test_explicit_workers_or_threads_are_kept(machine):
    machine(8, 0.0)
    assert cores.plan_workers(100, workers=2) == (2, 4)
    assert cores.plan_workers(100, threads=4) == (2, 4)
    assert cores.plan_workers(100, workers=3, threads=3) == (3, 3)  # the user's choice, even if > cores
