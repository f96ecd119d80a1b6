"""Numba-compiled kernels: the same functions as `reference.py`, as explicit loops.

Each public function has the name, arguments, result and tie rule of its NumPy twin in
`scratchnet.core.kernels.reference` (read that one first); tests assert they agree on random
shapes. The loops are written so the innermost one walks contiguous memory.

Compiled when first called, or before training by `compile_ahead` (compiling.py: only what
the run calls, in parallel processes), and kept on disk (`cache=True`), so only the first
process pays.
Parallel work is split into chunks of the batch and handed to a team of threads (team.py);
the kernels release the GIL.
"""
import contextlib

import numpy as np
from numba import njit

from ..shapes import conv_output_size, phase_planes
from . import blas, compiling, split, threads
from . import reference as _reference
from .reference import ARGMAX_DTYPE, FLUSH, adam_scalars, check_same_shape, make_phase_planes
from .reference import winograd_tile_grid, winograd_weights, winograd_weights_backward  # noqa: F401
from .team import Team

_team = None
_recorder = None   # a compiling.Recorder while a step is being recorded (see recording)


def team():
    """The threads the kernels run on: kernels.threads() of them (default: one per CPU;
    `--threads N` sets it through kernels.set_threads). While a step is recorded, the
    Recorder that stands in for them."""
    global _team
    if _recorder is not None:
        return _recorder
    if _team is None:
        _team = Team(threads())
    return _team


@contextlib.contextmanager
def recording():
    """Within the block, kernel calls are noted instead of made: yields the list of
    (fn, args) they fill (compiling.Recorder). NumPy work in the block runs on whatever is in
    the buffers, so the code must not depend on kernel results."""
    global _recorder
    _recorder = compiling.Recorder(team().size)
    try:
        with np.errstate(all="ignore"):
            yield _recorder.calls
    finally:
        _recorder = None


def pinned():
    """A block in which each thread of the team runs on a core of its own (Team.pinned: the
    training loop runs in one, see there why)."""
    return team().pinned()


def compile_ahead(run, on_compile=None):
    """Compile every kernel `run()` would call, before it is called: run() is recorded, then
    the kernels it called are compiled (compiling.py says how); returns the seconds spent
    waiting for the compiler."""
    with recording() as calls:
        run()
    return compiling.compile_calls(calls, team(), on_compile)


@njit(cache=True)
def _out_size(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


# Large outputs are allocated by NumPy in the Python wrappers and filled by the compiled
# loops: NumPy asks the kernel for huge pages on big arrays, so first touching a 50 MB
# array costs 4 ms instead of 20 ms inside Numba's own allocator (measured here).

def _padded(x, pad):
    """(N, C, H, W) -> (N, C, H+2P, W+2P) zero-padded copy (x itself when P == 0)."""
    if pad == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + H, pad:pad + W] = x
    return xp


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
# The algorithm of reference.conv_relu_pool_* (read it first, and shapes.phase_planes): the
# input as phase planes, every pooling window's S*S conv outputs as unit-stride sums over
# the planes, max + ReLU + argmax on the fly. The reference network's block (one input
# channel, 3x3 kernel, 2x2 pool) has a kernel of its own with everything unrolled: the four
# conv outputs of a window are four expressions of nine products each, so a SIMD vector
# computes 8 windows at once and the pooling needs no shuffles; so has the fast network's
# first block (5x5: four expressions of 25 products).
# Other shapes take the general kernels, loops over taps and window elements around the
# same unit-stride sums.
# Work is split over images. The weight gradient is summed in DW_PARTS partial sums, each over
# a fixed slice of the batch, each thread a run of them, then added in order: the result does
# not depend on the thread count.

DW_PARTS = 8


@njit(inline="always")
def _relu_max(c00, c01, c10, c11, zero):
    """A 2x2 window's max-pool and ReLU: (its largest conv output, which element a*2 + e it
    is), or (zero, -1) where the ReLU lets nothing through."""
    best = c00
    k = 0
    if c01 > best:                     # strict >: the first maximum wins ties
        best = c01
        k = 1
    if c10 > best:
        best = c10
        k = 2
    if c11 > best:
        best = c11
        k = 3
    if best > 0:                       # ReLU
        return best, k
    return zero, -1


@njit(cache=True, nogil=True, fastmath=True)
def _forward_c1_k3_s2(planes, w, b, PW, out, argmax, n0, n1):
    """The reference block: C = 1, 3x3 kernel, 2x2 pool; planes (N, 8, length) and w (F, 9)
    flattened by the wrapper. Phases A (even row, even column), B (even, odd), C (odd, even),
    D (odd, odd); suffix 1: shifted one column; Q: one row. Window element (a, e) and tap
    (i, j) read phase ((a+i)%2, (e+j)%2): e.g. c01, tap (0, 1) reads row 0, column 2 of the
    window's 4x4 patch: phase A shifted one column, A1.
    One assignment per line, no tuple unpacking, views taken one index at a time: Numba's
    compile time grows with its IR's statement count, and `a, b = x, y` or `planes[n, 0, 1,
    0, 0]` adds tuple statements. Written so, the same arithmetic compiles in about a fifth
    less time, to bitwise the same results."""
    F = w.shape[0]
    L = out.shape[2]
    zero = out.dtype.type(0)
    for n in range(n0, n1):
        P = planes[n]
        A0 = P[0]
        A1 = P[1]
        B0 = P[2]
        B1 = P[3]
        C0 = P[4]
        C1 = P[5]
        D0 = P[6]
        D1 = P[7]
        AQ = A0[PW:]
        AQ1 = A1[PW:]
        BQ = B0[PW:]
        BQ1 = B1[PW:]
        CQ = C0[PW:]
        CQ1 = C1[PW:]
        DQ = D0[PW:]
        DQ1 = D1[PW:]
        for f in range(F):
            wf = w[f]
            w0 = wf[0]
            w1 = wf[1]
            w2 = wf[2]
            w3 = wf[3]
            w4 = wf[4]
            w5 = wf[5]
            w6 = wf[6]
            w7 = wf[7]
            w8 = wf[8]
            bf = b[f]
            res = out[n, f]
            win = argmax[n, f]
            for p in range(np.uint64(L)):   # unsigned: Numba writes no negative-index code for
                # the loads (the same machine code, ~7% less compile time); sums as trees:
                # more independent additions in flight
                a0 = A0[p]
                a1 = A1[p]
                b0 = B0[p]
                b1 = B1[p]
                c0 = C0[p]
                c1 = C1[p]
                d0 = D0[p]
                d1 = D1[p]
                aq = AQ[p]
                aq1 = AQ1[p]
                bq = BQ[p]
                bq1 = BQ1[p]
                cq = CQ[p]
                cq1 = CQ1[p]
                dq = DQ[p]
                dq1 = DQ1[p]
                c00 = ((((w0 * a0 + w1 * b0) + (w2 * a1 + w3 * c0))
                        + ((w4 * d0 + w5 * c1) + (w6 * aq + w7 * bq))) + (w8 * aq1 + bf))
                c01 = ((((w0 * b0 + w1 * a1) + (w2 * b1 + w3 * d0))
                        + ((w4 * c1 + w5 * d1) + (w6 * bq + w7 * aq1))) + (w8 * bq1 + bf))
                c10 = ((((w0 * c0 + w1 * d0) + (w2 * c1 + w3 * aq))
                        + ((w4 * bq + w5 * aq1) + (w6 * cq + w7 * dq))) + (w8 * cq1 + bf))
                c11 = ((((w0 * d0 + w1 * c1) + (w2 * d1 + w3 * bq))
                        + ((w4 * aq1 + w5 * bq1) + (w6 * dq + w7 * cq1))) + (w8 * dq1 + bf))
                best, k = _relu_max(c00, c01, c10, c11, zero)
                res[p] = best
                win[p] = k


