"""A team of threads that runs Numba kernels on chunks of a batch, the calling thread
taking its share. The jit back end's only source of parallelism.

Why not Numba's `parallel=True` loops: each such kernel costs 1-2 s more to compile (measured
on the machines of benchmarks/RESULTS.md), which every first run would pay, and the two
behave alike per call: waking a sleeping thread costs about as much as a `prange` launch.
The kernels are compiled with nogil=True, so the threads really run at the same time.
Between calls the threads sleep on a lock: they never spin against BLAS's own threads.
"""
import _thread
import collections
import contextlib
import os
import threading

# Python raises a Ctrl-C's KeyboardInterrupt only where it checks for signals: after a call
# returns, at a loop's jump back, at a function's start; never inside a call into C. So the
# team is taken, and its helpers released and joined, by deque.extend(map(lock method, locks)):
# one call into C, after which the deque holds exactly the locks that changed hands.
_release, _acquire = _thread.LockType.release, _thread.LockType.acquire


class Team:
    """`size` threads in all: the caller and size - 1 helpers. (While compile_ahead records
    a step, jit.team() hands out a compiling.Recorder instead, which runs nothing.)"""
    is_recording = False

    def __init__(self, size):
        self.size = max(1, int(size))
        self._busy = threading.Lock()      # one batch of chunks at a time
        self._go = [threading.Lock() for _ in range(self.size - 1)]
        self._done = [threading.Lock() for _ in range(self.size - 1)]
        for lock in self._go + self._done:
            lock.acquire()
        self._task, self._errors = None, []
        self._pinning = threading.Lock()
        for i in range(self.size - 1):
            threading.Thread(target=self._serve, args=(i,), daemon=True,
                             name=f"scratchnet-kernels-{i + 1}").start()

    def busy(self):
        """Whether a run() is under way (a run() called meanwhile does all its chunks on its
        own thread, as a data-parallel step's slices do)."""
        return self._busy.locked()

    def run(self, fn, args, chunks):
        """Call fn(*args, *chunk) for every chunk; chunk k runs on thread k % size (thread 0
        is the caller). Returns when all are done; re-raises the first error of any thread.

        The assignment depends only on the chunks, never on timing, so a result that depends
        on how work is split (a sum of per-chunk partials) is reproducible. If another thread
        is already using the team, the caller runs every chunk itself.
        """
        if self.size == 1 or len(chunks) == 1:
            for chunk in chunks:
                fn(*args, *chunk)
            return
        busy = collections.deque()       # holds True once this call has the team
        try:
            busy.extend(filter(None, map(_acquire, [self._busy], [False])))
            if not busy:
                for chunk in chunks:
                    fn(*args, *chunk)
                return
            self._task, self._errors = (fn, args, chunks), []
            released, joined = collections.deque(), collections.deque()
            try:
                released.extend(map(_release, self._go[:min(len(chunks), self.size) - 1]))
                for chunk in chunks[0::self.size]:
                    fn(*args, *chunk)
            finally:
                # Wait for every released helper, even through Ctrl-C: one still writing into
                # the model's arrays after the caller has moved on would corrupt them. No call
                # comes before the `try`, so a Ctrl-C cannot skip the waiting.
                interrupted = False
                while True:
                    try:
                        joined.extend(map(_acquire, self._done[len(joined):len(released)]))
                        break
                    except KeyboardInterrupt:
                        interrupted = True
                if interrupted:
                    raise KeyboardInterrupt
            if self._errors:
                raise self._errors[0]
        finally:
            if busy:
                self._task = None
                self._busy.release()

    @contextlib.contextmanager
    def pinned(self):
        """Within the block, each thread of the team runs on a CPU of its own, the caller on
        the one it is running on, and no other; afterwards each gets its CPU set back.

        Why: unpinned, Linux woke the sleeping helper on the caller's core while OpenBLAS's
        worker thread ran on the other, and the caller and the helper took turns instead of
        running side by side (seen with `ps -L` during training); pinned, steps are faster in
        the host's busy spells (docs/performance.md). OpenBLAS's own thread is left free to move.

        Only when the team has one thread per CPU the process may use (the default): with
        fewer, other processes doing the same could pile up on the same CPUs while the rest
        idle (two processes training at once each keep their caller where Linux put it). Nor
        where threads cannot be pinned (not Linux), for a team of one, or when the team is
        pinned or busy already (another thread's block)."""
        if self.size == 1 or not hasattr(os, "sched_setaffinity"):
            yield
            return
        taken = collections.deque()
        try:
            taken.extend(filter(None, map(_acquire, [self._pinning], [False])))
            if not taken:
                yield
                return
            here = _current_cpu()
            cpus = sorted(os.sched_getaffinity(0), key=lambda cpu: cpu != here)
            saved = self._pin([{cpu} for cpu in cpus]) if len(cpus) == self.size else None
            try:
                yield
            finally:
                if saved is not None:
                    self._pin(saved)
        finally:
            if taken:
                self._pinning.release()

    def _pin(self, masks):
        """Give thread k the CPU set masks[k]; returns the sets they had before, or None (and
        changes nothing) if the threads could not each take their own chunk (the team was busy)
        or the OS refused."""
        before, where = [None] * self.size, [None] * self.size
        chunks = [(k,) for k in range(self.size)]

        def pin(k):
            where[k] = threading.get_ident()
            before[k] = os.sched_getaffinity(0)
            os.sched_setaffinity(0, masks[k])

        def undo(k):   # each thread back to the set it had first, as far as the OS lets it
            first = where.index(where[k])
            if first == k and where[k] == threading.get_ident() and before[k] is not None:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, before[k])

        try:
            self.run(pin, (), chunks)
            if len(set(where)) == self.size:
                return before
        except OSError:
            pass
        self.run(undo, (), chunks)
        return None

    def _serve(self, i):
        while True:
            self._go[i].acquire()
            fn, args, chunks = self._task
            try:
                for chunk in chunks[i + 1::self.size]:
                    fn(*args, *chunk)
            except BaseException as e:  # handed to the caller
                self._errors.append(e)
            finally:
                self._done[i].release()


def _current_cpu():
    """The CPU the calling thread is running on (Linux), or None."""
    try:
        with open("/proc/thread-self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return None
