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


def _outcome(fn):
    try:
        return fn()
    except BaseException as e:  # the test thread's failure, for the test to raise
        return e


def _interrupt_at_check(code, n):
    """A tracer that raises KeyboardInterrupt at the n-th place where Python would run a
    pending Ctrl-C in frames of `code`: after each call returns, at each jump back of a loop,
    at the function's start. Returns (tracer, fired) where fired() says if it did."""
    import dis
    calls = {i.offset for i in dis.get_instructions(code) if i.opname.startswith("CALL")}
    jumps = {i.offset for i in dis.get_instructions(code) if i.opname.startswith("JUMP_BACKWARD")}
    state = {"seen": 0, "fired": False}

    def check_point(frame):
        if state["seen"] == n and not state["fired"]:
            state["fired"] = True
            raise KeyboardInterrupt
        state["seen"] += 1

    def local(frame, event, arg):
        if event == "opcode":
            previous = state.get("previous")
            state["previous"] = frame.f_lasti
            if previous in calls or previous in jumps:
                check_point(frame)
        return local

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code is code:
            frame.f_trace_opcodes = True
            state["previous"] = None
            check_point(frame)
            return local
        return None

    return tracer, lambda: state["fired"]


def test_a_ctrl_c_wherever_it_falls_leaves_no_helper_running_and_the_team_in_step():
    """Python runs a Ctrl-C only at its signal check points; try one at each of Team.run's
    in turn. The caller must get KeyboardInterrupt (or the finished run) only once no helper
    is writing, and the next run must do every chunk once, waiting for all of them."""
    import sys
    import time

    team = Team(2)
    log, names, lock = [], [], threading.Lock()

    def work(k):
        with lock:
            log.append(("start", k))
            names.append((k, threading.current_thread().name))
        time.sleep(0.002)                         # long enough that a helper left running shows
        with lock:
            log.append(("end", k))

    def running():
        with lock:
            return {k for e, k in log if e == "start"} - {k for e, k in log if e == "end"}

    def every_check_point():
        n = 0
        while True:
            log.clear()
            tracer, fired = _interrupt_at_check(Team.run.__code__, n)
            sys.settrace(tracer)
            try:
                team.run(work, (), [(k,) for k in range(4)])
            except KeyboardInterrupt:
                pass
            finally:
                sys.settrace(None)
            if not fired():
                break
            helpers = {k for k in running() if k % 2 == 1}
            assert not helpers, f"Ctrl-C at check point {n}: helper chunks {helpers} still running"
            time.sleep(0.01)
            assert not running() - {0, 2}, f"Ctrl-C at check point {n}: a helper started afterwards"
            assert all(lk.locked() for lk in team._go + team._done), f"out of step after point {n}"
            assert not team._busy.locked(), f"Ctrl-C at check point {n} left the team taken"
            log.clear()
            names.clear()
            team.run(work, (), [(k,) for k in range(4)])
            assert sorted(k for e, k in log if e == "end") == [0, 1, 2, 3], f"after point {n}"
            assert dict(names)[1] == "scratchnet-kernels-1", f"after point {n}: the helper sat idle"
            n += 1
        return n

    # in a thread of its own, so that a team fallen out of step fails the test, not hangs it
    outcome = []
    tester = threading.Thread(target=lambda: outcome.append(_outcome(every_check_point)),
                              daemon=True)
    tester.start()
    tester.join(60)
    assert outcome, "the team hung after a Ctrl-C"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    assert outcome[0] > 10                        # the check points were really tried
