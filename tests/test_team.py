"""The jit back end's team of threads: every chunk runs once, on a thread fixed by its index;
errors and Ctrl-C reach the caller only after every thread has stopped writing."""
import os
import threading

import pytest

from scratchnet.core.kernels.team import Team


def test_every_chunk_runs_once_on_the_thread_its_index_names():
    team = Team(3)
    seen = []
    lock = threading.Lock()

    def record(k):
        with lock:
            seen.append((k, threading.current_thread().name))

    for _ in range(20):                          # repeated: assignment never depends on timing
        seen.clear()
        team.run(record, (), [(k,) for k in range(8)])
        assert sorted(k for k, _ in seen) == list(range(8))
        for k, name in seen:
            expected = threading.main_thread().name if k % 3 == 0 else f"scratchnet-kernels-{k % 3}"
            assert name == expected


def test_fewer_chunks_than_threads_and_a_single_thread():
    out = []
    Team(4).run(out.append, (), [(1,), (2,)])
    Team(1).run(out.append, (), [(3,), (4,)])
    assert sorted(out) == [1, 2, 3, 4]


def test_an_error_on_a_helper_thread_reaches_the_caller():
    team = Team(2)

    def fail_on_one(k):
        if k == 1:
            raise ValueError("chunk 1 failed")

    with pytest.raises(ValueError, match="chunk 1 failed"):
        team.run(fail_on_one, (), [(0,), (1,)])
    out = []
    team.run(out.append, (), [(0,), (1,)])       # and the team still works afterwards
    assert sorted(out) == [0, 1]


def test_a_second_caller_runs_its_chunks_itself_instead_of_waiting():
    team = Team(2)
    started, release, inner = threading.Event(), threading.Event(), []

    def slow(k):
        if k == 0:                                # on the worker: it holds the team now
            started.set()
        if k == 1:                                # on the helper: keeps the team busy
            release.wait(5)

    worker = threading.Thread(target=team.run, args=(slow, (), [(0,), (1,)]))
    worker.start()
    assert started.wait(5)                        # not before: this thread could get the team first
    team.run(inner.append, (), [(10,), (11,)])   # the team is busy: done by this thread alone
    assert inner == [10, 11]
    release.set()
    worker.join(5)
    assert not worker.is_alive()


def _cpu_sets(team):
    """{chunk k: the CPU set of the thread that ran it}, one chunk per thread."""
    sets = {}
    team.run(lambda k: sets.__setitem__(k, os.sched_getaffinity(0)), (), [(k,) for k in range(team.size)])
    return sets


needs_affinity = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                                    reason="pinning threads needs Linux and 2 CPUs")


@needs_affinity
def test_pinned_gives_each_thread_a_cpu_of_its_own_and_then_its_set_back():
    cpus = os.sched_getaffinity(0)
    team = Team(len(cpus))
    before = _cpu_sets(team)
    with team.pinned():
        inside = _cpu_sets(team)
        assert sorted(inside) == list(range(team.size))
        assert all(len(s) == 1 for s in inside.values())
        assert set().union(*inside.values()) == cpus       # one each, every CPU used
    assert _cpu_sets(team) == before
    with pytest.raises(ValueError), team.pinned():        # given back after an error too
        raise ValueError
    assert _cpu_sets(team) == before


@needs_affinity
def test_pinned_leaves_alone_a_team_that_does_not_fill_the_cpus(monkeypatch):
    cpus = os.sched_getaffinity(0)
    teams = [Team(1), Team(len(cpus) + 1), Team(len(cpus))]
    for i, team in enumerate(teams):
        before = _cpu_sets(team)
        with monkeypatch.context() as m:
            if i == 2:   # as if the process could use one CPU more than the team has threads
                m.setattr(os, "sched_getaffinity", lambda pid: cpus | {max(cpus) + 1})
            with team.pinned():
                m.undo()                                   # (the real one, to look)
                assert _cpu_sets(team) == before


@needs_affinity
def test_pinned_survives_an_os_that_refuses(monkeypatch):
    cpus = os.sched_getaffinity(0)
    team = Team(len(cpus))
    before = _cpu_sets(team)

    def refuse(pid, mask):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    with team.pinned():                                   # nothing pinned, no error
        ran = []
        team.run(ran.append, (), [(0,), (1,)])
    monkeypatch.undo()
    assert sorted(ran) == [0, 1] and _cpu_sets(team) == before
