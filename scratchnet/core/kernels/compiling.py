"""Compiling the Numba kernels ahead of a run, so that training does not stop to compile.

A newcomer can skip this file: it changes when kernels are compiled, never what they compute.

Numba compiles a kernel the first time it is called, for the argument types of that call, and
keeps the result on disk (`cache=True`), so only a machine's first run pays. That first run
would pay in the middle of its first training step, one kernel after another. Instead:

  1. record   `run()` (one training step) is executed with a Recorder standing in for the
              kernel team: it notes the calls the step would make instead of making them,
              which gives the kernels and argument types the run needs (jit.recording);
  2. load     those already in Numba's disk cache are loaded;
  3. compile  the others are compiled by forked processes, one per core, each taking the next
              kernel from a shared queue (the largest first) and writing it into the disk
              cache; this process then loads them all. (It never holds the compiler's working
              memory, and 2 cores halve the wait.)

Every kernel is compiled before the first step. (Kernels with bitwise NumPy twins once compiled
in the background while the first steps ran on the twins: a one-epoch run lost more on the
slow twins, and a core taken from training, than it saved.)

Forking is used on Linux only; elsewhere everything compiles in this process, in turn.
"""
import contextlib
import os
import sys
import time
import warnings

from numba import njit, typeof

KERNEL_COST = 1000   # bytes of bytecode a kernel's typing and LLVM's passes cost as much as,
                     # however small it is (Winograd's and the planes' kernels: ~0.4-0.7 s each)


class Recorder:
    """Stands in for the kernel team (team.py) while a step is recorded: run() notes what
    would be called, (fn, the arguments of its first chunk), and calls nothing."""
    is_recording = True

    def __init__(self, size):
        self.size, self.calls = size, []

    def run(self, fn, args, chunks):
        self.calls.append((fn, tuple(args) + tuple(chunks[0])))

    def pinned(self):
        return contextlib.nullcontext()


def compile_calls(calls, team, on_compile=None):
    """Compile the kernels of recorded `calls` [(fn, args)] not yet compiled or cached
    (steps 2 and 3 of the module docstring), on `team`'s number of cores. on_compile(n) is
    called first if n kernels must be compiled. Returns the seconds spent waiting for the
    compiler (0.0 when everything was cached)."""
    jobs = []
    for fn, args in calls:
        sig = tuple(typeof(a) for a in args)
        if (fn, sig) not in jobs and tuple(sig) not in fn.overloads and not _cached(fn, sig):
            jobs.append((fn, sig))
    if not jobs:
        return 0.0
    if on_compile is not None:
        on_compile(len(jobs))
    forking = team.size > 1 and hasattr(os, "fork") and sys.platform.startswith("linux")
    if forking:   # Numba's own set-up, once, so that no child redoes it; not counted as
        _numba_set_up()   # compiling: a warm start pays it too, when it loads its first kernel
    start = time.perf_counter()
    _compile_in_parallel(jobs, min(team.size, len(jobs)) if forking else 1)
    return time.perf_counter() - start


def _cached(fn, sig):
    """Whether Numba's disk cache holds fn compiled for sig (loading it if so)."""
    try:
        return fn._cache.load_overload(sig, fn.targetctx) is not None
    except Exception:   # an internal of Numba's: if it changes, compile as if uncached
        return False


def _fork_compiler(jobs, queue):
    """A forked process that compiles jobs [(dispatcher, signature)] into the disk cache, the
    next one whose index it reads from the pipe `queue` each time, until the pipe is empty,
    and exits; returns its pid."""
    with warnings.catch_warnings():           # (3.12+: "multi-threaded, fork may deadlock";
        warnings.simplefilter("ignore")       # the child only compiles and exits)
        pid = os.fork()
    if pid == 0:
        code = 0
        try:
            while index := os.read(queue, 2):   # (one reader at a time gets each 2 bytes)
                fn, sig = jobs[int.from_bytes(index, "little")]
                fn.compile(sig)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _compile_in_parallel(jobs, processes):
    """jobs [(dispatcher, signature)], the largest first (by estimated size), each taken by the
    first of `processes` forked processes to be free: the last to finish waits least. They
    only write Numba's disk cache, from which this process then loads what they compiled."""
    jobs = sorted(jobs, key=lambda job: -_code_size(job[0]))
    if processes > 1:
        queue, fill = os.pipe()
        os.write(fill, b"".join(i.to_bytes(2, "little") for i in range(len(jobs))))
        os.close(fill)                            # (a pipe holds 64 KB: 32,768 jobs)
        children = [_fork_compiler(jobs, queue) for _ in range(processes)]
        os.close(queue)
        for pid in children:
            os.waitpid(pid, 0)
    for fn, sig in jobs:                          # loaded from the cache the children wrote
        fn.compile(sig)                           # (or compiled here: no children, or one failed)


def _code_size(fn, seen=None):
    """Bytecode size of a kernel and the kernels it calls, each from a fixed cost worth
    KERNEL_COST bytes: a proxy for its compile time."""
    seen = set() if seen is None else seen
    seen.add(fn)
    code = fn.py_func.__code__
    total = KERNEL_COST + len(code.co_code)
    for name in code.co_names:
        callee = fn.py_func.__globals__.get(name)
        if callee not in seen and hasattr(callee, "py_func"):
            total += _code_size(callee, seen)
    return total


@njit(cache=True)
def _nothing(x):
    return x


def _numba_set_up():
    _nothing(0)
