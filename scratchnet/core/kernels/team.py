"""A team of threads that runs Numba kernels on chunks of a batch, the calling thread
taking its share. The jit back end's only source of parallelism.

Why not Numba's `parallel=True` loops: each such kernel costs 1-2 s more to compile (measured
on the machines of benchmarks/RESULTS.md), which every first run would pay, and the two
behave alike per call: waking a sleeping thread costs about as much as a `prange` launch.
The kernels are compiled with nogil=True, so the threads really run at the same time.
Between calls the threads sleep on a lock: they never spin against BLAS's own threads.
"""
import contextlib
import threading


class Team:
    """`size` threads in all: the caller and size - 1 helpers."""

    def __init__(self, size):
        self.size = max(1, int(size))
        self._busy = threading.Lock()      # one batch of chunks at a time
        self._go = [threading.Lock() for _ in range(self.size - 1)]
        self._done = [threading.Lock() for _ in range(self.size - 1)]
        for lock in self._go + self._done:
            lock.acquire()
        self._task, self._errors = None, []
        self._recording = None
        for i in range(self.size - 1):
            threading.Thread(target=self._serve, args=(i,), daemon=True,
                             name=f"scratchnet-kernels-{i + 1}").start()

    def run(self, fn, args, chunks):
        """Call fn(*args, *chunk) for every chunk; chunk k runs on thread k % size (thread 0
        is the caller). Returns when all are done; re-raises the first error of any thread.

        The assignment depends only on the chunks, never on timing, so a result that depends
        on how work is split (a sum of per-chunk partials) is reproducible. If another thread
        is already using the team, the caller runs every chunk itself.
        """
        if self._recording is not None:
            self._recording.append((fn, tuple(args) + tuple(chunks[0])))
            return
        if self.size == 1 or len(chunks) == 1 or not self._busy.acquire(blocking=False):
            for chunk in chunks:
                fn(*args, *chunk)
            return
        try:
            self._task, self._errors = (fn, args, chunks), []
            helpers = self._go[:min(len(chunks), self.size) - 1]
            for lock in helpers:
                lock.release()
            try:
                for chunk in chunks[0::self.size]:
                    fn(*args, *chunk)
            finally:
                self._join(len(helpers))
            if self._errors:
                raise self._errors[0]
        finally:
            self._task = None
            self._busy.release()

    @property
    def is_recording(self):
        return self._recording is not None

    @contextlib.contextmanager
    def recording(self):
        """Within the block, run() executes nothing and notes (fn, args of its first chunk)
        instead: what a piece of code would call, to compile it ahead (jit.compile_ahead)."""
        self._recording = calls = []
        try:
            yield calls
        finally:
            self._recording = None

    def _join(self, n):
        """Wait for n helpers, even through Ctrl-C: a helper still writing into the model's
        arrays after the caller has moved on would corrupt them."""
        interrupted = False
        for lock in self._done[:n]:
            while True:
                try:
                    lock.acquire()
                    break
                except KeyboardInterrupt:
                    interrupted = True
        if interrupted:
            raise KeyboardInterrupt

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
