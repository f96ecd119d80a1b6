"""Numba-compiled kernels: the same functions as `reference.py`, as explicit loops.

Each function has the name, arguments, result and tie rule of its NumPy twin in
`scratchnet.kernels.reference` (read that one first); tests assert they agree on random
shapes. The loops are written so the innermost one walks contiguous memory.
`cache=True` keeps the compiled code on disk, so only the first process pays to compile.
"""
import threading

import numpy as np
from numba import njit, prange

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


# ------------------------------------------------------- fused conv + ReLU + max-pool
# Channel-last inside: the convolution is ONE BLAS matrix product
#     conv (N*OH*OW, F) = patches (N*OH*OW, K) @ W.reshape(F, K).T
# and the ReLU + pooling loops then run with the F filters innermost (contiguous, SIMD),
# parallel over images. The backward pass scatters each window's gradient to its winner
# in a channel-last (N*OH*OW, F) matrix G, and dW is again one BLAS product: G.T @ patches.

_scratch_space = threading.local()


def _scratch(name, shape, dtype):
    """A reusable per-thread work array: large temporaries are not re-allocated (and page-
    faulted in again) every batch. Only for arrays that never leave this module."""
    bufs = _scratch_space.__dict__.setdefault("bufs", {})
    size = int(np.prod(shape))
    buf = bufs.get((name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = bufs[(name, np.dtype(dtype))] = np.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


@njit(cache=True, parallel=True)
def _patches(x, kh, kw, stride, pad, rows):
    """x: (N, C, H, W) -> rows (N*OH*OW, C*KH*KW): row (n, oh, ow) is one receptive field."""
    N, C, H, W = x.shape
    OH, OW = _out_size(H, kh, stride, pad), _out_size(W, kw, stride, pad)
    for n in prange(N):
        for oh in range(OH):
            for ow in range(OW):
                r = (n * OH + oh) * OW + ow
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - pad + i
                        for j in range(kw):
                            w = ow * stride - pad + j
                            inside = 0 <= h < H and 0 <= w < W
                            rows[r, (c * kh + i) * kw + j] = x[n, c, h, w] if inside else 0
    return rows


@njit(cache=True)
def _unpatch(drows, x_shape, kh, kw, stride, pad):
    """Adjoint of _patches: (N*OH*OW, K) -> (N, C, H, W), overlaps summed."""
    N, C, H, W = x_shape
    OH, OW = _out_size(H, kh, stride, pad), _out_size(W, kw, stride, pad)
    dx = np.zeros((N, C, H, W), dtype=drows.dtype)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                r = (n * OH + oh) * OW + ow
                for c in range(C):
                    for i in range(kh):
                        h = oh * stride - pad + i
                        if 0 <= h < H:
                            for j in range(kw):
                                w = ow * stride - pad + j
                                if 0 <= w < W:
                                    dx[n, c, h, w] += drows[r, (c * kh + i) * kw + j]
    return dx


@njit(cache=True, parallel=True)
def _bias_relu_pool(conv, b, size, pstride, out, argmax):
    """conv: (N, OH, OW, F) channel-last, without bias -> out, argmax: (N, F, PH, PW).
    Adds the bias, applies the ReLU and pools; the first maximum wins."""
    N, OH, OW, F = conv.shape
    PH, PW = out.shape[2], out.shape[3]
    zero = conv.dtype.type(0)
    for n in prange(N):
        best = np.empty(F, dtype=conv.dtype)
        best_k = np.empty(F, dtype=np.int32)
        for ph in range(PH):
            for pw in range(PW):
                best[:] = zero      # ReLU: max(0, window) -- a window of negatives ties at 0
                best_k[:] = 0
                for a in range(size):
                    for e in range(size):
                        row = conv[n, ph * pstride + a, pw * pstride + e]
                        k = a * size + e
                        for f in range(F):
                            v = row[f] + b[f]
                            if v > best[f]:
                                best[f] = v
                                best_k[f] = k
                for f in range(F):
                    out[n, f, ph, pw] = best[f]
                    argmax[n, f, ph, pw] = best_k[f]


@njit(cache=True, parallel=True)
def _pool_relu_scatter(dout, argmax, out, size, pstride, G, db_parts):
    """Fill G (N, OH, OW, F), dL/dconv channel-last: each window's gradient at its winner if
    the winner passed the ReLU (pooled value > 0), zero elsewhere. db_parts[n] = per-image db."""
    N, F, PH, PW = dout.shape
    zero = G.dtype.type(0)
    for n in prange(N):
        G[n] = zero
        db_parts[n] = zero
        for f in range(F):
            for ph in range(PH):
                for pw in range(PW):
                    if out[n, f, ph, pw] > 0:
                        k = argmax[n, f, ph, pw]
                        g = dout[n, f, ph, pw]
                        G[n, ph * pstride + k // size, pw * pstride + k % size, f] += g
                        db_parts[n, f] += g


def conv_relu_pool_forward(x, W, b, stride, pad, size, pstride):
    """Same as reference.conv_relu_pool_forward."""
    N = x.shape[0]
    F, C, KH, KW = W.shape
    OH, OW = conv_output_size(x.shape[2], KH, stride, pad), conv_output_size(x.shape[3], KW, stride, pad)
    PH, PW = conv_output_size(OH, size, pstride, 0), conv_output_size(OW, size, pstride, 0)
    rows = _patches(x, KH, KW, stride, pad, _scratch("rows", (N * OH * OW, C * KH * KW), x.dtype))
    conv = _scratch("conv", (N * OH * OW, F), x.dtype)
    np.matmul(rows, W.reshape(F, -1).T, out=conv)                     # (N*L, K) @ (K, F)
    out = np.empty((N, F, PH, PW), dtype=x.dtype)
    argmax = np.empty((N, F, PH, PW), dtype=np.int32)
    _bias_relu_pool(conv.reshape(N, OH, OW, F), b, size, pstride, out, argmax)
    return out, argmax


def conv_relu_pool_backward(dout, argmax, out, x, W, stride, pad, size, pstride, need_dx):
    """Same as reference.conv_relu_pool_backward: (dW, db, dx or None)."""
    N = x.shape[0]
    F, C, KH, KW = W.shape
    OH, OW = conv_output_size(x.shape[2], KH, stride, pad), conv_output_size(x.shape[3], KW, stride, pad)
    G = _scratch("G", (N, OH, OW, F), W.dtype)
    db_parts = _scratch("db", (N, F), W.dtype)
    _pool_relu_scatter(dout, argmax, out, size, pstride, G, db_parts)
    G = G.reshape(-1, F)                                               # (N*L, F)
    rows = _patches(x, KH, KW, stride, pad, _scratch("rows", (N * OH * OW, C * KH * KW), x.dtype))
    dW = (G.T @ rows).reshape(W.shape)                                 # (F, N*L) @ (N*L, K)
    db = db_parts.sum(axis=0)
    dx = _unpatch(G @ W.reshape(F, -1), x.shape, KH, KW, stride, pad) if need_dx else None
    return dW, db, dx
