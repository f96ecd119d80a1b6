"""Finite-difference gradient checking, float64, central differences.

    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / 2h        error O(h^2)

A layer is checked through the scalar  f(x) = sum(layer.forward(x) * dout)  with a RANDOM
upstream gradient `dout`: then df/dx is exactly what layer.backward(dout) must return.
(A uniform dout such as ones_like can hide a wrong backward: a mistake that permutes or
mixes positions still sums to the right total.)
"""
import numpy as np


def rel_error(analytic, numeric):
    """max|a - n| / max(1e-8, max|a| + max|n|): a scale-free error for a whole gradient.

    Below ~1e-7 in float64 means the backward pass is right; a real bug gives >1e-3.
    """
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.max(np.abs(a - n)) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(n))))


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Central-difference gradient of the scalar function f() with respect to array x.

    x is perturbed in place and restored. `indices` (flat positions) limits the work for
    large arrays; the result is then the gradient at those positions only, shape (len,).
    """
    flat = x.reshape(-1)  # a view: writing to it perturbs x
    positions = range(flat.size) if indices is None else indices
    grad = np.zeros(len(positions) if indices is not None else flat.size, dtype=np.float64)
    for out_i, i in enumerate(positions):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        grad[out_i] = (fp - fm) / (2 * h)
    return grad if indices is not None else grad.reshape(x.shape)


def check_layer(layer, x, rng, h=1e-5, max_checks=None):
    """Compare a layer's backward pass with finite differences, for x and every parameter.

    Runs in float64 (layer and x are cast). Returns {"x": err, "W": err, ...} of rel_error.
    `max_checks` samples that many random positions per array instead of all of them.
    """
    layer.astype(np.float64)
    x = np.asarray(x, dtype=np.float64).copy()
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}
    arrays = {"x": x, **layer.params}

    def f():
        return float(np.sum(layer.forward(x) * dout))

    errors = {}
    for name, arr in arrays.items():
        idx = None
        if max_checks is not None and arr.size > max_checks:
            idx = rng.choice(arr.size, size=max_checks, replace=False)
        num = numerical_gradient(f, arr, h, idx)
        ana = analytic[name].reshape(-1)[idx] if idx is not None else analytic[name]
        errors[name] = rel_error(ana, num)
    return errors
