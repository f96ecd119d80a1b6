"""Numba-compiled kernels: the same functions as `reference.py`, as explicit loops.

Each function has the name, arguments, result and tie rule of its NumPy twin in
`scratchnet.kernels.reference` (read that one first); tests assert they agree on random
shapes. The loops are written so the innermost one walks contiguous memory.
`cache=True` keeps the compiled code on disk, so only the first process pays to compile.
"""
import numpy as np
from numba import njit, prange

from .reference import conv_output_size


@njit(cache=True)
def _out_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


# Large outputs are allocated by NumPy in the Python wrappers and filled by the compiled
# loops: NumPy asks the kernel for huge pages on big arrays, so first touching a 50 MB
# array costs 4 ms instead of 20 ms inside Numba's own allocator (measured here).

@njit(cache=True)
def _im2col(xp, kh, kw, stride, cols):
    N, C = xp.shape[0], xp.shape[1]
    OW = _out_size(xp.shape[3], kw, stride, 0)
    OH = cols.shape[2] // OW
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = cols[n, (c * kh + i) * kw + j]
                    for oh in range(OH):
                        src = xp[n, c, oh * stride + i]
                        dst = row[oh * OW:(oh + 1) * OW]
                        for ow in range(OW):
                            # unsigned index: Numba can skip its negative-index wrap-around,
                            # which otherwise blocks SIMD
                            dst[ow] = src[np.uint64(ow * stride + j)]


def im2col(x, kh, kw, stride, pad):
    """x: (N, C, H, W) -> cols: (N, C*KH*KW, OH*OW); see reference.im2col."""
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    cols = np.empty((N, C * kh * kw, OH * OW), dtype=x.dtype)
    # pad once, so the copy loop has no bounds tests
    _im2col(_padded(np.ascontiguousarray(x), pad), kh, kw, stride, cols)
    return cols


@njit(cache=True)
def _col2im(cols, kh, kw, stride, dxp):
    N, C = dxp.shape[0], dxp.shape[1]
    OW = _out_size(dxp.shape[3], kw, stride, 0)
    OH = cols.shape[2] // OW
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = cols[n, (c * kh + i) * kw + j]
                    for oh in range(OH):
                        dst = dxp[n, c, oh * stride + i]
                        src = row[oh * OW:(oh + 1) * OW]
                        for ow in range(OW):
                            dst[np.uint64(ow * stride + j)] += src[ow]


def col2im(cols, x_shape, kh, kw, stride, pad):
    """cols: (N, C*KH*KW, OH*OW) -> dx: x_shape, overlaps summed; see reference.col2im."""
    N, C, H, W = x_shape
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    _col2im(np.ascontiguousarray(cols), kh, kw, stride, dxp)
    return dxp[:, :, pad:pad + H, pad:pad + W]


@njit(cache=True)
def _maxpool_forward(x, size, stride, out, argmax):
    N, C, OH, OW = out.shape
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


def maxpool_forward(x, size, stride):
    """x: (N, C, H, W) -> (out, argmax); first maximum in row-major order wins."""
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, size, stride, 0), conv_output_size(W, size, stride, 0)
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = np.empty((N, C, OH, OW), dtype=np.int32)
    _maxpool_forward(x, size, stride, out, argmax)
    return out, argmax


