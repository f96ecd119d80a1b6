"""Optimizers: SGD with momentum (the reference recipe's) and Adam (the fast recipe's).

SGD with momentum, Keras semantics:

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


class Adam:
    """Adam (Kingma & Ba, 2015), PyTorch's arithmetic: per parameter, moving averages of the
    gradient (m, decay beta1) and of its square (v, decay beta2), both bias-corrected, and a
    step of lr * m_hat / (sqrt(v_hat) + eps): each weight's step scaled by the size of its
    own recent gradients. The update is kernels.reference.adam (read it there). State:
    `m`, `v` keyed like the model's parameters(), and `steps`, the updates made so far."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.lr, self.betas, self.eps = float(lr), tuple(float(b) for b in betas), float(eps)
        self.m, self.v, self.steps = {}, {}, 0

    def _start_moments(self, params):
        """Zero moments for any parameter seen for the first time."""
        for key, w in params.items():
            if key not in self.m:
                self.m[key], self.v[key] = np.zeros_like(w), np.zeros_like(w)

    def step(self, params, grads):
        """Update every array in `params` in place from the gradient of the same key."""
        self.steps += 1
        self._start_moments(params)
        for key, w in params.items():
            kernels.active().adam(w, self.m[key], self.v[key], grads[key], self.lr, *self.betas,
                                  self.eps, self.steps)

    def step_sum(self, params, grads, parts):
        """step(params, grads) with `grads` first set to the sum of `parts` (dicts keyed like
        grads, added in order: the data-parallel slices' gradients), in one pass over memory
        shared by the kernel threads; the same weights as summing, then step()."""
        self.steps += 1
        self._start_moments(params)
        keys = list(params)
        kernels.active().adam_sum([params[k] for k in keys], [self.m[k] for k in keys],
                                  [self.v[k] for k in keys], [grads[k] for k in keys],
                                  [[part[k] for k in keys] for part in parts],
                                  self.lr, *self.betas, self.eps, self.steps)
