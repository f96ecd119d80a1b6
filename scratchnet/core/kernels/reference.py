"""Plain NumPy reference kernels: the version to read and learn from.

Every function here has a Numba twin of the same name and signature in
`scratchnet.core.kernels.jit`; the tests assert that both agree. Nothing here is
clever: slicing and reshapes only, so each kernel can be checked by eye.

Dimension letters used throughout:
    N  batch size          C  input channels      H, W   input height, width
    F  output channels     KH, KW kernel size     S      stride    P  padding
    w  weights (F, C, KH, KW), b biases (F,) (lower case: W is the width)
    OH, OW output height, width = (H + 2P - KH) // S + 1, (W + 2P - KW) // S + 1
    L  = OH * OW           K  = C * KH * KW   (one column of the im2col matrix)
In the fused conv + ReLU + max-pool block the convolution has stride 1, S is the pool's size
(and stride), PH, PW its output size and L = PH * PW (see shapes.phase_planes).
"""
import contextlib

import numpy as np

from ..shapes import conv_output_size, phase_planes


# --------------------------------------------------------------------------- im2col
def im2col(x, kh, kw, stride, pad):
    """Unfold every KH x KW patch of x into a column.

    x: (N, C, H, W)  ->  cols: (N, K, L) with K = C*KH*KW, row index (c*KH + i)*KW + j,
    and cols[n, :, oh*OW + ow] the patch whose top-left corner is (oh*S - P, ow*S - P).
    A convolution is then one matrix product: out[n] = W.reshape(F, K) @ cols[n].
    """
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, C, kh, kw, OH, OW), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # kernel tap (i, j) sees the input pixels (oh*S + i, ow*S + j) of the padded image
            cols[:, :, i, j] = xp[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride]
    return cols.reshape(N, C * kh * kw, OH * OW)


def col2im(cols, x_shape, kh, kw, stride, pad):
    """Adjoint of im2col: fold columns back into an image, summing overlapping patches.

    cols: (N, K, L), x_shape = (N, C, H, W)  ->  dx: (N, C, H, W)
    Overlaps must add (not overwrite): a pixel used by several patches gets the gradient
    of every use.
    """
    N, C, H, W = x_shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    cols = cols.reshape(N, C, kh, kw, OH, OW)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride] += cols[:, :, i, j]
    return dxp[:, :, pad:pad + H, pad:pad + W]


# ------------------------------------------------------------------------- max-pool
def _pool_windows(x, size, stride):
    """(N, C, H, W) -> (N, C, OH, OW, size*size): the values of every pooling window."""
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, size, stride, 0), conv_output_size(W, size, stride, 0)
    win = np.empty((N, C, OH, OW, size * size), dtype=x.dtype)
    for i in range(size):
        for j in range(size):
            win[..., i * size + j] = x[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride]
    return win


def maxpool_forward(x, size, stride):
    """Max over each window; remember which element won.

    x: (N, C, H, W) -> out: (N, C, OH, OW), argmax: (N, C, OH, OW) int32 holding i*size + j,
    the row-major position of the winner inside its window. Odd sizes floor (Keras 'valid').
    Tie rule: the FIRST maximum in row-major order wins (np.argmax's rule) and alone gets
    the gradient.
    """
    win = _pool_windows(x, size, stride)
    argmax = np.argmax(win, axis=-1).astype(np.int32)
    out = np.take_along_axis(win, argmax[..., None], axis=-1)[..., 0]
    return out, argmax


def maxpool_backward(dout, argmax, x_shape, size, stride):
    """Route each window's gradient to its winner; everything else gets 0.

    dout, argmax: (N, C, OH, OW) -> dx: (N, C, H, W). Overlapping windows (stride < size) add.
    """
    N, C, OH, OW = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(size):
        for j in range(size):
            won = argmax == i * size + j
            dx[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride] += dout * won
    return dx


# ------------------------------------------------------- fused conv + ReLU + max-pool
# Conv2D (stride 1) -> ReLU -> MaxPool2D (size S, stride S) in one pass, the algorithm the
# trainer runs (the Numba twin in jit.py does exactly this, with loops). The input is first
# rearranged into "phase planes" (shapes.phase_planes explains them): then the convolution
# output at window element (a, e) of EVERY pooling window is a sum of KH*KW*C unit-stride
# slices, one per kernel tap, and the pooling is an elementwise maximum over the S*S sums.

