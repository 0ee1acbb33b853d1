"""Threads and workers chosen from the free cores: never more threads than free cores."""

import pytest

from grokscope import cores


@pytest.fixture
def machine(monkeypatch):
    """A fake machine: `machine(cores, load)`."""
    def set_(n: int, load: float) -> None:
        monkeypatch.setattr(cores, "cpu_count", lambda: n)
        monkeypatch.setattr(cores, "busy_cores", lambda: load)
    return set_


@pytest.mark.parametrize("n, load, free", [(2, 0.0, 2), (2, 0.9, 1), (2, 3.0, 1), (16, 4.4, 12), (8, 0.4, 8)])
def test_free_cores_subtracts_the_busy_cores(machine, n, load, free):
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


def _stat(*cpus: tuple[int, int]) -> str:
    """A /proc/stat whose cpuN lines have (busy, idle) ticks split over user/system and idle."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{i} {b // 2} 0 {b - b // 2} {idle} 0 0 0 0 0 0" for i, (b, idle) in enumerate(cpus)]
    return "\n".join(lines + ["procs_running 3"]) + "\n"


def test_busy_cores_is_the_busy_share_of_our_cores_over_the_sample(monkeypatch, tmp_path):
    """Core 0 fully busy, core 1 a quarter busy, core 2 busy but outside the affinity mask."""
    snaps = iter([_stat((100, 0), (100, 0), (0, 0)), _stat((200, 0), (125, 75), (100, 0))])
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: __import__("io").StringIO(next(snaps))
                        if f == "/proc/stat" else real_open(f, *a, **k))
    monkeypatch.setattr(cores, "_mask", lambda: {0, 1})
    monkeypatch.setattr(cores, "_own_cpu_s", lambda: 0.0)  # this process idle meanwhile
    assert cores.busy_cores(sample_s=0) == pytest.approx(1.25)


def test_a_watch_leaves_out_this_process_s_own_work(monkeypatch):
    """`grokscope run` watches the cores while it imports torch: core 0 busy all along, half of it
    this process's own import (0.5 CPU s over 1 s of wall) -> half a core busy with other work; the
    control, the same ticks with the process idle, counts the whole core."""
    clock = iter([0.0, 1.0, 1.0] * 2)
    monkeypatch.setattr(cores.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cores, "_mask", lambda: None)
    for own_after, other in ((0.5, 0.5), (0.0, 1.0)):
        snaps = iter([{0: (0, 0), 1: (0, 0)}, {0: (100, 100), 1: (0, 100)}])
        monkeypatch.setattr(cores, "_cpu_times", lambda snaps=snaps: next(snaps))
        own = iter([0.0, own_after])
        monkeypatch.setattr(cores, "_own_cpu_s", lambda own=own: next(own))
        assert cores.CoreWatch().busy(min_s=0) == pytest.approx(other)


def test_a_job_that_just_ended_does_not_count(monkeypatch):
    """The reason for sampling: right after a job ends the 1-minute load still says 1.0 of 2 cores,
    while the cores are idle now; the sample gives both cores (the load average, the fallback, does not)."""
    monkeypatch.setattr(cores, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.0, 0.6, 0.3))
    monkeypatch.setattr(cores, "busy_cores", lambda: 0.02)
    assert cores.free_cores() == 2

    def unreadable():
        raise OSError("no /proc/stat")

    monkeypatch.setattr(cores, "busy_cores", unreadable)
    assert cores.free_cores() == 1  # the control: the load average still counts the ended job


def test_busy_cores_on_this_machine_is_a_share_of_its_cores():
    busy = cores.busy_cores(sample_s=0.05)
    assert 0.0 <= busy <= cores.cpu_count() + 1e-9


def test_a_watch_started_without_proc_stat_falls_back_to_the_load_average(monkeypatch):
    """`grokscope run` starts its watch before torch loads; where /proc/stat cannot be read then,
    free_cores uses the 1-minute load (2 cores, load 1.0 -> 1 free), as without a watch."""
    def unreadable():
        raise OSError("no /proc/stat")

    monkeypatch.setattr(cores, "_cpu_times", unreadable)
    monkeypatch.setattr(cores, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.0, 0.6, 0.3))
    watch = cores.CoreWatch()
    with pytest.raises(OSError):
        watch.busy(min_s=0)
    assert cores.free_cores(watch) == 1
    assert cores.free_cores() == 1