@njit(cache=True, nogil=True, fastmath=True)
def _forward_general(planes, w, b, PW, out, argmax, n0, n1):
    F, C, KH, KW = w.shape
    S = planes.shape[1]
    L = out.shape[2]
    conv = np.empty((S * S, L), dtype=out.dtype)   # one filter's conv output per window element
    zero = out.dtype.type(0)
    for n in range(n0, n1):
        for f in range(F):
            conv[:] = b[f]
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):
                        wt = w[f, c, i, j]
                        for a in range(S):
                            for e in range(S):
                                r, cc = a + i, e + j
                                src = planes[n, r % S, cc % S, cc // S, c][(r // S) * PW:]
                                acc = conv[a * S + e]
                                for p in range(L):
                                    acc[p] += wt * src[p]
            res, win = out[n, f], argmax[n, f]
            for p in range(L):
                best, k = conv[0, p], 0
                for t in range(1, S * S):
                    if conv[t, p] > best:
                        best, k = conv[t, p], t
                on = best > 0
                res[p] = best if on else zero
                win[p] = k if on else -1


@njit(cache=True, nogil=True, fastmath=True)
def _backward_c1_k3_s2(planes, dout, argmax, PW, dw_parts, db_parts, k0, k1):
    """dw, db of the reference block: partials [k0, k1), partial k summed over images
    [k*N//P, (k+1)*N//P) (as split(N, P) cuts them; P = len(dw_parts)); planes (N, 8, length)
    and dw_parts (P, F, 9) flattened by the wrapper. Tap (i, j) of window element (a, e)
    reads phase ((a+i)%2, (e+j)%2), as in the forward (written as it is, one statement per
    line, for the same reason)."""
    N = dout.shape[0]
    F = dout.shape[1]
    L = dout.shape[2]
    parts = dw_parts.shape[0]
    zero = dw_parts.dtype.type(0)                  # typed: a bare 0 would make the sums float64
    for part in range(k0, k1):
        dw = dw_parts[part]
        db = db_parts[part]
        dw[:] = 0
        db[:] = 0
        for n in range(part * N // parts, (part + 1) * N // parts):
            P = planes[n]
            A0 = P[0]
            A1 = P[1]
            B0 = P[2]
            B1 = P[3]
            C0 = P[4]
            C1 = P[5]
            D0 = P[6]
            D1 = P[7]
            AQ = A0[PW:]
            AQ1 = A1[PW:]
            BQ = B0[PW:]
            BQ1 = B1[PW:]
            CQ = C0[PW:]
            CQ1 = C1[PW:]
            DQ = D0[PW:]
            DQ1 = D1[PW:]
            for f in range(F):
                g_ = dout[n, f]
                k_ = argmax[n, f]
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = sb = zero
                for p in range(np.uint64(L)):           # (unsigned: see the forward)
                    g = g_[p]
                    k = k_[p]
                    g00 = g if k == 0 else zero        # the gradient each window element got:
                    g01 = g if k == 1 else zero        # all of it at the winner, 0 elsewhere
                    g10 = g if k == 2 else zero        # (and 0 everywhere if the ReLU was off)
                    g11 = g if k == 3 else zero
                    a0 = A0[p]
                    a1 = A1[p]
                    b0 = B0[p]
                    b1 = B1[p]
                    c0 = C0[p]
                    c1 = C1[p]
                    d0 = D0[p]
                    d1 = D1[p]
                    aq = AQ[p]
                    aq1 = AQ1[p]
                    bq = BQ[p]
                    bq1 = BQ1[p]
                    cq = CQ[p]
                    cq1 = CQ1[p]
                    dq = DQ[p]
                    dq1 = DQ1[p]
                    sb += (g00 + g01) + (g10 + g11)
                    s0 += (g00 * a0 + g01 * b0) + (g10 * c0 + g11 * d0)
                    s1 += (g00 * b0 + g01 * a1) + (g10 * d0 + g11 * c1)
                    s2 += (g00 * a1 + g01 * b1) + (g10 * c1 + g11 * d1)
                    s3 += (g00 * c0 + g01 * d0) + (g10 * aq + g11 * bq)
                    s4 += (g00 * d0 + g01 * c1) + (g10 * bq + g11 * aq1)
                    s5 += (g00 * c1 + g01 * d1) + (g10 * aq1 + g11 * bq1)
                    s6 += (g00 * aq + g01 * bq) + (g10 * cq + g11 * dq)
                    s7 += (g00 * bq + g01 * aq1) + (g10 * dq + g11 * cq1)
                    s8 += (g00 * aq1 + g01 * bq1) + (g10 * cq1 + g11 * dq1)
                dwf = dw[f]
                dwf[0] += s0
                dwf[1] += s1
                dwf[2] += s2
                dwf[3] += s3
                dwf[4] += s4
                dwf[5] += s5
                dwf[6] += s6
                dwf[7] += s7
                dwf[8] += s8
                db[f] += sb


@njit(inline="always")
def _k5_pixels(P, p, q, r):
    """Window p's 36 pixels in one image's planes P (12, length): phase X (A: even row, even
    column; B: even, odd; C: odd, even; D: odd, odd) shifted r rows and c columns, which is
    plane 3 * X + c at offset p, q = p + PW or r = p + 2 * PW for r = 0, 1 or 2, in the order
    X = A..D, r = 0..2, c = 0..2. Loads at unsigned offsets of one 2-D array, not 36 views of it:
    Numba compiles them in half the time (a view is a struct to build and reference-count),
    to the same vector code."""
    return (P[0, p], P[1, p], P[2, p], P[0, q], P[1, q], P[2, q], P[0, r], P[1, r], P[2, r],
            P[3, p], P[4, p], P[5, p], P[3, q], P[4, q], P[5, q], P[3, r], P[4, r], P[5, r],
            P[6, p], P[7, p], P[8, p], P[6, q], P[7, q], P[8, q], P[6, r], P[7, r], P[8, r],
            P[9, p], P[10, p], P[11, p], P[9, q], P[10, q], P[11, q], P[9, r], P[10, r], P[11, r])


@njit(cache=True, nogil=True, fastmath=True)
def _forward_c1_k5_s2(planes, w, b, PW, out, argmax, n0, n1):
    """The fast network's first block: C = 1, 5x5 kernel, 2x2 pool; planes (N, 12, length)
    and w (F, 25) flattened by the wrapper. As _forward_c1_k3_s2, with three row and three
    column shifts: x<r><c> is phase x (a..d as A..D in _k5_pixels) shifted r rows and c
    columns, at window p. Window element (a, e) and tap (i, j) read phase ((a+i)%2, (e+j)%2)
    shifted ((a+i)//2, (e+j)//2). One line of each sum per kernel row."""
    F = w.shape[0]
    L = out.shape[2]
    zero = out.dtype.type(0)
    Q, R = np.uint64(PW), np.uint64(2 * PW)   # (unsigned, as p: uint64 + int64 is a float in Numba)
    for n in range(n0, n1):
        P = planes[n]
        for f in range(F):
            wf = w[f]
            w0 = wf[0]
            w1 = wf[1]
            w2 = wf[2]
            w3 = wf[3]
            w4 = wf[4]
            w5 = wf[5]
            w6 = wf[6]
            w7 = wf[7]
            w8 = wf[8]
            w9 = wf[9]
            w10 = wf[10]
            w11 = wf[11]
            w12 = wf[12]
            w13 = wf[13]
            w14 = wf[14]
            w15 = wf[15]
            w16 = wf[16]
            w17 = wf[17]
            w18 = wf[18]
            w19 = wf[19]
            w20 = wf[20]
            w21 = wf[21]
            w22 = wf[22]
            w23 = wf[23]
            w24 = wf[24]
            bf = b[f]
            res = out[n, f]
            win = argmax[n, f]
            for p in range(np.uint64(L)):   # (unsigned: see _forward_c1_k3_s2)
                (a00, a01, a02, a10, a11, a12, a20, a21, a22, b00, b01, b02, b10, b11, b12, b20,
                 b21, b22, c00, c01, c02, c10, c11, c12, c20, c21, c22, d00, d01, d02, d10, d11,
                 d12, d20, d21, d22) = _k5_pixels(P, p, p + Q, p + R)
                v00 = (((w0 * a00 + w1 * b00) + (w2 * a01 + w3 * b01) + w4 * a02)
                       + ((w5 * c00 + w6 * d00) + (w7 * c01 + w8 * d01) + w9 * c02)
                       + ((w10 * a10 + w11 * b10) + (w12 * a11 + w13 * b11) + w14 * a12)
                       + ((w15 * c10 + w16 * d10) + (w17 * c11 + w18 * d11) + w19 * c12)
                       + ((w20 * a20 + w21 * b20) + (w22 * a21 + w23 * b21) + w24 * a22)
                       + bf)
                v01 = (((w0 * b00 + w1 * a01) + (w2 * b01 + w3 * a02) + w4 * b02)
                       + ((w5 * d00 + w6 * c01) + (w7 * d01 + w8 * c02) + w9 * d02)
                       + ((w10 * b10 + w11 * a11) + (w12 * b11 + w13 * a12) + w14 * b12)
                       + ((w15 * d10 + w16 * c11) + (w17 * d11 + w18 * c12) + w19 * d12)
                       + ((w20 * b20 + w21 * a21) + (w22 * b21 + w23 * a22) + w24 * b22)
                       + bf)
                v10 = (((w0 * c00 + w1 * d00) + (w2 * c01 + w3 * d01) + w4 * c02)
                       + ((w5 * a10 + w6 * b10) + (w7 * a11 + w8 * b11) + w9 * a12)
                       + ((w10 * c10 + w11 * d10) + (w12 * c11 + w13 * d11) + w14 * c12)
                       + ((w15 * a20 + w16 * b20) + (w17 * a21 + w18 * b21) + w19 * a22)
                       + ((w20 * c20 + w21 * d20) + (w22 * c21 + w23 * d21) + w24 * c22)
                       + bf)
                v11 = (((w0 * d00 + w1 * c01) + (w2 * d01 + w3 * c02) + w4 * d02)
                       + ((w5 * b10 + w6 * a11) + (w7 * b11 + w8 * a12) + w9 * b12)
                       + ((w10 * d10 + w11 * c11) + (w12 * d11 + w13 * c12) + w14 * d12)
                       + ((w15 * b20 + w16 * a21) + (w17 * b21 + w18 * a22) + w19 * b22)
                       + ((w20 * d20 + w21 * c21) + (w22 * d21 + w23 * c22) + w24 * d22)
                       + bf)
                best, k = _relu_max(v00, v01, v10, v11, zero)
                res[p] = best
                win[p] = k


@njit(cache=True, nogil=True, fastmath=True)
def _backward_c1_k5_s2(planes, dout, argmax, PW, dw_parts, db_parts, k0, k1):
    """dw, db of the 5x5 block, cut into partials as _backward_c1_k3_s2 cuts them; pixels
    named as in _forward_c1_k5_s2; s<t>: tap t = 5i + j's sum."""
    N = dout.shape[0]
    F = dout.shape[1]
    L = dout.shape[2]
    parts = dw_parts.shape[0]
    zero = dw_parts.dtype.type(0)
    Q, R = np.uint64(PW), np.uint64(2 * PW)
    for part in range(k0, k1):
        dw = dw_parts[part]
        db = db_parts[part]
        dw[:] = 0
        db[:] = 0
        for n in range(part * N // parts, (part + 1) * N // parts):
            P = planes[n]
            for f in range(F):
                g_ = dout[n, f]
                k_ = argmax[n, f]
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = s8 = s9 = s10 = s11 = s12 = zero
                s13 = s14 = s15 = s16 = s17 = s18 = s19 = s20 = s21 = s22 = s23 = s24 = sb = zero
                for p in range(np.uint64(L)):
                    g = g_[p]
                    k = k_[p]
                    g00 = g if k == 0 else zero        # as in _backward_c1_k3_s2
                    g01 = g if k == 1 else zero
                    g10 = g if k == 2 else zero
                    g11 = g if k == 3 else zero
                    (a00, a01, a02, a10, a11, a12, a20, a21, a22, b00, b01, b02, b10, b11, b12, b20,
                     b21, b22, c00, c01, c02, c10, c11, c12, c20, c21, c22, d00, d01, d02, d10, d11,
                     d12, d20, d21, d22) = _k5_pixels(P, p, p + Q, p + R)
                    sb += (g00 + g01) + (g10 + g11)
                    s0 += (g00 * a00 + g01 * b00) + (g10 * c00 + g11 * d00)
                    s1 += (g00 * b00 + g01 * a01) + (g10 * d00 + g11 * c01)
                    s2 += (g00 * a01 + g01 * b01) + (g10 * c01 + g11 * d01)
                    s3 += (g00 * b01 + g01 * a02) + (g10 * d01 + g11 * c02)
                    s4 += (g00 * a02 + g01 * b02) + (g10 * c02 + g11 * d02)
                    s5 += (g00 * c00 + g01 * d00) + (g10 * a10 + g11 * b10)
                    s6 += (g00 * d00 + g01 * c01) + (g10 * b10 + g11 * a11)
                    s7 += (g00 * c01 + g01 * d01) + (g10 * a11 + g11 * b11)
                    s8 += (g00 * d01 + g01 * c02) + (g10 * b11 + g11 * a12)
                    s9 += (g00 * c02 + g01 * d02) + (g10 * a12 + g11 * b12)
                    s10 += (g00 * a10 + g01 * b10) + (g10 * c10 + g11 * d10)
                    s11 += (g00 * b10 + g01 * a11) + (g10 * d10 + g11 * c11)
                    s12 += (g00 * a11 + g01 * b11) + (g10 * c11 + g11 * d11)
                    s13 += (g00 * b11 + g01 * a12) + (g10 * d11 + g11 * c12)
                    s14 += (g00 * a12 + g01 * b12) + (g10 * c12 + g11 * d12)
                    s15 += (g00 * c10 + g01 * d10) + (g10 * a20 + g11 * b20)
                    s16 += (g00 * d10 + g01 * c11) + (g10 * b20 + g11 * a21)
                    s17 += (g00 * c11 + g01 * d11) + (g10 * a21 + g11 * b21)
                    s18 += (g00 * d11 + g01 * c12) + (g10 * b21 + g11 * a22)
                    s19 += (g00 * c12 + g01 * d12) + (g10 * a22 + g11 * b22)
                    s20 += (g00 * a20 + g01 * b20) + (g10 * c20 + g11 * d20)
                    s21 += (g00 * b20 + g01 * a21) + (g10 * d20 + g11 * c21)
                    s22 += (g00 * a21 + g01 * b21) + (g10 * c21 + g11 * d21)
                    s23 += (g00 * b21 + g01 * a22) + (g10 * d21 + g11 * c22)
                    s24 += (g00 * a22 + g01 * b22) + (g10 * c22 + g11 * d22)
                dwf = dw[f]
                dwf[0] += s0
                dwf[1] += s1
                dwf[2] += s2
                dwf[3] += s3
                dwf[4] += s4
                dwf[5] += s5
                dwf[6] += s6
                dwf[7] += s7
                dwf[8] += s8
                dwf[9] += s9
                dwf[10] += s10
                dwf[11] += s11
                dwf[12] += s12
                dwf[13] += s13
                dwf[14] += s14
                dwf[15] += s15
                dwf[16] += s16
                dwf[17] += s17
                dwf[18] += s18
                dwf[19] += s19
                dwf[20] += s20
                dwf[21] += s21
                dwf[22] += s22
                dwf[23] += s23
                dwf[24] += s24
                db[f] += sb


@njit(cache=True, nogil=True, fastmath=True)
def _window_gradients(dout_nf, argmax_nf, G):
    """G[t] = the gradient of window element t for every window; returns their sum (db)."""
    G[:] = 0
    total = G.dtype.type(0)
    for p in range(G.shape[1]):
        k = argmax_nf[p]
        if k >= 0:
            G[k, p] = dout_nf[p]
            total += dout_nf[p]
    return total


@njit(cache=True, nogil=True, fastmath=True)
def _backward_general(planes, dout, argmax, w, PW, dw_parts, db_parts, k0, k1):
    """Partials [k0, k1) of dw, db, as _backward_c1_k3_s2 cuts them, for any block."""
    N, F, L = dout.shape
    C, KH, KW = w.shape[1:]
    S = planes.shape[1]
    parts = dw_parts.shape[0]
    G = np.empty((S * S, L), dtype=dout.dtype)
    for part in range(k0, k1):
        dw, db = dw_parts[part], db_parts[part]
        dw[:] = 0
        db[:] = 0
        for n in range(part * N // parts, (part + 1) * N // parts):
            for f in range(F):
                db[f] += _window_gradients(dout[n, f], argmax[n, f], G)
                for c in range(C):
                    for i in range(KH):
                        for j in range(KW):
                            total = dw.dtype.type(0)
                            for a in range(S):
                                for e in range(S):
                                    r, cc = a + i, e + j
                                    src = planes[n, r % S, cc % S, cc // S, c][(r // S) * PW:]
                                    g = G[a * S + e]
                                    for p in range(L):
                                        total += g[p] * src[p]
                            dw[f, c, i, j] += total


@njit(cache=True, nogil=True, fastmath=True)
def _input_gradient(dout, argmax, w, pad, PW, dplanes, dx, n0, n1):
    """dx of images [n0, n1): scatter each window's gradient through the taps into the
    planes (the forward's reads, reversed), then fold the planes onto the pixels."""
    F, C, KH, KW = w.shape
    S, CS, length = dplanes.shape[1], dplanes.shape[3], dplanes.shape[5]
    H, W = dx.shape[2], dx.shape[3]
    L, rows = dout.shape[2], length // PW
    G = np.empty((S * S, L), dtype=dout.dtype)
    for n in range(n0, n1):
        dplanes[n] = 0
        for f in range(F):
            _window_gradients(dout[n, f], argmax[n, f], G)
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):
                        wt = w[f, c, i, j]
                        for a in range(S):
                            for e in range(S):
                                r, cc = a + i, e + j
                                dst = dplanes[n, r % S, cc % S, cc // S, c][(r // S) * PW:]
                                g = G[a * S + e]
                                for p in range(L):
                                    dst[p] += wt * g[p]
        dx[n] = 0
        for rr in range(S):
            for re in range(S):
                for qe in range(CS):
                    for c in range(C):
                        src = dplanes[n, rr, re, qe, c]
                        for row in range(rows):
                            y = S * row + rr - pad
                            if 0 <= y < H:
                                for pw in range(PW):
                                    col = S * (pw + qe) + re - pad
                                    if 0 <= col < W:
                                        dx[n, c, y, col] += src[row * PW + pw]


# the blocks with kernels of their own (kernels.UNROLLED_BLOCKS): (C, KH, KW, S) -> (forward,
# weight gradient); they take the planes and the taps flat, (N, S*S*CS, length) and (F, KH*KW)
UNROLLED = {(1, 3, 3, 2): (_forward_c1_k3_s2, _backward_c1_k3_s2),
            (1, 5, 5, 2): (_forward_c1_k5_s2, _backward_c1_k5_s2)}


def conv_relu_pool_forward(x, w, b, pad, S, out=None, argmax=None, planes=None):
    """Same as reference.conv_relu_pool_forward (given buffers are filled, not reallocated)."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    g = phase_planes(H, W, KH, KW, pad, S)
    if out is None:
        out = np.empty((N, F, g.PH, g.PW), dtype=x.dtype)
        argmax = np.empty((N, F, g.PH, g.PW), dtype=ARGMAX_DTYPE)
        planes = np.empty((N, S, S, g.CS, C, g.length), dtype=x.dtype)
    unrolled = UNROLLED.get((C, KH, KW, S))
    if unrolled:
        conv, args = unrolled[0], (_flat_planes(planes), w.reshape(F, -1))
    else:
        conv, args = _forward_general, (planes, w)
    args += (b, g.PW, out.reshape(N, F, g.L), argmax.reshape(N, F, g.L))
    fill = None                                   # (None: NumPy's copy, on this thread)
    if S == 2:
        grid = _flat_planes(planes).reshape(N, S, S, g.CS, C, g.rows, g.PW)
        fill, fill_args = _phase_planes_s2, (np.ascontiguousarray(x), pad, grid)
    elif x.size >= PARALLEL_PLANES and not team().is_recording:   # (recording: kernels only)
        fill, fill_args = _numpy_phase_planes, (x, KH, KW, pad, S, planes)
    chunks = split(N, team().size)
    if fill is None:
        make_phase_planes(x, KH, KW, pad, S, planes)
        team().run(conv, args, chunks)
    elif team().is_recording:                     # (each kernel recorded on its own)
        team().run(fill, fill_args, chunks)
        team().run(conv, args, chunks)
    else:                                         # each thread fills the planes it reads
        team().run(_planes_then_forward, (fill, fill_args, conv, args), chunks)
    return out, argmax, planes


@njit(cache=True, nogil=True)
def _phase_planes_s2(x, pad, grid, n0, n1):
    """make_phase_planes for pool size S = 2, images [n0, n1), into grid: the planes viewed
    as (N, 2, 2, CS, C, rows, PW). The same copy, so an exact twin, with the stride 2 known
    to the compiler, which then moves pixels with SIMD shuffles where NumPy's strided copy
    goes one at a time: 64 MNIST images in 115 instead of 167 us on one thread (AMD EPYC),
    and each thread copies its own images."""
    H = x.shape[2]
    W = x.shape[3]
    CS = grid.shape[3]
    C = grid.shape[4]
    rows = grid.shape[5]
    PW = grid.shape[6]
    zero = grid.dtype.type(0)
    for n in range(n0, n1):
        for c in range(C):
            for rr in range(2):
                for row in range(rows):
                    y = 2 * row + rr - pad
                    src = x[n, c, min(max(y, 0), H - 1)]
                    for re in range(2):
                        for qe in range(CS):
                            dst = grid[n, rr, re, qe, c, row]
                            x0 = 2 * qe + re - pad           # the pixel column of pw = 0
                            lo = min(max((1 - x0) // 2, 0), PW)   # pw in [lo, hi): inside
                            hi = min(max((W - 1 - x0) // 2 + 1, lo), PW)
                            if y < 0 or y >= H:
                                hi = lo
                            if lo == 0 and hi == PW:         # all inside, so x0 >= 0: index
                                s = src[x0:]                 # from 0 (SIMD, see _sgd_momentum)
                                for k in range(PW):
                                    dst[k] = s[2 * k]
                            else:                            # the padding, or past the edge
                                for k in range(PW):
                                    dst[k] = src[x0 + 2 * k] if lo <= k < hi else zero


# For pool sizes other than 2 (no compiled copy), from this many input values on, each thread
# fills the phase planes of its own images with NumPy: the fused forward 15% faster for a
# batch of 1,000 MNIST images, 7% for 256; for 64 it was 30% slower (0.75 vs 0.58 ms), the
# two threads' Python calls between NumPy's copies queueing for the GIL (benchmarks/RESULTS.md's
# machine, AMD EPYC).
PARALLEL_PLANES = 1 << 17


def _flat_planes(planes):
    """(N, S, S, CS, C, length) -> (N, S*S*CS*C, length), a view of the same memory (the
    kernel reads what make_phase_planes writes into `planes`), never a copy."""
    if not planes.flags.c_contiguous:
        raise ValueError("planes must be C-contiguous")    # (as make_phase_planes says)
    return planes.reshape(planes.shape[0], -1, planes.shape[-1])


def _numpy_phase_planes(x, KH, KW, pad, S, planes, n0, n1):
    make_phase_planes(x[n0:n1], KH, KW, pad, S, planes[n0:n1])


def _planes_then_forward(fill, fill_args, conv, args, n0, n1):
    """Images [n0, n1): their phase planes by fill(*fill_args, n0, n1), then the fused forward
    kernel conv(*args, n0, n1). (Both copies let go of the GIL, so the threads fill their
    planes at the same time.)"""
    fill(*fill_args, n0, n1)
    conv(*args, n0, n1)


def conv_relu_pool_backward(dout, argmax, planes, w, x_shape, pad, S, need_dx, dw=None, db=None):
    """Same as reference.conv_relu_pool_backward: (dw, db, dx or None)."""
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    g = phase_planes(H, W, KH, KW, pad, S)
    if not dout.shape == argmax.shape == (N, F, g.PH, g.PW) or planes.shape != (N, S, S, g.CS, C, g.length):
        raise ValueError(f"dout {dout.shape}, argmax {argmax.shape} and planes {planes.shape} are not "
                         f"those of a forward pass on {tuple(x_shape)} with weights {w.shape}")
    PW = g.PW             # (the kernels trust these shapes: a smaller array would be read past its end)
    dout = np.ascontiguousarray(dout).reshape(N, F, -1)        # (N, F, L): windows in order
    argmax = argmax.reshape(N, F, -1)
    parts = min(DW_PARTS, N)            # part k: images [k*N//parts, (k+1)*N//parts)
    dw_parts = np.empty((parts,) + w.shape, dtype=w.dtype)
    db_parts = np.empty((parts, F), dtype=w.dtype)
    # Each thread gets a run of whole parts and makes one call: between calls each thread
    # needs the GIL, and on a VM waiting for it can mean waiting for the host to wake a
    # virtual CPU (one call instead of four: 0.06-0.13 ms less per training step, AMD EPYC).
    chunks = split(parts, team().size)
    unrolled = UNROLLED.get((C, KH, KW, S))
    if unrolled:
        team().run(unrolled[1], (_flat_planes(planes), dout, argmax, PW, dw_parts.reshape(parts, F, -1),
                                 db_parts), chunks)
    else:
        team().run(_backward_general, (planes, dout, argmax, w, PW, dw_parts, db_parts), chunks)
    dw = np.zeros(w.shape, dtype=w.dtype) if dw is None else dw
    db = np.zeros(F, dtype=w.dtype) if db is None else db
    np.sum(dw_parts, axis=0, out=dw)        # partials added in a fixed order: reproducible
    np.sum(db_parts, axis=0, out=db)
    dx = None
    if need_dx:  # only a block that is not the network's first layer needs it
        dx = np.empty(x_shape, dtype=w.dtype)
        team().run(_input_gradient, (dout, argmax, w, pad, PW, np.empty_like(planes), dx),
                   split(N, team().size))
    return dw, db, dx


# -------------------------------------------- conv as one GEMM, then ReLU + max-pool
# The kernels around the GEMM of reference.im2row's block (read it first), channels last;
# the GEMM itself is NumPy's (BLAS). Work is split over images.

@njit(cache=True, nogil=True)
def _im2row(x, KH, KW, rows, n0, n1):
    """x: the padded images (N, Hp, Wp*C), channels last, each pixel row flat."""
    OH, OW, K = rows.shape[1], rows.shape[2], rows.shape[3]
    run = K // KH                              # a patch row: KW pixels of C channels
    C = run // KW
    for n in range(n0, n1):
        for oh in range(OH):
            for ow in range(OW):
                row = rows[n, oh, ow]
                for i in range(KH):
                    src = x[n, oh + i, ow * C:]
                    dst = row[i * run:]
                    for k in range(run):
                        dst[k] = src[k]


def _flat_rows(images):
    """(N, H, W, C) -> (N, H, W*C): each pixel row one run of memory (a view)."""
    N, H, W, C = images.shape
    return images.reshape(N, H, W * C)


def im2row(x, KH, KW, pad, rows=None):
    """Same as reference.im2row (a copy: bitwise the same)."""
    N, H, W, C = x.shape
    OH, OW = conv_output_size(H, KH, 1, pad), conv_output_size(W, KW, 1, pad)
    if rows is None:
        rows = np.empty((N, OH, OW, KH * KW * C), dtype=x.dtype)
    if rows.shape != (N, OH, OW, KH * KW * C) or not rows.flags.c_contiguous:
        raise ValueError(f"rows {rows.shape} is not a C-contiguous {(N, OH, OW, KH * KW * C)}")
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else np.ascontiguousarray(x)
    team().run(_im2row, (_flat_rows(xp), KH, KW, rows), split(N, team().size))
    return rows


@njit(cache=True, nogil=True)
def _row2im(drows, KH, KW, dx, n0, n1):
    """dx: the padded gradient (N, Hp, Wp*C), channels last, each pixel row flat."""
    OH, OW, K = drows.shape[1], drows.shape[2], drows.shape[3]
    run = K // KH
    C = run // KW
    for n in range(n0, n1):
        dx[n] = 0
        for oh in range(OH):
            for ow in range(OW):
                row = drows[n, oh, ow]
                for i in range(KH):
                    dst = dx[n, oh + i, ow * C:]
                    src = row[i * run:]
                    for k in range(run):
                        dst[k] += src[k]


def row2im(drows, x_shape, KH, KW, pad):
    """Same as reference.row2im."""
    N, H, W, C = x_shape
    dxp = np.empty((N, H + 2 * pad, W + 2 * pad, C), dtype=drows.dtype)
    team().run(_row2im, (np.ascontiguousarray(drows), KH, KW, _flat_rows(dxp)), split(N, team().size))
    return dxp[:, pad:pad + H, pad:pad + W]


@njit(cache=True, nogil=True)
def _tap_planes(xp, KH, KW, out, n0, n1):
    """xp: the padded images (N, Hp, Wp); out (KH*KW, N, OH, OW)."""
    OH, OW = out.shape[2], out.shape[3]
    for t in range(KH * KW):
        i, j = t // KW, t % KW
        for n in range(n0, n1):
            for oh in range(OH):
                src = xp[n, oh + i, j:]
                dst = out[t, n, oh]
                for ow in range(OW):
                    dst[ow] = src[ow]


def tap_planes(x, KH, KW, pad, out=None):
    """Same as reference.tap_planes (a copy: bitwise the same)."""
    N, H, W = x.shape
    OH, OW = conv_output_size(H, KH, 1, pad), conv_output_size(W, KW, 1, pad)
    if out is None:
        out = np.empty((KH * KW, N, OH, OW), dtype=x.dtype)
    if out.shape != (KH * KW, N, OH, OW) or not out.flags.c_contiguous:
        raise ValueError(f"out {out.shape} is not a C-contiguous {(KH * KW, N, OH, OW)}")
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad))) if pad else np.ascontiguousarray(x)
    team().run(_tap_planes, (xp, KH, KW, out), split(N, team().size))
    return out


@njit(cache=True, nogil=True)
def _taps2im(dplanes, KH, KW, dxp, n0, n1):
    """dxp: the padded gradient (N, Hp, Wp), summed tap by tap as reference.taps2im."""
    OH, OW = dplanes.shape[2], dplanes.shape[3]
    for n in range(n0, n1):
        dxp[n] = 0
        for t in range(KH * KW):
            i, j = t // KW, t % KW
            for oh in range(OH):
                src = dplanes[t, n, oh]
                dst = dxp[n, oh + i, j:]
                for ow in range(OW):
                    dst[ow] += src[ow]


def taps2im(dplanes, x_shape, KH, KW, pad):
    """Same as reference.taps2im."""
    N, H, W = x_shape
    dxp = np.empty((N, H + 2 * pad, W + 2 * pad), dtype=dplanes.dtype)
    team().run(_taps2im, (np.ascontiguousarray(dplanes), KH, KW, dxp), split(N, team().size))
    return dxp[:, pad:pad + H, pad:pad + W]


@njit(cache=True, nogil=True)
def _bias_relu_pool(conv, b, S, out, argmax, n0, n1):
    F = conv.shape[3]
    PH, PW = out.shape[1], out.shape[2]
    zero = conv.dtype.type(0)
    for n in range(n0, n1):
        for ph in range(PH):
            for pw in range(PW):
                best, win = out[n, ph, pw], argmax[n, ph, pw]
                first = conv[n, ph * S, pw * S]
                for f in range(F):              # channels last: one SIMD lane per channel
                    best[f] = first[f] + b[f]
                    win[f] = 0
                for t in range(1, S * S):
                    v = conv[n, ph * S + t // S, pw * S + t % S]
                    for f in range(F):
                        x = v[f] + b[f]
                        on = x > best[f]        # strict: a tie keeps the earlier element
                        win[f] = t if on else win[f]
                        best[f] = x if on else best[f]
                for f in range(F):
                    on = best[f] > zero
                    win[f] = win[f] if on else -1
                    best[f] = best[f] if on else zero


def bias_relu_pool(conv, b, S, out=None, argmax=None):
    """Same as reference.bias_relu_pool (bitwise: one addition, then comparisons)."""
    N, OH, OW, F = conv.shape
    shape = (N, OH // S, OW // S, F)
    if out is None:
        out, argmax = np.empty(shape, dtype=conv.dtype), np.empty(shape, dtype=ARGMAX_DTYPE)
    if not out.shape == argmax.shape == shape or not (out.flags.c_contiguous and argmax.flags.c_contiguous):
        raise ValueError(f"out {out.shape} and argmax {argmax.shape} are not C-contiguous {shape}")
    team().run(_bias_relu_pool, (np.ascontiguousarray(conv), b, S, out, argmax), split(N, team().size))
    return out, argmax


@njit(cache=True, nogil=True)
def _relu_pool_backward(dout, argmax, S, dconv, db_rows, n0, n1):
    PH, PW, F = dout.shape[1], dout.shape[2], dout.shape[3]
    zero = dout.dtype.type(0)
    for n in range(n0, n1):
        db = db_rows[n]
        db[:] = 0
        for ph in range(PH):
            for pw in range(PW):
                g, win = dout[n, ph, pw], argmax[n, ph, pw]
                for f in range(F):
                    db[f] += g[f] if win[f] >= 0 else zero
                for t in range(S * S):          # every conv output written once: 0 or its gradient
                    dst = dconv[n, ph * S + t // S, pw * S + t % S]
                    for f in range(F):
                        dst[f] = g[f] if win[f] == t else zero
        dconv[n, PH * S:] = 0                   # rows and columns no window covers
        dconv[n, :, PW * S:] = 0


def relu_pool_backward(dout, argmax, S, dconv, db):
    """Same as reference.relu_pool_backward. db is summed per image, then over the batch in
    order: the same result whatever the thread count."""
    N, PH, PW, F = dout.shape
    if dout.shape != argmax.shape or dconv.shape[0] != N or dconv.shape[3] != F \
            or dconv.shape[1] // S != PH or dconv.shape[2] // S != PW or not dconv.flags.c_contiguous:
        raise ValueError(f"dout {dout.shape}, argmax {argmax.shape} and dconv {dconv.shape} do not match")
    _run_summing_bias(_relu_pool_backward, (np.ascontiguousarray(dout), argmax, S, dconv), db, N)
    return dconv, db


def _run_summing_bias(kernel, args, db, N):
    """kernel(*args, db_rows, n0, n1) over the team, each image's bias gradient a row of
    db_rows (N, F); db their sum in image order: the same whatever the thread count."""
    db_rows = np.empty((N, db.shape[0]), dtype=db.dtype)
    team().run(kernel, (*args, db_rows), split(N, team().size))
    np.sum(db_rows, axis=0, out=db)


# ------------------------------------------------------------------- Winograd F(2x2, 3x3)
# reference.py's Winograd section, a tile at a time (read it first). B^T, B and A^T are
# applied as the sums they are, along one axis of the tile and then the other, in reference's
# order; the weights' transforms are reference's (small matrix products). Work is split over
# images. Bitwise twins of reference's (tested).

@njit(inline="always")
def _bt(d0, d1, d2, d3):
    """B^T (WINOGRAD_BT) applied to four values along one axis of a tile."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(inline="always")
def _b(v0, v1, v2, v3):
    """B, the adjoint of _bt."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@njit(inline="always")
def _at(m0, m1, m2, m3):
    """A^T (WINOGRAD_AT): four values to two outputs."""
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True, nogil=True)
def _winograd_tiles(xp, V, PH, PW, C, n0, n1):
    """xp: the padded images (N, Hp, Wp*C), channels last, each pixel row flat. The tile at
    (ph, pw) reads pixel (i, j), channel c at xp[n, 2 ph + i, (2 pw + j) C + c] and writes
    entry (i, j) of B^T d B at V[4i + j, (its index) C + c]. (Loads and stores at unsigned
    offsets, as in _k5_pixels.)"""
    U = np.uint64(C)
    for n in range(n0, n1):
        for ph in range(PH):
            y = 2 * ph
            for pw in range(PW):
                o = np.uint64(((n * PH + ph) * PW + pw) * C)
                x0 = np.uint64(2 * pw * C)
                for c in range(U):                                   # B^T d: down each column,
                    t, x = o + c, x0 + c
                    a0, b0, e0, h0 = _bt(xp[n, y, x], xp[n, y + 1, x], xp[n, y + 2, x], xp[n, y + 3, x])
                    x += U
                    a1, b1, e1, h1 = _bt(xp[n, y, x], xp[n, y + 1, x], xp[n, y + 2, x], xp[n, y + 3, x])
                    x += U
                    a2, b2, e2, h2 = _bt(xp[n, y, x], xp[n, y + 1, x], xp[n, y + 2, x], xp[n, y + 3, x])
                    x += U
                    a3, b3, e3, h3 = _bt(xp[n, y, x], xp[n, y + 1, x], xp[n, y + 2, x], xp[n, y + 3, x])
                    V[0, t], V[1, t], V[2, t], V[3, t] = _bt(a0, a1, a2, a3)      # then (.) B
                    V[4, t], V[5, t], V[6, t], V[7, t] = _bt(b0, b1, b2, b3)      # along each row
                    V[8, t], V[9, t], V[10, t], V[11, t] = _bt(e0, e1, e2, e3)
                    V[12, t], V[13, t], V[14, t], V[15, t] = _bt(h0, h1, h2, h3)


def winograd_tiles(x, pad, planes=None):
    """Same as reference.winograd_tiles (bitwise: the same sums in the same order)."""
    N, H, W, C = x.shape
    PH, PW = winograd_tile_grid(H, W, pad)
    if planes is None:
        planes = np.empty((16, N * PH * PW * C), dtype=x.dtype)
    _check_planes(planes, N * PH * PW * C)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else np.ascontiguousarray(x)
    team().run(_winograd_tiles, (_flat_rows(xp), planes, PH, PW, C), split(N, team().size))
    return planes


def _check_planes(planes, size):
    if planes.ndim != 2 or planes.shape[0] != 16 or planes.shape[1] < size or not planes.flags.c_contiguous:
        raise ValueError(f"planes {planes.shape} is not a C-contiguous (16, >= {size})")


@njit(cache=True, nogil=True)
def _winograd_relu_pool(M, b, out, argmax, n0, n1):
    PH, PW, F = out.shape[1], out.shape[2], out.shape[3]
    zero = M.dtype.type(0)
    for n in range(n0, n1):
        for ph in range(PH):
            for pw in range(PW):
                o = np.uint64(((n * PH + ph) * PW + pw) * F)
                for f in range(np.uint64(F)):                         # A^T M down each column,
                    t = o + f
                    u0, v0 = _at(M[0, t], M[4, t], M[8, t], M[12, t])
                    u1, v1 = _at(M[1, t], M[5, t], M[9, t], M[13, t])
                    u2, v2 = _at(M[2, t], M[6, t], M[10, t], M[14, t])
                    u3, v3 = _at(M[3, t], M[7, t], M[11, t], M[15, t])
                    y00, y01 = _at(u0, u1, u2, u3)                    # then (.) A along each row
                    y10, y11 = _at(v0, v1, v2, v3)
                    top, k = y00 + b[f], 0                           # window element k = 2i + j;
                    y = y01 + b[f]                                   # strict: a tie keeps the
                    k = 1 if y > top else k                          # earlier element
                    top = y if y > top else top
                    y = y10 + b[f]
                    k = 2 if y > top else k
                    top = y if y > top else top
                    y = y11 + b[f]
                    k = 3 if y > top else k
                    top = y if y > top else top
                    on = top > zero
                    argmax[n, ph, pw, f] = k if on else -1
                    out[n, ph, pw, f] = top if on else zero


def winograd_relu_pool(M, b, out, argmax):
    """Same as reference.winograd_relu_pool (bitwise)."""
    N, PH, PW, F = out.shape
    _check_planes(M, N * PH * PW * F)
    if argmax.shape != out.shape or not (out.flags.c_contiguous and argmax.flags.c_contiguous):
        raise ValueError(f"out {out.shape} and argmax {argmax.shape} are not C-contiguous and alike")
    team().run(_winograd_relu_pool, (M, b, out, argmax), split(N, team().size))
    return out, argmax


@njit(cache=True, nogil=True)
def _winograd_relu_pool_backward(dout, argmax, dM, db_rows, n0, n1):
    PH, PW, F = dout.shape[1], dout.shape[2], dout.shape[3]
    zero, one = dout.dtype.type(0), dout.dtype.type(1)
    for n in range(n0, n1):
        db = db_rows[n]
        db[:] = 0
        for ph in range(PH):
            for pw in range(PW):
                o = np.uint64(((n * PH + ph) * PW + pw) * F)
                for f in range(np.uint64(F)):
                    t = o + f
                    w = argmax[n, ph, pw, f]
                    g = dout[n, ph, pw, f] if w >= 0 else zero
                    db[f] += g
                    # dY is g at the winner (row w // 2, column w % 2), 0 elsewhere, so
                    # dM = A dY A^T = g a a'^T, a and a' A's columns (1, 1, 1, 0) or (0, 1, -1, -1)
                    top, left = (w & 2) == 0, (w & 1) == 0
                    a0, a2, a3 = (g if top else zero), (g if top else -g), (zero if top else -g)
                    e0, e2, e3 = (one if left else zero), (one if left else -one), (zero if left else -one)
                    dM[0, t], dM[1, t], dM[2, t], dM[3, t] = a0 * e0, a0, a0 * e2, a0 * e3
                    dM[4, t], dM[5, t], dM[6, t], dM[7, t] = g * e0, g, g * e2, g * e3
                    dM[8, t], dM[9, t], dM[10, t], dM[11, t] = a2 * e0, a2, a2 * e2, a2 * e3
                    dM[12, t], dM[13, t], dM[14, t], dM[15, t] = a3 * e0, a3, a3 * e2, a3 * e3


def winograd_relu_pool_backward(dout, argmax, dM, db):
    """Same as reference.winograd_relu_pool_backward (bitwise). db is summed per image, then
    over the batch in order: the same whatever the thread count."""
    N, PH, PW, F = dout.shape
    _check_planes(dM, N * PH * PW * F)
    if argmax.shape != dout.shape:
        raise ValueError(f"dout {dout.shape} and argmax {argmax.shape} do not match")
    _run_summing_bias(_winograd_relu_pool_backward, (np.ascontiguousarray(dout), argmax, dM), db, N)
    return dM, db


@njit(inline="always")
def _add_to_row(dxp, n, y, x, U, values):
    """Four values added to pixels x, x + U, x + 2U, x + 3U of row y of image n."""
    dxp[n, y, x] += values[0]
    dxp[n, y, x + U] += values[1]
    dxp[n, y, x + U + U] += values[2]
    dxp[n, y, x + U + U + U] += values[3]


@njit(cache=True, nogil=True)
def _winograd_untiles(dV, dxp, PH, PW, C, n0, n1):
    """dxp: the padded gradient (N, Hp, Wp*C), channels last, each pixel row flat; offsets as
    in _winograd_tiles."""
    U = np.uint64(C)
    for n in range(n0, n1):
        dxp[n] = 0
        for ph in range(PH):
            y = 2 * ph
            for pw in range(PW):
                o = np.uint64(((n * PH + ph) * PW + pw) * C)
                x0 = np.uint64(2 * pw * C)
                for c in range(U):                                   # B dV down each column,
                    t, x = o + c, x0 + c
                    q00, q10, q20, q30 = _b(dV[0, t], dV[4, t], dV[8, t], dV[12, t])
                    q01, q11, q21, q31 = _b(dV[1, t], dV[5, t], dV[9, t], dV[13, t])
                    q02, q12, q22, q32 = _b(dV[2, t], dV[6, t], dV[10, t], dV[14, t])
                    q03, q13, q23, q33 = _b(dV[3, t], dV[7, t], dV[11, t], dV[15, t])
                    _add_to_row(dxp, n, y, x, U, _b(q00, q01, q02, q03))      # then along each
                    _add_to_row(dxp, n, y + 1, x, U, _b(q10, q11, q12, q13))  # row, added to the
                    _add_to_row(dxp, n, y + 2, x, U, _b(q20, q21, q22, q23))  # pixels
                    _add_to_row(dxp, n, y + 3, x, U, _b(q30, q31, q32, q33))


def winograd_untiles(dV, x_shape, pad, dx=None):
    """Same as reference.winograd_untiles (bitwise: each pixel's sum in the same order)."""
    N, H, W, C = x_shape
    PH, PW = winograd_tile_grid(H, W, pad)
    _check_planes(dV, N * PH * PW * C)
    if dx is not None and (dx.shape != tuple(x_shape) or not dx.flags.c_contiguous):
        raise ValueError(f"dx {dx.shape} is not a C-contiguous {tuple(x_shape)}")
    direct = dx is not None and pad == 0          # no padding to cut off: summed in place
    dxp = dx if direct else np.empty((N, H + 2 * pad, W + 2 * pad, C), dtype=dV.dtype)
    team().run(_winograd_untiles, (dV, _flat_rows(dxp), PH, PW, C), split(N, team().size))
    if direct:
        return dx
    if dx is None:
        return dxp[:, pad:pad + H, pad:pad + W]
    dx[...] = dxp[:, pad:pad + H, pad:pad + W]
    return dx


# ----------------------------------------------------------------------- dense layer
# A big dense layer's weights are shared out over the team by rows (input features), each
# thread running BLAS on one thread for its rows: its part of the forward's sum, its rows of
# dw, its columns of dx, and (sgd_momentum, same split) its rows' update. So each core keeps
# touching the same part of the weights, and no BLAS thread spins beside the team's.
SPLIT_WEIGHTS = 1 << 19   # the products alone, batch 64: 0.92x whole at 540,800 weights, 1.02-1.08x at 262,144


def _row_pieces(w):
    """Rows of w per thread [(lo, hi), ...], or None where the layer runs whole on this
    thread (a team of one, a small layer, a data-parallel slice, a step being recorded)."""
    tm = team()
    if tm.size == 1 or tm.is_recording or tm.busy() or w.size < SPLIT_WEIGHTS:
        return None
    return split(w.shape[0], tm.size)


def _forward_rows(x, w, partial, k, lo, hi):
    np.matmul(x[:, lo:hi], w[lo:hi], out=partial[k])


def _backward_rows(x, w, dout, dw, dx, lo, hi):
    np.matmul(x[:, lo:hi].T, dout, out=dw[lo:hi])
    if dx is not None:
        np.matmul(dout, w[lo:hi].T, out=dx[:, lo:hi])


def dense_forward(x, w, b, out, scratch=None):
    """reference.dense_forward; for a big layer, out = the threads' partial products (their
    rows of w) summed in thread order, plus b: the same up to float32 rounding."""
    pieces = _row_pieces(w) if scratch is not None else None
    if pieces is None:
        return _reference.dense_forward(x, w, b, out)
    partial = scratch("partial", (len(pieces), *out.shape), out.dtype)
    with blas.single_threaded():
        team().run(_forward_rows, (x, w, partial), [(k, lo, hi) for k, (lo, hi) in enumerate(pieces)])
    np.sum(partial, axis=0, out=out)
    out += b
    return out


def dense_backward(x, w, dout, dw, db, dx=None):
    """reference.dense_backward; for a big layer, each thread its rows of dw and columns of dx
    (the same up to float32 rounding)."""
    pieces = _row_pieces(w)
    if pieces is None:
        return _reference.dense_backward(x, w, dout, dw, db, dx)
    with blas.single_threaded():
        team().run(_backward_rows, (x, w, dout, dw, dx), pieces)
    np.sum(dout, axis=0, out=db)
    return dx


# ------------------------------------------------------------------- optimizer update
# No fastmath: it would let LLVM fuse the multiply-adds, and then the NumPy reference could
# not be its exact twin (tested bitwise: either back end trains to the same weights). The loop
# is bound by memory, and as fast without.
@njit(cache=True, nogil=True)
def _sgd_momentum(w, v, g, lr, momentum, weight_decay, lo, hi):
    flush, zero = w.dtype.type(FLUSH), w.dtype.type(0)   # typed: a bare 0 would be float64
    w, v, g = w[lo:hi], v[lo:hi], g[lo:hi]   # index from 0: no negative-index checks, so SIMD
    for i in range(hi - lo):              # in reference.sgd_momentum's order of operations
        vi = momentum * v[i] - lr * (g[i] + weight_decay * w[i])
        vi = vi if abs(vi) >= flush else zero   # no denormals: see reference.FLUSH
        v[i] = vi
        w[i] += vi


def sgd_momentum(w, v, g, lr, momentum, weight_decay=0.0):
    """Same as reference.sgd_momentum (bitwise), in one pass over memory instead of four. A
    big dense layer's weights are updated by the threads that computed their gradient, each
    its rows (as dense_backward splits them: in that core's cache); anything else on one
    thread, as the update is bound by memory and a second thread made it slower (measured)."""
    check_same_shape(w, v, g)
    pieces = _row_pieces(w) if w.ndim == 2 else None
    row = w.shape[1] if pieces else 0
    chunks = [(lo * row, hi * row) for lo, hi in pieces] if pieces else [(0, w.size)]
    w, v, g = w.reshape(-1), v.reshape(-1), g.reshape(-1)
    f = w.dtype.type
    team().run(_sgd_momentum, (w, v, g, f(lr), f(momentum), f(weight_decay)), chunks)


# error_model="numpy": a division by zero gives inf, as in NumPy, instead of a test that
# raises ZeroDivisionError, which kept the loop from being vectorised.
@njit(cache=True, nogil=True, error_model="numpy")
def _adam(w, m, v, g, beta1, c1, beta2, c2, eps, step_size, root, lo, hi):
    flush, zero = w.dtype.type(FLUSH), w.dtype.type(0)
    w, m, v, g = w[lo:hi], m[lo:hi], v[lo:hi], g[lo:hi]
    for i in range(hi - lo):              # in reference.adam's order of operations
        mi = m[i] * beta1
        mi += c1 * g[i]
        mi = mi if abs(mi) >= flush else zero
        vi = v[i] * beta2
        vi += c2 * (g[i] * g[i])
        vi = vi if vi >= flush else zero
        m[i] = mi
        v[i] = vi
        w[i] -= step_size * mi / (np.sqrt(vi) / root + eps)


def adam(w, m, v, g, lr, beta1, beta2, eps, step):
    """Same as reference.adam (bitwise), in one pass over memory, on one thread (bound by
    memory, like sgd_momentum)."""
    check_same_shape(w, m, g)
    check_same_shape(w, v, g)
    f = w.dtype.type
    step_size, root = adam_scalars(f, lr, beta1, beta2, step)
    w, m, v, g = w.reshape(-1), m.reshape(-1), v.reshape(-1), g.reshape(-1)
    team().run(_adam, (w, m, v, g, f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(eps),
                       step_size, root), [(0, w.size)])


@njit(cache=True, nogil=True)
def _adam_sum(ws, ms, vs, gs, parts, beta1, c1, beta2, c2, eps, step_size, root, k, n):
    """Piece k of n of every parameter: its gradient summed from the parts, then updated
    while that piece is still in cache."""
    for i in range(len(ws)):
        size = ws[i].size
        lo, hi = k * size // n, (k + 1) * size // n
        g, first = gs[i][lo:hi], parts[0][i][lo:hi]
        for j in range(hi - lo):
            g[j] = first[j]
        for r in range(1, len(parts)):
            part = parts[r][i][lo:hi]
            for j in range(hi - lo):
                g[j] += part[j]
        _adam(ws[i], ms[i], vs[i], gs[i], beta1, c1, beta2, c2, eps, step_size, root, lo, hi)


def adam_sum(ws, ms, vs, gs, parts, lr, beta1, beta2, eps, step):
    """Same as reference.adam_sum (bitwise), every parameter cut into one piece per thread:
    an element's sum and update do not depend on where the cuts fall."""
    for arrays in zip(ws, ms, vs, gs, *parts):
        for other in arrays[1:]:
            check_same_shape(arrays[0], other, other)
    f = ws[0].dtype.type
    step_size, root = adam_scalars(f, lr, beta1, beta2, step)
    n = team().size
    team().run(_adam_sum, (_flat(ws), _flat(ms), _flat(vs), _flat(gs), tuple(_flat(p) for p in parts),
                           f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(eps), step_size, root),
               [(k, n) for k in range(n)])


def _flat(arrays):
    """A tuple of the arrays as 1-D views (each must be C-contiguous)."""
    return tuple(a.reshape(-1) for a in arrays)