def make_phase_planes(x, KH, KW, pad, S, planes=None):
    """x (N, C, H, W) -> planes (N, S, S, CS, C, length), see shapes.phase_planes:

        planes[n, rr, re, qe, c, row * PW + pw] = xpad[n, c, S*row + rr, S*(pw + qe) + re]

    (0 where that pixel is outside the padded image). Written into `planes` if given. A
    copy, so exact: the jit back end's compiled copy for S = 2 (jit._phase_planes_s2) is its
    bitwise twin, and the jit back end uses this one for other pool sizes.
    """
    N, C, H, W = x.shape
    g = phase_planes(H, W, KH, KW, pad, S)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    if planes is None:
        planes = np.empty((N, S, S, g.CS, C, g.length), dtype=x.dtype)
    if not planes.flags.c_contiguous:                  # (the reshape below must be a view)
        raise ValueError("planes must be C-contiguous")
    grid = planes.reshape(N, S, S, g.CS, C, g.rows, g.PW)
    for rr in range(S):
        for re in range(S):
            for qe in range(g.CS):
                sub = xp[:, :, rr::S, S * qe + re::S][:, :, :g.rows, :g.PW]     # (N, C, <=rows, <=PW)
                rows, cols = sub.shape[2], sub.shape[3]
                plane = grid[:, rr, re, qe]
                plane[:, :, :rows, :cols] = sub
                plane[:, :, rows:] = 0              # past the padded image (when S does not
                plane[:, :, :, cols:] = 0           # divide it): never read by a valid window
    return planes


