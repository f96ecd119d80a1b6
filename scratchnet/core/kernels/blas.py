"""How many threads NumPy's BLAS (OpenBLAS) uses, changed for one block of code.

The data-parallel training step (core/training.py) runs one slice of the batch on each thread
of the kernels' team, and each thread calls BLAS: there BLAS must use one thread, or the two
pools would each start a thread per core. NumPy does not expose the setting, so this finds
the OpenBLAS library NumPy loaded and calls its own setter, as threadpoolctl does. Where that
library or its setter cannot be found (another BLAS, another OS), `single_threaded` changes
nothing: the results are the same, only slower.
"""
import contextlib
import ctypes

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_api = None


def _find():
    """(set, get) of the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401  (loads its BLAS)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            getter = name.replace("set_num_threads", "get_num_threads")
            if hasattr(lib, name) and hasattr(lib, getter):
                setter, get = getattr(lib, name), getattr(lib, getter)
                setter.argtypes, setter.restype, get.restype = [ctypes.c_int], None, ctypes.c_int
                return setter, get
    return None


def api():
    global _api
    if _api is None:
        _api = _find() or False
    return _api or None


@contextlib.contextmanager
def single_threaded():
    """Within the block, BLAS runs each call on the calling thread only."""
    found = api()
    if found is None:
        yield
        return
    setter, get = found
    before = get()
    setter(1)
    try:
        yield
    finally:
        setter(before)
