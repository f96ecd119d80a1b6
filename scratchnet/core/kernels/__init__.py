"""Kernel back ends: `reference` (plain NumPy, readable) and `jit` (Numba, fast).

Both modules export the same functions with the same signatures, and the tests assert that
they agree. Layers call `kernels.active()`, the back end selected for the current thread:

- "jit" (the default): Numba-compiled loops. Training uses it. Numba is imported on the
  first call, never by `import scratchnet`.
- "reference": NumPy only. One-image prediction uses it: no JIT compilation, no Numba import
  (a cold `predict.py` stays well under a second).

Choose at the call site, for one block of code in one thread:

    with kernels.using("reference"):
        probs = model.predict_proba(x)

The process-wide default comes from the environment variable SCRATCHNET_KERNELS (else "jit");
no function changes it.
"""
import contextlib
import contextvars
import importlib
import os

from ...errors import ScratchnetError

BACKENDS = ("jit", "reference")
# Conv2D -> ReLU -> MaxPool2D blocks, (in channels, kernel height, kernel width, pool size),
# that the jit back end has unrolled kernels for (jit.UNROLLED); fused.direct runs them so
UNROLLED_BLOCKS = ((1, 3, 3, 2), (1, 5, 5, 2))
_selected = contextvars.ContextVar("scratchnet_kernels", default=os.environ.get("SCRATCHNET_KERNELS", "jit"))


def _check(name):
    if name not in BACKENDS:  # also catches a mistyped SCRATCHNET_KERNELS
        raise ScratchnetError(f"unknown kernel back end {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


@contextlib.contextmanager
def using(name):
    """Within the block, in this thread only, layers call the back end `name`."""
    token = _selected.set(_check(name))
    try:
        yield
    finally:
        _selected.reset(token)


_threads = None   # set_threads(n); None: one thread per CPU


def set_threads(n=None):
    """Run the compiled kernels on n threads (None: one per CPU this process may use). Takes
    effect when the thread team is made, at the first kernel call: call it before that."""
    global _threads
    _threads = n


def available_cpus():
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # (not on every platform)
        return os.cpu_count() or 1


def threads():
    """How many threads the compiled kernels run on (see set_threads)."""
    return _threads or available_cpus()


def split(n, parts):
    """[(lo, hi), ...]: range(n) cut into `parts` contiguous pieces (fewer if n is small): how
    work is shared out over threads, by the kernels and by the data-parallel training step."""
    parts = max(1, min(parts, n))
    return [(k * n // parts, (k + 1) * n // parts) for k in range(parts)]


def selected():
    """The name of the back end selected for this thread ("jit" or "reference")."""
    return _check(_selected.get())


_modules = {}   # name -> module: active() runs a dozen times a training step


def active():
    """The module of the back end selected for this thread (imported on first use)."""
    name = _selected.get()
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = importlib.import_module(f"{__name__}.{_check(name)}")
    return module
