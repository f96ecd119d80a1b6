"""Stochastic gradient descent with momentum, Keras semantics.

    v <- momentum * v - lr * (g + weight_decay * w)
    w <- w + v

weight_decay (L2 regularisation: the gradient of weight_decay/2 * |w|^2) applies to weight
matrices and kernels ("W"), not to biases, as Keras' kernel_regularizer; it is 0 by default.
State (one velocity per parameter) is kept explicitly in `self.velocity`, keyed like the
model's `parameters()` dict, so it can be inspected and is created lazily as zeros.
"""
import numpy as np

from . import kernels


class SGD:
    def __init__(self, lr=0.01, momentum=0.9, weight_decay=0.0):
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {weight_decay}")
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.velocity = {}

    def step(self, params, grads):
        """Update every array in `params` in place from the gradient of the same key."""
        for key, w in params.items():
            g = grads[key]
            v = self.velocity.get(key)
            if v is None:
                v = self.velocity[key] = np.zeros_like(w)
            decay = self.weight_decay if key.rsplit(".", 1)[-1] == "W" else 0.0
            kernels.active().sgd_momentum(w, v, g, self.lr, self.momentum, decay)
