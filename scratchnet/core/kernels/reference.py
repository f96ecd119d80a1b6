"""Plain NumPy reference kernels: the version to read and learn from.

Every function here has a Numba twin of the same name and signature in
`scratchnet.kernels.jit`; the tests assert that both agree. Nothing here is
clever: slicing and reshapes only, so each kernel can be checked by eye.

Dimension letters used throughout:
    N  batch size          C  input channels      H, W   input height, width
    F  output channels     KH, KW kernel size     S      stride    P  padding
    w  weights (F, C, KH, KW), b biases (F,) (lower case: W is the width)
    OH, OW output height, width = (H + 2P - KH) // S + 1, (W + 2P - KW) // S + 1
    L  = OH * OW           K  = C * KH * KW   (one column of the im2col matrix)
"""
import numpy as np


def conv_output_size(size, kernel, stride, pad):
    """Output length of a 'valid' sliding window: floor((size + 2P - kernel) / S) + 1."""
    return (size + 2 * pad - kernel) // stride + 1


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
def conv_relu_pool_forward(x, w, b, stride, pad, size, pstride):
    """maxpool(relu(conv(x))) in one call: the composition of the kernels above.

    x: (N, C, H, W), w: (F, C, KH, KW), b: (F,) -> out: (N, F, PH, PW), argmax (N, F, PH, PW)
    with PH = (OH - size) // pstride + 1. Same tie rule as maxpool_forward, applied to the
    ReLU outputs (a window of negatives is a tie of zeros: the first one wins, gradient 0).
    """
    N = x.shape[0]
    F, C, kh, kw = w.shape
    OH, OW = conv_output_size(x.shape[2], kh, stride, pad), conv_output_size(x.shape[3], kw, stride, pad)
    cols = im2col(x, kh, kw, stride, pad)                               # (N, K, L)
    conv = np.matmul(w.reshape(F, -1), cols) + b[None, :, None]         # (N, F, L)
    return maxpool_forward(np.maximum(conv, 0).reshape(N, F, OH, OW), size, pstride)


def conv_relu_pool_backward(dout, argmax, out, x, w, stride, pad, size, pstride, need_dx):
    """Gradients of conv_relu_pool_forward: (dw, db, dx), dx None unless need_dx.

    dout, argmax, out: (N, F, PH, PW). The ReLU passes a winner's gradient iff its value
    (the pooled output) is > 0; the pool routes it to the winner's conv position.
    """
    N = x.shape[0]
    F, C, kh, kw = w.shape
    OH, OW = conv_output_size(x.shape[2], kh, stride, pad), conv_output_size(x.shape[3], kw, stride, pad)
    dconv = maxpool_backward(dout * (out > 0), argmax, (N, F, OH, OW), size, pstride)
    dconv = dconv.reshape(N, F, OH * OW)                                 # (N, F, L)
    cols = im2col(x, kh, kw, stride, pad)                               # (N, K, L)
    dw = np.tensordot(dconv, cols, axes=([0, 2], [0, 2])).reshape(w.shape)
    db = dconv.sum(axis=(0, 2))
    dx = col2im(np.matmul(w.reshape(F, -1).T, dconv), x.shape, kh, kw, stride, pad) if need_dx else None
    return dw, db, dx


# ------------------------------------------------------------------- optimizer update
def sgd_momentum(w, v, g, lr, momentum):
    """In place, Keras semantics:  v <- momentum * v - lr * g;  w <- w + v."""
    v *= momentum
    v -= lr * g
    w += v
