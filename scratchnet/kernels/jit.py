"""Numba-compiled kernels: the same functions as `reference.py`, as explicit loops.

Each function has the name, arguments, result and tie rule of its NumPy twin in
`scratchnet.kernels.reference` (read that one first); tests assert they agree on random
shapes. The loops are written so the innermost one walks contiguous memory.
`cache=True` keeps the compiled code on disk, so only the first process pays to compile.
"""
import numpy as np
from numba import njit

from .reference import conv_output_size  # noqa: F401  (same helper for both back ends)


@njit(cache=True)
def _out_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


@njit(cache=True)
def im2col(x, kh, kw, stride, pad):
    """x: (N, C, H, W) -> cols: (N, C*KH*KW, OH*OW); see reference.im2col."""
    N, C, H, W = x.shape
    OH, OW = _out_size(H, kh, stride, pad), _out_size(W, kw, stride, pad)
    cols = np.zeros((N, C * kh * kw, OH * OW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for oh in range(OH):
                        h = oh * stride - pad + i
                        if h < 0 or h >= H:
                            continue  # padding row: stays 0
                        for ow in range(OW):
                            w = ow * stride - pad + j
                            if 0 <= w < W:
                                cols[n, row, oh * OW + ow] = x[n, c, h, w]
    return cols


@njit(cache=True)
def col2im(cols, x_shape, kh, kw, stride, pad):
    """cols: (N, C*KH*KW, OH*OW) -> dx: x_shape, overlaps summed; see reference.col2im."""
    N, C, H, W = x_shape
    OH, OW = _out_size(H, kh, stride, pad), _out_size(W, kw, stride, pad)
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for oh in range(OH):
                        h = oh * stride - pad + i
                        if h < 0 or h >= H:
                            continue
                        for ow in range(OW):
                            w = ow * stride - pad + j
                            if 0 <= w < W:
                                dx[n, c, h, w] += cols[n, row, oh * OW + ow]
    return dx


@njit(cache=True)
def maxpool_forward(x, size, stride):
    """x: (N, C, H, W) -> (out, argmax); first maximum in row-major order wins."""
    N, C, H, W = x.shape
    OH, OW = _out_size(H, size, stride, 0), _out_size(W, size, stride, 0)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int32)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    best = x[n, c, oh * stride, ow * stride]
                    best_k = 0
                    for i in range(size):
                        for j in range(size):
                            v = x[n, c, oh * stride + i, ow * stride + j]
                            if v > best:  # strict: a tie keeps the earlier element
                                best = v
                                best_k = i * size + j
                    out[n, c, oh, ow] = best
                    argmax[n, c, oh, ow] = best_k
    return out, argmax


@njit(cache=True)
def maxpool_backward(dout, argmax, x_shape, size, stride):
    """dout, argmax: (N, C, OH, OW) -> dx: x_shape; see reference.maxpool_backward."""
    N, C, OH, OW = dout.shape
    dx = np.zeros((x_shape[0], x_shape[1], x_shape[2], x_shape[3]), dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    k = argmax[n, c, oh, ow]
                    dx[n, c, oh * stride + k // size, ow * stride + k % size] += dout[n, c, oh, ow]
    return dx
