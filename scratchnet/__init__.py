"""scratchnet: a from-scratch CNN framework in NumPy with Numba kernels, no autograd.

Importing scratchnet imports NumPy only; Numba loads on the first kernel call
(see scratchnet.kernels).
"""
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .losses import softmax, softmax_cross_entropy
from .model import Sequential, load_model, mnist_cnn
from .optim import SGD

__version__ = "0.1.0"
__all__ = ["Conv2D", "Dense", "Flatten", "MaxPool2D", "ReLU", "SGD", "Sequential",
           "load_model", "mnist_cnn", "softmax", "softmax_cross_entropy", "__version__"]