def _tap_slice(g, a, e, i, j):
    """Where window element (a, e) finds kernel tap (i, j): (rr, re, qe) and the slice of the
    plane that holds it for every window P = 0..L-1 (see shapes.phase_planes)."""
    r, c = a + i, e + j
    start = (r // g.S) * g.PW
    return (r % g.S, c % g.S, c // g.S), slice(start, start + g.L)


ARGMAX_DTYPE = np.int32
"""The fused block's argmax (window winners, -1 for "ReLU off"). int8 would hold them in a
quarter of the memory, but the compiled kernels read and write it 8 lanes at a time as the
float32 sums beside it, and narrowing the lanes to bytes cost more than the memory saved
(docs/performance.md)."""


def conv_relu_pool_forward(x, w, b, pad, S, out=None, argmax=None, planes=None):
    """out = maxpool_S(relu(conv(x, w, b, stride 1, pad))) and what backward needs.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> out (N, F, PH, PW), argmax (N, F, PH, PW)
    ARGMAX_DTYPE, planes (see make_phase_planes). argmax holds the winner a*S + e of each window
    (the first maximum in row-major order, as maxpool_forward), or -1 where the maximum is
    <= 0, i.e. where the ReLU let nothing through (out = 0, no gradient). Buffers given as
    out/argmax/planes are filled and returned; otherwise new arrays are.
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    g = phase_planes(H, W, KH, KW, pad, S)
    planes = make_phase_planes(x, KH, KW, pad, S, planes)
    conv = np.empty((S * S, N, F, g.L), dtype=x.dtype)     # conv output at window element a*S+e
    for a in range(S):
        for e in range(S):
            acc = conv[a * S + e]
            acc[...] = b[None, :, None]
            for i in range(KH):
                for j in range(KW):
                    (rr, re, qe), at = _tap_slice(g, a, e, i, j)
                    acc += np.matmul(w[:, :, i, j], planes[:, rr, re, qe, :, at])   # (F,C)@(N,C,L)
    best, winner = conv.max(axis=0), conv.argmax(axis=0)   # argmax: the first maximum wins
    relu_on = best > 0
    shape = (N, F, g.PH, g.PW)
    result = np.where(relu_on, best, 0).reshape(shape)
    winner = np.where(relu_on, winner, -1).astype(ARGMAX_DTYPE).reshape(shape)
    if out is None:
        return result, winner, planes
    out[...], argmax[...] = result, winner
    return out, argmax, planes


def conv_relu_pool_backward(dout, argmax, planes, w, x_shape, pad, S, need_dx, dw=None, db=None):
    """Gradients of conv_relu_pool_forward: (dw, db, dx), dx None unless need_dx.

    dout, argmax: (N, F, PH, PW). Each window's gradient goes to its winner only, and only if
    the ReLU let the winner through (argmax >= 0); the conv then spreads it like Conv2D:
        dw[f, c, i, j] = sum over n, windows of  G[n, f, P] * (pixel tap (i, j) saw)
        dx[pixel]     += w[f, c, i, j] * G[n, f, P]   (for every window and tap that saw it)
    with G the gradient at the winning conv output. Written into dw/db when given.
    """
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    g = phase_planes(H, W, KH, KW, pad, S)
    dout, argmax = dout.reshape(N, F, g.L), argmax.reshape(N, F, g.L)
    dw = np.zeros(w.shape, dtype=w.dtype) if dw is None else dw
    db = np.zeros(F, dtype=w.dtype) if db is None else db
    dw[...] = 0
    db[...] = np.where(argmax >= 0, dout, 0).sum(axis=(0, 2))
    dplanes = np.zeros_like(planes) if need_dx else None
    for a in range(S):
        for e in range(S):
            G = np.where(argmax == a * S + e, dout, 0)                       # (N, F, L)
            for i in range(KH):
                for j in range(KW):
                    (rr, re, qe), at = _tap_slice(g, a, e, i, j)
                    seen = planes[:, rr, re, qe, :, at]                         # (N, C, L)
                    dw[:, :, i, j] += np.tensordot(G, seen, axes=([0, 2], [0, 2]))   # (F, C)
                    if need_dx:
                        dplanes[:, rr, re, qe, :, at] += np.matmul(w[:, :, i, j].T, G)  # (C,F)@(N,F,L)
    dx = unmake_phase_planes(dplanes, x_shape, KH, KW, pad, S) if need_dx else None
    return dw, db, dx


def unmake_phase_planes(dplanes, x_shape, KH, KW, pad, S):
    """The adjoint of make_phase_planes: add every plane entry back onto the input pixel it
    was copied from, then drop the padding: (N, S, S, CS, C, length) -> (N, C, H, W).
    A pixel sits in one phase (rr, re) but in up to CS planes (once per column shift qe, at
    pw = column // S - qe), so its gradient is the sum over those, like col2im's overlaps."""
    N, C, H, W = x_shape
    g = phase_planes(H, W, KH, KW, pad, S)
    grid = dplanes.reshape(N, S, S, g.CS, C, g.rows, g.PW)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dplanes.dtype)
    for rr in range(S):
        for re in range(S):
            for qe in range(g.CS):
                sub = dxp[:, :, rr::S, S * qe + re::S][:, :, :g.rows, :g.PW]    # a view
                sub += grid[:, rr, re, qe, :, :sub.shape[2], :sub.shape[3]]
    return dxp[:, :, pad:pad + H, pad:pad + W]


# ------------------------------------------------ conv as one GEMM, then ReLU + max-pool
# The same block (Conv2D stride 1 -> ReLU -> MaxPool2D size S = stride S) computed the
# textbook way, for convolutions with many input channels: every patch unfolded into a row
# ("im2row", im2col transposed), the whole convolution one matrix product
# rows (N*OH*OW, K) @ wm.T, where BLAS runs near its peak; then bias, ReLU and pooling in
# one pass. These kernels keep images channels last, (N, H, W, C): a patch row is then one
# contiguous run of memory, and the GEMM's output is already in that layout. (The block
# hands its neighbours (N, C, H, W)-shaped views of that memory, see fused.py.) The direct
# kernel above needs no im2row, and wins where K is small (one input channel, 3x3).

def im2row(x, KH, KW, pad, rows=None):
    """x (N, H, W, C), channels last -> rows (N, OH, OW, K), K = KH*KW*C, stride 1:
    rows[n, oh, ow] is the patch whose top-left corner is (oh - P, ow - P), in the order
    (i, j, c). With the weights in the same order, wm = w.transpose(0, 2, 3, 1).reshape(F, K):
        conv(x)[n, oh, ow, :] = wm @ rows[n, oh, ow] + b."""
    N, H, W, C = x.shape
    OH, OW = conv_output_size(H, KH, 1, pad), conv_output_size(W, KW, 1, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    if rows is None:
        rows = np.empty((N, OH, OW, KH * KW * C), dtype=x.dtype)
    patches = rows.reshape(N, OH, OW, KH, KW, C)
    for i in range(KH):
        for j in range(KW):
            patches[:, :, :, i, j] = xp[:, i:i + OH, j:j + OW]     # tap (i, j) of every patch
    return rows


def row2im(drows, x_shape, KH, KW, pad):
    """The adjoint of im2row: (N, OH, OW, K) -> dx (N, H, W, C) = x_shape, channels last;
    a pixel in several patches gets the sum of their gradients."""
    N, H, W, C = x_shape
    OH, OW = drows.shape[1:3]
    patches = drows.reshape(N, OH, OW, KH, KW, C)
    dxp = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=drows.dtype)
    for i in range(KH):
        for j in range(KW):
            dxp[:, i:i + OH, j:j + OW] += patches[:, :, :, i, j]
    return dxp[:, pad:pad + H, pad:pad + W]


def tap_planes(x, KH, KW, pad, out=None):
    """x (N, H, W), one channel -> planes (KH*KW, N, OH, OW), stride 1: plane i*KW + j is
    the padded image shifted by tap (i, j). planes.reshape(K, -1) is im2row's rows for C = 1,
    transposed: the same matrix laid out tap by tap, so the copies are runs of OW pixels
    instead of runs of KW (a first layer's im2row, three times faster)."""
    N, H, W = x.shape
    OH, OW = conv_output_size(H, KH, 1, pad), conv_output_size(W, KW, 1, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    if out is None:
        out = np.empty((KH * KW, N, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            out[i * KW + j] = xp[:, i:i + OH, j:j + OW]
    return out


def taps2im(dplanes, x_shape, KH, KW, pad):
    """The adjoint of tap_planes: (KH*KW, N, OH, OW) -> dx (N, H, W) = x_shape; a pixel under
    several taps gets the sum of their gradients, added tap by tap."""
    N, H, W = x_shape
    OH, OW = dplanes.shape[2:]
    dxp = np.zeros((N, H + 2 * pad, W + 2 * pad), dtype=dplanes.dtype)
    for i in range(KH):
        for j in range(KW):
            dxp[:, i:i + OH, j:j + OW] += dplanes[i * KW + j]
    return dxp[:, pad:pad + H, pad:pad + W]


def bias_relu_pool(conv, b, S, out=None, argmax=None):
    """conv (N, OH, OW, F), channels last, without its bias -> out, argmax (N, PH, PW, F):
    out = maxpool_S(relu(conv + b)), PH = OH // S; argmax as conv_relu_pool_forward's (the
    first maximum a*S + e of each window, -1 where the ReLU let nothing through)."""
    N, OH, OW, F = conv.shape
    PH, PW = OH // S, OW // S
    windows = (conv[:, :PH * S, :PW * S] + b).reshape(N, PH, S, PW, S, F)
    windows = windows.transpose(0, 1, 3, 5, 2, 4).reshape(N, PH, PW, F, S * S)
    best, winner = windows.max(axis=-1), windows.argmax(axis=-1)   # argmax: the first maximum
    relu_on = best > 0
    result, winner = np.where(relu_on, best, 0), np.where(relu_on, winner, -1).astype(ARGMAX_DTYPE)
    if out is None:
        return result, winner
    out[...], argmax[...] = result, winner
    return out, argmax


def relu_pool_backward(dout, argmax, S, dconv, db):
    """The adjoint of bias_relu_pool: each window's gradient to its winner if the ReLU let it
    through, 0 everywhere else. dout, argmax (N, PH, PW, F) -> dconv (N, OH, OW, F) and db
    (F,) (the bias is added to every conv output), both written in place."""
    PH, PW = dout.shape[1:3]
    dconv[...] = 0
    for a in range(S):
        for e in range(S):
            dconv[:, a:PH * S:S, e:PW * S:S] = np.where(argmax == a * S + e, dout, 0)
    db[...] = np.where(argmax >= 0, dout, 0).sum(axis=(0, 1, 2))
    return dconv, db


# ------------------------------------------------------------------- Winograd F(2x2, 3x3)
# A 3x3 convolution (stride 1) whose outputs a 2x2 max-pool takes in windows: each window's
# four conv outputs, a 2x2 tile, come from a 4x4 tile of input pixels d (tiles overlap by two
# pixels), and Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016) computes them with
# 16 products per input/output channel pair instead of 36:
#     Y = A^T [ (G g G^T) * (B^T d B) ] A        (* elementwise; g a 3x3 filter)
# Summed over input channels, the 16 elementwise products become 16 matrix products,
#     M[p] = V[p] @ U[p]     V (16, tiles, C) = B^T d B,   U (16, C, F) = G g G^T,
# 2.25x fewer multiply-adds than im2row's one product. The backward pass is the adjoint of
# each step: dM = A dY A^T, dU = V^T dM, dV = dM U^T, dd = B dV B^T (summed where tiles
# overlap), dg = G^T dU G.
#
# V, M and their gradients are "planes": (16, >= tiles * channels) arrays, plane p = 4r + s
# holding entry (r, s) of every tile's transform, tiles in (n, ph, pw) order, channels last.
WINOGRAD_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
WINOGRAD_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])
_GG = np.kron(WINOGRAD_G, WINOGRAD_G)          # (16, 9): U[4r + s] = sum_ij G[r, i] G[s, j] g[i, j]


def winograd_weights(w):
    """w (F, C, 3, 3) -> U (16, C, F) = G g G^T for every filter g = w[f, c] (exact in float32:
    G's entries are 0, 1 and 1/2)."""
    F, C = w.shape[:2]
    U = _GG.astype(w.dtype) @ w.reshape(F * C, 9).T                 # (16, F*C)
    return np.ascontiguousarray(U.reshape(16, F, C).transpose(0, 2, 1))


def winograd_weights_backward(dU):
    """The adjoint of winograd_weights: dU (16, C, F) -> dw (F, C, 3, 3) = G^T dU G."""
    C, F = dU.shape[1:]
    dw = _GG.T.astype(dU.dtype) @ dU.transpose(0, 2, 1).reshape(16, F * C)   # (9, F*C)
    return np.ascontiguousarray(dw.T.reshape(F, C, 3, 3))


def winograd_tile_grid(H, W, pad):
    """(PH, PW): the tiles of an (H, W) input, one per pool window (a last odd conv row or
    column, which no window takes, is not computed)."""
    return conv_output_size(H, 3, 1, pad) // 2, conv_output_size(W, 3, 1, pad) // 2


def _winograd_tile_pixels(xp, PH, PW):
    """The padded input's 4x4 tiles: d[i, j] (N, PH, PW, C) = pixel (i, j) of every tile."""
    return np.stack([np.stack([xp[:, i:i + 2 * PH:2, j:j + 2 * PW:2] for j in range(4)]) for i in range(4)])


def _bt(d0, d1, d2, d3):
    """B^T applied along one axis of the tiles: rows (or columns) 0-3 to the transform's."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _b(v0, v1, v2, v3):
    """B, the adjoint of _bt."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


def _at(m0, m1, m2, m3):
    """A^T: four rows (or columns) to two outputs."""
    return m0 + m1 + m2, m1 - m2 - m3


# The sums below are written out, not left to einsum, so that they run in jit's order and
# round as jit's do: the twins are bitwise the same.

def winograd_tiles(x, pad, planes=None):
    """x (N, H, W, C), channels last -> planes V = B^T d B of every 4x4 input tile d, tile
    (n, ph, pw) having its top-left pixel at (2ph - P, 2pw - P)."""
    N, H, W, C = x.shape
    PH, PW = winograd_tile_grid(H, W, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    d = _winograd_tile_pixels(xp, PH, PW)                        # d[i, j]: (N, PH, PW, C)
    columns = [_bt(d[0, j], d[1, j], d[2, j], d[3, j]) for j in range(4)]     # B^T d
    size = N * PH * PW * C
    if planes is None:
        planes = np.empty((16, size), dtype=x.dtype)
    for r in range(4):                                                        # (B^T d) B
        row = _bt(columns[0][r], columns[1][r], columns[2][r], columns[3][r])
        for s in range(4):
            planes[4 * r + s, :size] = row[s].reshape(-1)
    return planes


def winograd_relu_pool(M, b, out, argmax):
    """Planes M (16, >= N*PH*PW*F) -> each tile's conv outputs Y = A^T M A, then
    bias_relu_pool's maxpool_2(relu(Y + b)) and argmax into out, argmax (N, PH, PW, F)."""
    N, PH, PW, F = out.shape
    m = M[:, :N * PH * PW * F].reshape(16, N, PH, PW, F)
    u, v = zip(*(_at(m[s], m[4 + s], m[8 + s], m[12 + s]) for s in range(4)))   # A^T M
    y = _at(*u) + _at(*v)                                         # (A^T M) A: y00, y01, y10, y11
    conv = np.empty((N, 2 * PH, 2 * PW, F), dtype=M.dtype)        # the tiles as conv outputs
    for t in range(4):
        conv[:, t // 2::2, t % 2::2] = y[t]
    return bias_relu_pool(conv, b, 2, out, argmax)


def winograd_relu_pool_backward(dout, argmax, dM, db):
    """The adjoint of winograd_relu_pool: dout, argmax (N, PH, PW, F) -> planes dM = A dY A^T,
    dY the window's gradient at its winner (row w // 2, column w % 2) where the ReLU was on,
    0 elsewhere; and db (F,), in place."""
    N, PH, PW, F = dout.shape
    zero, one = dout.dtype.type(0), dout.dtype.type(1)
    g = np.where(argmax >= 0, dout, zero)
    db_rows = np.zeros((N, F), dtype=dout.dtype)
    for ph in range(PH):                                          # each image's sum in jit's order
        for pw in range(PW):
            db_rows += g[:, ph, pw]
    np.sum(db_rows, axis=0, out=db)
    top, left = (argmax & 2) == 0, (argmax & 1) == 0
    # dM = g a a'^T, a and a' A's columns for the winner's row and column
    a = (np.where(top, g, zero), g, np.where(top, g, -g), np.where(top, zero, -g))
    e = (np.where(left, one, zero), None, np.where(left, one, -one), np.where(left, zero, -one))
    m = dM[:, :N * PH * PW * F].reshape(16, N, PH, PW, F)
    for r in range(4):
        for s in range(4):
            m[4 * r + s] = a[r] if s == 1 else a[r] * e[s]
    return dM, db


def winograd_untiles(dV, x_shape, pad, dx=None):
    """The adjoint of winograd_tiles: planes dV -> dx (N, H, W, C) = x_shape, channels last
    (written into dx if given): dd = B dV B^T of each tile, summed where tiles overlap."""
    N, H, W, C = x_shape
    PH, PW = winograd_tile_grid(H, W, pad)
    v = dV[:, :N * PH * PW * C].reshape(16, N, PH, PW, C)
    q = [_b(v[s], v[4 + s], v[8 + s], v[12 + s]) for s in range(4)]          # B dV
    dd = [_b(q[0][i], q[1][i], q[2][i], q[3][i]) for i in range(4)]          # (B dV) B^T
    dxp = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=dV.dtype)
    for i in (3, 2, 1, 0):          # a pixel's tiles added top-left first, as jit adds them
        for j in (3, 2, 1, 0):
            dxp[:, i:i + 2 * PH:2, j:j + 2 * PW:2] += dd[i][j]
    if dx is None:
        return dxp[:, pad:pad + H, pad:pad + W]
    dx[...] = dxp[:, pad:pad + H, pad:pad + W]
    return dx


# ----------------------------------------------------------------------- dense layer
def dense_forward(x, w, b, out, scratch=None):
    """out = x @ w + b.  x (N, D), w (D, M), b (M,) -> out (N, M), written and returned.
    `scratch(name, shape, dtype)`, the caller's buffers, is for the jit twin's partial sums."""
    np.matmul(x, w, out=out)
    out += b
    return out


def dense_backward(x, w, dout, dw, db, dx=None):
    """The gradients of out = x @ w + b, written into dw (D, M), db (M,) and, if given, dx (N, D):
    dw = x.T @ dout (each weight's input times its output's gradient, summed over the batch),
    db = dout summed over the batch, dx = dout @ w.T. Returns dx."""
    np.matmul(x.T, dout, out=dw)
    np.sum(dout, axis=0, out=db)
    if dx is not None:
        np.matmul(dout, w.T, out=dx)
    return dx


# ------------------------------------------------------------------- optimizer update
FLUSH = 1e-30
"""Velocities smaller than this are set to exactly 0. A weight whose gradient stays 0 (a pixel
that is always background feeds such weights) has its velocity decay as momentum^k; after ~800
steps it falls below float32's smallest normal number (1.2e-38) into the denormals, on which
Intel cores take a slow microcode path (~35% slower epochs measured). Flushing at 1e-30 changes
no weight: a step that small is below float32's resolution for any weight above 1e-23."""


def check_same_shape(w, v, g):
    """Raises ValueError unless weights, velocity and gradient have one shape (the compiled
    update indexes all three by w's size: a smaller v or g would be written past its end)."""
    if not w.shape == v.shape == g.shape:
        raise ValueError(f"weights {w.shape}, velocity {v.shape} and gradient {g.shape} must "
                         "have the same shape")


def sgd_momentum(w, v, g, lr, momentum, weight_decay=0.0):
    """In place, Keras semantics:  v <- momentum * v - lr * (g + weight_decay * w);  w <- w + v
    (|v| < FLUSH -> 0). The scalars in the arrays' precision and the operations in the jit
    kernel's order: the two give bitwise the same result. w, v and g must have one shape."""
    check_same_shape(w, v, g)
    f = w.dtype.type
    v *= f(momentum)
    v -= f(lr) * (g + f(weight_decay) * w)
    v[np.abs(v) < f(FLUSH)] = 0
    w += v


def adam(w, m, v, g, lr, beta1, beta2, eps, step):
    """One Adam step (Kingma & Ba; PyTorch's arithmetic), in place, for update number `step`
    (1, 2, ...):  m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2  (|m|, |v| < FLUSH -> 0),
        w <- w - lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
    The bias corrections undo the moments' start at zero. Scalars in the arrays' precision,
    operations in the jit kernel's order: bitwise twins."""
    check_same_shape(w, m, g)
    check_same_shape(w, v, g)
    f = w.dtype.type
    step_size, root = adam_scalars(f, lr, beta1, beta2, step)
    m *= f(beta1)
    m += f(1 - beta1) * g
    m[np.abs(m) < f(FLUSH)] = 0
    v *= f(beta2)
    v += f(1 - beta2) * (g * g)
    v[v < f(FLUSH)] = 0
    w -= step_size * m / (np.sqrt(v) / root + f(eps))


def adam_sum(ws, ms, vs, gs, parts, lr, beta1, beta2, eps, step):
    """adam() on every parameter i, its gradient gs[i] first set to the sum of its parts
    (parts[0][i] + parts[1][i] + ..., added in that order): the data-parallel step's slices'
    gradients, summed and applied in one pass over memory (jit.adam_sum)."""
    for i, (w, m, v, g) in enumerate(zip(ws, ms, vs, gs)):
        np.copyto(g, parts[0][i])
        for part in parts[1:]:
            g += part[i]
        adam(w, m, v, g, lr, beta1, beta2, eps, step)


def adam_scalars(f, lr, beta1, beta2, step):
    """The step size lr / (1 - b1^step) and sqrt(1 - b2^step), computed in float64, then
    rounded to the arrays' type f (both back ends use these)."""
    return f(lr / (1 - beta1 ** step)), f(np.sqrt(1 - beta2 ** step))


def compile_ahead(run, on_compile=None):
    """NumPy needs no compiling: `run` is not called (jit.compile_ahead is the real one)."""
    return 0.0


def pinned():
    """NumPy runs on the calling thread and BLAS's own: nothing to pin (see jit.pinned)."""
    return contextlib.nullcontext()
