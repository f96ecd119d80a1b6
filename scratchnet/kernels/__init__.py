"""Kernel back ends: `reference` (plain NumPy, readable) and `jit` (Numba, fast).

Both modules export the same functions with the same signatures. Layers ask
`kernels.active()` for the module to call, so the choice is made once, here:

- "jit" (default): Numba-compiled loops, imported on first use, so that importing
  scratchnet does not import Numba. Training uses it.
- "reference": NumPy only. One-image prediction uses it, because it needs no JIT
  compilation and no Numba import (a cold `predict.py` stays well under a second).

Select with `kernels.use("reference")` or the environment variable SCRATCHNET_KERNELS.
"""
import contextlib
import importlib
import os

BACKENDS = ("jit", "reference")
_name = os.environ.get("SCRATCHNET_KERNELS", "jit")
_module = None


def use(name):
    """Make `name` ("jit" or "reference") the back end every layer calls from now on."""
    global _name, _module
    if name not in BACKENDS:
        raise ValueError(f"unknown kernel back end {name!r}; choose one of {BACKENDS}")
    _name, _module = name, None


@contextlib.contextmanager
def using(name):
    """Run a block with another back end, then restore the previous one."""
    previous = _name
    use(name)
    try:
        yield
    finally:
        use(previous)


def active():
    """The module of the selected back end (imported on first call)."""
    global _module
    if _module is None:
        if _name not in BACKENDS:
            raise ValueError(f"SCRATCHNET_KERNELS={_name!r}; choose one of {BACKENDS}")
        _module = importlib.import_module(f"{__name__}.{_name}")
    return _module


def active_name():
    return _name
