"""Compiling the Numba kernels ahead of a run, so that training does not stop to compile.

A newcomer can skip this file: it changes when kernels are compiled, never what they compute.

Numba compiles a kernel the first time it is called, for the argument types of that call, and
keeps the result on disk (`cache=True`), so only a machine's first run pays. That first run
would pay in the middle of its first training step, one kernel after another. Instead:

  1. record   `run()` (one training step) is executed with a Recorder standing in for the
              kernel team: it notes the calls the step would make instead of making them,
              which gives the kernels and argument types the run needs (jit.recording);
  2. load     those already in Numba's disk cache are loaded;
  3. compile  the others are shared out between forked processes, one per core, each writing
              its share into the disk cache; this process then loads them all. (It never holds
              the compiler's working memory, and 2 cores halve the wait.)
  4. later    a kernel with an exact NumPy twin (EXACT_TWINS: bitwise the same result) is not
              waited for: a low-priority process compiles it while the first steps run on the
              twin; `still_compiling` tells the kernel's wrapper which to call.

Forking is used on Linux only; elsewhere everything compiles in this process, in turn.
"""
import atexit
import contextlib
import os
import sys
import time
import warnings

from numba import njit, typeof

# Kernels whose NumPy reference gives bitwise the same result (tests/test_kernels.py asserts
# it), so a first run can train on it while the kernel compiles, and the same seed still
# gives the same weights as with a warm cache. The others (fastmath sums) differ in the last
# bits and are waited for.
EXACT_TWINS = set()
_compiling = {}   # kernel -> the process compiling it in the background


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
    (steps 2-4 of the module docstring), on `team`'s number of cores. on_compile(n) is
    called first if n kernels must be compiled. Returns the seconds spent waiting for the
    compiler (0.0 when everything was cached)."""
    jobs = []
    for fn, args in calls:
        sig = tuple(typeof(a) for a in args)
        if (fn, sig) not in jobs and tuple(sig) not in fn.overloads and not still_compiling(fn, team) \
                and not _cached(fn, sig):
            jobs.append((fn, sig))
    if not jobs:
        return 0.0
    if on_compile is not None:
        on_compile(len(jobs))
    forking = team.size > 1 and hasattr(os, "fork") and sys.platform.startswith("linux")
    later = [job for job in jobs if job[0] in EXACT_TWINS] if forking else []
    now = [job for job in jobs if job not in later]
    if forking:   # Numba's own set-up, once, so that no child redoes it; not counted as
        _numba_set_up()   # compiling: a warm start pays it too, when it loads its first kernel
    start = time.perf_counter()
    if later:
        pid = _fork_compiler(later, niceness=19)  # (gets a core when the others are done)
        _compiling.update((fn, pid) for fn, _ in later)
        atexit.register(_exited, pid, True)       # at exit: no orphan, a complete cache
    if now:
        _compile_in_parallel(now, min(team.size, len(now)) if forking else 1)
    return time.perf_counter() - start


def still_compiling(fn, team):
    """Whether a background process is still compiling fn (if it has finished, the next call
    loads fn from the disk cache, or compiles it here should that process have failed)."""
    pid = _compiling.get(fn)
    if pid is None or team.is_recording:
        return False
    if not _exited(pid):
        return True
    for kernel in [k for k, p in _compiling.items() if p == pid]:
        del _compiling[kernel]
    return False


def _exited(pid, wait=False):
    """Whether child process pid has exited (collecting it), waiting for it if asked."""
    try:
        return os.waitpid(pid, 0 if wait else os.WNOHANG)[0] != 0
    except ChildProcessError:                     # collected already: exited all the same
        return True


def _cached(fn, sig):
    """Whether Numba's disk cache holds fn compiled for sig (loading it if so)."""
    try:
        return fn._cache.load_overload(sig, fn.targetctx) is not None
    except Exception:   # an internal of Numba's: if it changes, compile as if uncached
        return False


def _fork_compiler(jobs, niceness=0):
    """A forked process that compiles jobs [(dispatcher, signature)] into the disk cache and
    exits; returns its pid."""
    with warnings.catch_warnings():           # (3.12+: "multi-threaded, fork may deadlock";
        warnings.simplefilter("ignore")       # the child only compiles and exits)
        pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.nice(niceness)
            for fn, sig in jobs:
                fn.compile(sig)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _compile_in_parallel(jobs, processes):
    """jobs [(dispatcher, signature)], shared out by estimated size; the forked processes only
    write Numba's disk cache, from which this process then loads what they compiled."""
    shares = [[] for _ in range(processes)]
    for job in sorted(jobs, key=lambda job: -_code_size(job[0])):    # largest first, to the
        min(shares, key=lambda share: sum(_code_size(fn) for fn, _ in share)).append(job)  # least loaded
    children = [_fork_compiler(share) for share in shares] if processes > 1 else []
    for pid in children:
        os.waitpid(pid, 0)
    for fn, sig in jobs:                          # loaded from the cache the children wrote
        fn.compile(sig)                           # (or compiled here: no children, or one failed)


def _code_size(fn, seen=None):
    """Bytecode size of a kernel and the kernels it calls: a proxy for its compile time."""
    seen = set() if seen is None else seen
    seen.add(fn)
    code = fn.py_func.__code__
    total = len(code.co_code)
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
