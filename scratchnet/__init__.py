"""scratchnet: a from-scratch CNN framework in NumPy with Numba kernels, no autograd.

    scratchnet.core   the framework: kernels, layers, losses, optimizer, model, gradient checker
    scratchnet.data   IDX files, MNIST, augmentation, real-world picture preprocessing
    scratchnet.apps   inference, the evaluation report, explanations, ONNX export, the web demo

The public names below are imported lazily (PEP 562), so `import scratchnet.cli` costs
nothing and the command-line scripts can size the thread pools before NumPy loads. Numba
itself loads only on the first kernel call (see scratchnet.core.kernels).
"""
import importlib

__version__ = "0.2.0"

_EXPORTS = {
    "Conv2D": "core.layers", "Dense": "core.layers", "Flatten": "core.layers",
    "MaxPool2D": "core.layers", "ReLU": "core.layers",
    "softmax": "core.losses", "softmax_cross_entropy": "core.losses",
    "Sequential": "core.model", "load_model": "core.model",
    "mnist_cnn": "core.networks", "mnist_mlp": "core.networks",
    "SGD": "core.optim",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__():
    return __all__
