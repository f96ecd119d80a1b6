"""scratchnet: a from-scratch CNN framework in NumPy with Numba kernels, no autograd.

The public names below are imported lazily (PEP 562), so `import scratchnet.cli` costs
nothing and the command-line scripts can size the thread pools before NumPy loads. Numba
itself loads only on the first kernel call (see scratchnet.kernels).
"""
import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Conv2D": "layers", "Dense": "layers", "Flatten": "layers", "MaxPool2D": "layers",
    "ReLU": "layers", "softmax": "losses", "softmax_cross_entropy": "losses",
    "Sequential": "model", "load_model": "model", "mnist_cnn": "model", "mnist_mlp": "model",
    "SGD": "optim",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__():
    return __all__
