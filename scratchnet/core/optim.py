"""Stochastic gradient descent with momentum, Keras semantics.

    v <- momentum * v - lr * g
    w <- w + v

State (one velocity per parameter) is kept explicitly in `self.velocity`, keyed like the
model's `parameters()` dict, so it can be inspected and is created lazily as zeros.
"""
import numpy as np

from . import kernels


class SGD:
    def __init__(self, lr=0.01, momentum=0.9):
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.lr, self.momentum = float(lr), float(momentum)
        self.velocity = {}

    def step(self, params, grads):
        """Update every array in `params` in place from the gradient of the same key."""
        for key, w in params.items():
            g = grads[key]
            v = self.velocity.get(key)
            if v is None:
                v = self.velocity[key] = np.zeros_like(w)
            kernels.active().sgd_momentum(w, v, g, self.lr, self.momentum)