@njit(cache=True)
def _maxpool_backward(dout, argmax, size, stride, dx):
    N, C, OH, OW = dout.shape
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    k = argmax[n, c, oh, ow]
                    dx[n, c, oh * stride + k // size, ow * stride + k % size] += dout[n, c, oh, ow]


def maxpool_backward(dout, argmax, x_shape, size, stride):
    """dout, argmax: (N, C, OH, OW) -> dx: x_shape; see reference.maxpool_backward."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _maxpool_backward(dout, argmax, size, stride, dx)
    return dx


# ------------------------------------------------------- fused conv + ReLU + max-pool
# "Wide plane" convolution: each image channel is a flat vector with row pitch Wp (the
# padded width). The stride-1 convolution of a whole image is then, per filter, a sum of
# KH*KW shifted copies of that vector, each scaled by one weight:
#     plane[p] += w[f, c, i, j] * x_flat[c, p + i*Wp + j]      p = oh*Wp + ow
# a long unit-stride loop the compiler turns into SIMD. (Columns ow >= OW are junk and
# never read.) Pooling then reads the plane at the strided positions. Loops index
# slices from 0 so the compiler can drop Numba's negative-index checks, which otherwise
# stop vectorisation (measured 5x). Parallel over images; each image owns its buffers.

def _padded(x, pad):
    """(N, C, H, W) -> (N, C, H+2P, W+2P) zero-padded copy (x itself when P == 0)."""
    if pad == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + H, pad:pad + W] = x
    return xp


@njit(cache=True, nogil=True)
def _conv_plane(xf, w, f, bias, Hp, Wp, plane):
    """plane[:L] = bias + stride-1 conv of one padded image xf (C, Hp*Wp) with filter f."""
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    L = (Hp - KH) * Wp + (Wp - KW + 1)
    for p in range(L):
        plane[p] = bias
    for c in range(C):
        xc = xf[c]
        if KH == 3 and KW == 3:
            # the common 3x3 case: all nine taps in one pass (a third of the memory traffic)
            x0, x1, x2 = xc[0:L], xc[1:1 + L], xc[2:2 + L]
            x3, x4, x5 = xc[Wp:Wp + L], xc[Wp + 1:Wp + 1 + L], xc[Wp + 2:Wp + 2 + L]
            x6, x7, x8 = xc[2 * Wp:2 * Wp + L], xc[2 * Wp + 1:2 * Wp + 1 + L], xc[2 * Wp + 2:2 * Wp + 2 + L]
            w0, w1, w2 = w[f, c, 0, 0], w[f, c, 0, 1], w[f, c, 0, 2]
            w3, w4, w5 = w[f, c, 1, 0], w[f, c, 1, 1], w[f, c, 1, 2]
            w6, w7, w8 = w[f, c, 2, 0], w[f, c, 2, 1], w[f, c, 2, 2]
            for p in range(L):
                plane[p] += (w0 * x0[p] + w1 * x1[p] + w2 * x2[p] + w3 * x3[p] + w4 * x4[p]
                             + w5 * x5[p] + w6 * x6[p] + w7 * x7[p] + w8 * x8[p])
            continue
        for i in range(KH):
            for j in range(KW):
                wt = w[f, c, i, j]
                xs = xc[i * Wp + j:i * Wp + j + L]
                for p in range(L):
                    plane[p] += wt * xs[p]


@njit(cache=True, nogil=True)
def _relu_pool_2x2(plane, Wp, PW, out_row, arg_row, ph):
    """The common 2x2/stride-2 pool of one row of windows, branch-free enough for SIMD."""
    r0 = plane[2 * ph * Wp:2 * ph * Wp + 2 * PW]
    r1 = plane[(2 * ph + 1) * Wp:(2 * ph + 1) * Wp + 2 * PW]
    for pw in range(PW):
        best, k = plane.dtype.type(0), 0     # ReLU: a window of negatives ties at 0
        v = r0[2 * pw]
        if v > best:                         # strict: the first maximum wins ties
            best, k = v, 0
        v = r0[2 * pw + 1]
        if v > best:
            best, k = v, 1
        v = r1[2 * pw]
        if v > best:
            best, k = v, 2
        v = r1[2 * pw + 1]
        if v > best:
            best, k = v, 3
        out_row[pw] = best
        arg_row[pw] = k


@njit(cache=True, parallel=True)
def _conv_relu_pool_fwd(xp, w, b, stride, size, pstride, out, argmax):
    N, C, Hp, Wp = xp.shape
    F = w.shape[0]
    PH, PW = out.shape[2], out.shape[3]
    step = pstride * stride                  # plane columns between neighbouring windows
    for n in prange(N):
        xf = xp[n].reshape(C, Hp * Wp)
        plane = np.empty(Hp * Wp, dtype=xp.dtype)
        for f in range(F):
            _conv_plane(xf, w, f, b[f], Hp, Wp, plane)
            if size == 2 and pstride == 2 and stride == 1:
                for ph in range(PH):
                    _relu_pool_2x2(plane, Wp, PW, out[n, f, ph], argmax[n, f, ph], ph)
                continue
            for ph in range(PH):             # one row of windows at a time, SIMD across pw
                best, best_k = out[n, f, ph], argmax[n, f, ph]
                for pw in range(PW):         # (explicit loops: array expressions inside a
                    best[pw] = 0             # prange become nested parallel loops, slow to
                    best_k[pw] = 0           # compile). ReLU: negatives tie at 0.
                for a in range(size):
                    for e in range(size):
                        start = (ph * pstride + a) * stride * Wp + e * stride
                        row = plane[start:start + (PW - 1) * step + 1:step]
                        k = a * size + e
                        for pw in range(PW):
                            if row[pw] > best[pw]:   # strict: the first maximum wins ties
                                best[pw] = row[pw]
                                best_k[pw] = k


@njit(cache=True, nogil=True)
def _grad_plane(dout, argmax, out, n, f, stride, size, pstride, Wp, G):
    """G = dL/d(wide conv plane) of image n, filter f: each window's gradient at its winner
    if the winner passed the ReLU (pooled value > 0), zero elsewhere. Returns sum (db)."""
    G[:] = 0
    total = G.dtype.type(0)
    PH, PW = out.shape[2], out.shape[3]
    for ph in range(PH):
        for pw in range(PW):
            if out[n, f, ph, pw] > 0:
                k = argmax[n, f, ph, pw]
                g = dout[n, f, ph, pw]
                oh, ow = ph * pstride + k // size, pw * pstride + k % size
                G[np.uint64(oh * stride * Wp + ow * stride)] += g
                total += g
    return total


@njit(cache=True, nogil=True, fastmath=True)
def _dw_3x3(G, xc, Wp, L, dw):
    """dw (3, 3) = correlation of the gradient plane G with one input channel xc: the nine
    dot products of the 3x3 case in a single pass over memory."""
    x0, x1, x2 = xc[0:L], xc[1:1 + L], xc[2:2 + L]
    x3, x4, x5 = xc[Wp:Wp + L], xc[Wp + 1:Wp + 1 + L], xc[Wp + 2:Wp + 2 + L]
    x6, x7, x8 = xc[2 * Wp:2 * Wp + L], xc[2 * Wp + 1:2 * Wp + 1 + L], xc[2 * Wp + 2:2 * Wp + 2 + L]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = G.dtype.type(0)
    for p in range(L):
        g = G[p]
        a0 += g * x0[p]
        a1 += g * x1[p]
        a2 += g * x2[p]
        a3 += g * x3[p]
        a4 += g * x4[p]
        a5 += g * x5[p]
        a6 += g * x6[p]
        a7 += g * x7[p]
        a8 += g * x8[p]
    dw[0, 0], dw[0, 1], dw[0, 2] = a0, a1, a2
    dw[1, 0], dw[1, 1], dw[1, 2] = a3, a4, a5
    dw[2, 0], dw[2, 1], dw[2, 2] = a6, a7, a8


@njit(cache=True, parallel=True, fastmath=True)
def _conv_relu_pool_dw(dout, argmax, out, xp, w, stride, size, pstride, dw_parts, db_parts):
    # fastmath lets the dot products below be summed in SIMD order (a reduction)
    N, C, Hp, Wp = xp.shape
    F, _, KH, KW = w.shape
    L = (Hp - KH) * Wp + (Wp - KW + 1)
    for n in prange(N):
        xf = xp[n].reshape(C, Hp * Wp)
        G = np.empty(Hp * Wp, dtype=xp.dtype)
        for f in range(F):
            db_parts[n, f] = _grad_plane(dout, argmax, out, n, f, stride, size, pstride, Wp, G)
            for c in range(C):
                xc = xf[c]
                if KH == 3 and KW == 3:
                    _dw_3x3(G, xc, Wp, L, dw_parts[n, f, c])
                    continue
                for i in range(KH):
                    for j in range(KW):         # dw[f,c,i,j] = sum_p G[p] * x_flat[c, p + i*Wp + j]
                        xs = xc[i * Wp + j:i * Wp + j + L]
                        acc = xp.dtype.type(0)
                        for p in range(L):
                            acc += G[p] * xs[p]
                        dw_parts[n, f, c, i, j] = acc


@njit(cache=True, parallel=True)
def _conv_relu_pool_dx(dout, argmax, out, w, stride, size, pstride, dxp):
    N, C, Hp, Wp = dxp.shape
    F, _, KH, KW = w.shape
    L = (Hp - KH) * Wp + (Wp - KW + 1)
    for n in prange(N):
        G = np.empty(Hp * Wp, dtype=dxp.dtype)
        dxf = dxp[n].reshape(C, Hp * Wp)
        for f in range(F):
            _grad_plane(dout, argmax, out, n, f, stride, size, pstride, Wp, G)
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):         # dx_flat[c, p + i*Wp + j] += w[f,c,i,j] * G[p]
                        wt = w[f, c, i, j]
                        ds = dxf[c, i * Wp + j:i * Wp + j + L]
                        for p in range(L):
                            ds[p] += wt * G[p]


def conv_relu_pool_forward(x, w, b, stride, pad, size, pstride):
    """Same as reference.conv_relu_pool_forward."""
    N = x.shape[0]
    F, C, KH, KW = w.shape
    OH, OW = conv_output_size(x.shape[2], KH, stride, pad), conv_output_size(x.shape[3], KW, stride, pad)
    PH, PW = conv_output_size(OH, size, pstride, 0), conv_output_size(OW, size, pstride, 0)
    out = np.empty((N, F, PH, PW), dtype=x.dtype)
    argmax = np.empty((N, F, PH, PW), dtype=np.int32)
    _conv_relu_pool_fwd(_padded(np.ascontiguousarray(x), pad), w, b, stride, size, pstride, out, argmax)
    return out, argmax


def conv_relu_pool_backward(dout, argmax, out, x, w, stride, pad, size, pstride, need_dx):
    """Same as reference.conv_relu_pool_backward: (dw, db, dx or None)."""
    N, C, H, W = x.shape
    xp = _padded(np.ascontiguousarray(x), pad)
    dout = np.ascontiguousarray(dout)
    dw_parts = np.empty((N,) + w.shape, dtype=w.dtype)               # per image: no races
    db_parts = np.empty((N, w.shape[0]), dtype=w.dtype)
    _conv_relu_pool_dw(dout, argmax, out, xp, w, stride, size, pstride, dw_parts, db_parts)
    dx = None
    if need_dx:  # compiled and run only for a block that is not the network's first
        dxp = np.zeros(xp.shape, dtype=w.dtype)
        _conv_relu_pool_dx(dout, argmax, out, w, stride, size, pstride, dxp)
        dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dw_parts.sum(axis=0), db_parts.sum(axis=0), dx


# ------------------------------------------------------------------- optimizer update
@njit(cache=True)
def _sgd_momentum(w, v, g, lr, momentum):
    # serial: a parallel region would cost more to start than this memory-bound loop takes
    for i in range(w.size):
        v[i] = momentum * v[i] - lr * g[i]
        w[i] += v[i]


def sgd_momentum(w, v, g, lr, momentum):
    """Same as reference.sgd_momentum, in one pass over memory instead of four."""
    _sgd_momentum(w.reshape(-1), v.reshape(-1), g.reshape(-1), w.dtype.type(lr), w.dtype.type(momentum))
