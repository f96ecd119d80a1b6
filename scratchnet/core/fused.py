"""Fused blocks: several layers computed by one kernel, sharing the layers' parameters.

Sequential runs Conv2D -> ReLU -> MaxPool2D as one ConvReLUPool block when the convolution
has stride 1 and the pooling windows do not overlap (size == stride): one pass over the
input instead of three, no im2col matrix, no (N, F, OH, OW) activations kept for backward.
The algorithm (the input rearranged into "phase planes", see shapes.phase_planes) is in
kernels/reference.py: conv_relu_pool_forward and _backward, readable NumPy; jit.py runs the
same algorithm compiled. The maths is exactly the three layers': the tests compare both, and
the model-level gradient check runs through this block.

That direct kernel is tuned for two shapes, the reference and the fast networks' first
layers (one input channel, 3x3 or 5x5, pool 2). Other 3x3 blocks with a 2x2 pool (the fast
recipe's second conv layer) run as WinogradConvReLUPool: Winograd's F(2x2, 3x3), 16 matrix
products with 2.25x fewer multiply-adds (docs/backprop.md section 10). Any other Conv2D ->
ReLU -> MaxPool2D runs as Im2rowConvReLUPool: im2row, one matrix product for the batch, then
bias, ReLU and pooling in one pass (section 9). `plan` picks between them.
"""
import numpy as np

from . import kernels
from .kernels import blas
from .kernels.reference import ARGMAX_DTYPE
from .layers import Conv2D, Layer, MaxPool2D, ReLU
from .shapes import conv_output_size, phase_planes


class ConvReLUPool(Layer):
    """x: (N, C, H, W) -> maxpool(relu(conv(x))): (N, F, PH, PW).

    Cache: the input as phase planes and the argmax of each window (-1 where the ReLU was off).
    Gradients are written into the Conv2D layer's grads. Output, argmax and planes live in
    buffers reused from batch to batch.
    """

    def __init__(self, conv, relu, pool):
        super().__init__()
        self.conv, self.relu, self.pool = conv, relu, pool
        self.params, self.grads = conv.params, conv.grads   # the block's parameters: the conv's

    def astype(self, dtype):
        self.conv.astype(dtype)   # casts in the dicts this block shares
        self._buffers.clear()
        return self

    @staticmethod
    def fits(conv, relu, pool):
        """Whether the fused kernels compute this Conv2D -> ReLU -> MaxPool2D."""
        return conv.stride == 1 and pool.size == pool.stride

    def forward(self, x):
        c, S = self.conv, self.pool.size
        F, (KH, KW) = c.out_channels, c.kernel_size
        N, C, H, W = x.shape
        _, PH, PW = self.output_shape(x.shape[1:])
        dt = c.params["W"].dtype
        g = phase_planes(H, W, KH, KW, c.padding, S)
        out = self._buffer("out", (N, F, PH, PW), dt)
        argmax = self._buffer("argmax", (N, F, PH, PW), ARGMAX_DTYPE)
        planes = self._buffer("planes", (N, S, S, g.CS, C, g.length), dt)
        kernels.active().conv_relu_pool_forward(x.astype(dt, copy=False), c.params["W"], c.params["b"],
                                                c.padding, S, out, argmax, planes)
        self.cache = (x.shape, argmax, planes)
        return out

    def backward(self, dout, need_dx=True):
        x_shape, argmax, planes = self.cache
        c = self.conv
        _, _, dx = kernels.active().conv_relu_pool_backward(
            dout, argmax, planes, c.params["W"], x_shape, c.padding, self.pool.size, need_dx,
            c.grads["W"], c.grads["b"])
        return dx

    def output_shape(self, input_shape):
        return self.pool.output_shape(self.conv.output_shape(input_shape))


class Im2rowConvReLUPool(Layer):
    """The same block as ConvReLUPool, the same maths and interface, computed as im2row, one
    GEMM for the whole batch (BLAS), then bias + ReLU + max-pool in one pass
    (kernels/reference.py: im2row, bias_relu_pool, relu_pool_backward, row2im). plan() picks
    it where neither the direct kernel (see `direct`) nor Winograd's fits.

    Its kernels keep images channels last, (N, H, W, C). The block still takes and returns
    (N, C, H, W) arrays, as every layer does, but its output (and its dx) is a transposed
    view of channels-last memory: a next block of this kind reads that memory as it is,
    with no copy; any other layer sees an ordinary (N, C, H, W) array (Flatten's reshape
    copies it into channel-major order).

    With wm the weights as an (F, K) matrix in the rows' order (i, j, c) and dconv the
    gradient at the conv outputs, (N*OH*OW, F):
        forward  conv = rows @ wm.T            backward  dwm.T = rows.T @ dconv  (K, F)
                                                         dx = row2im(dconv @ wm)  (if need_dx)
    Cache: rows = im2row(x) (N, OH, OW, K) and the argmax (N, PH, PW, F). A one-channel input
    (a first layer) keeps the same rows transposed, tap by tap: tap_planes(x) (K, N, OH, OW),
    whose copies are whole runs of pixels; taps2im is its row2im.
    """

    def __init__(self, conv, relu, pool):
        super().__init__()
        self.conv, self.relu, self.pool = conv, relu, pool
        self.params, self.grads = conv.params, conv.grads

    astype = ConvReLUPool.astype
    fits = staticmethod(ConvReLUPool.fits)
    output_shape = ConvReLUPool.output_shape

    def forward(self, x):
        c, S, k = self.conv, self.pool.size, kernels.active()
        F, C, KH, KW = c.params["W"].shape
        N, _, H, W = x.shape
        OH, OW = conv_output_size(H, KH, 1, c.padding), conv_output_size(W, KW, 1, c.padding)
        dt = c.params["W"].dtype
        wm = self._buffer("wm", (F, KH, KW, C), dt)                   # the weights in the rows' order
        wm[...] = c.params["W"].transpose(0, 2, 3, 1)
        conv = self._buffer("conv", (N, OH, OW, F), dt)
        if C == 1:      # one channel: the same rows, transposed (tap_planes: a faster copy)
            rows = k.tap_planes(x.reshape(N, H, W).astype(dt, copy=False), KH, KW, c.padding,
                                self._buffer("rows", (KH * KW, N, OH, OW), dt))
            matrix = rows.reshape(KH * KW, -1).T                      # (N*OH*OW, K), a view
        else:
            images = channels_last(x).astype(dt, copy=False)         # (N, H, W, C)
            rows = k.im2row(images, KH, KW, c.padding, self._buffer("rows", (N, OH, OW, KH * KW * C), dt))
            matrix = rows.reshape(-1, KH * KW * C)
        np.matmul(matrix, wm.reshape(F, -1).T, out=conv.reshape(-1, F))  # (N*OH*OW, K) @ (K, F)
        out = self._buffer("out", (N, OH // S, OW // S, F), dt)
        argmax = self._buffer("argmax", out.shape, ARGMAX_DTYPE)
        k.bias_relu_pool(conv, c.params["b"], S, out, argmax)
        self.cache = (x.shape, argmax, rows)
        return out.transpose(0, 3, 1, 2)                              # (N, F, PH, PW), a view

    def backward(self, dout, need_dx=True):
        if self.cache is None:
            raise RuntimeError("backward needs a forward first (each forward allows one backward)")
        x_shape, argmax, rows = self.cache
        c, S, k = self.conv, self.pool.size, kernels.active()
        F, C, KH, KW = c.params["W"].shape
        N, _, H, W = x_shape
        OH, OW, K = conv_output_size(H, KH, 1, c.padding), conv_output_size(W, KW, 1, c.padding), KH * KW * C
        matrix = rows.reshape(K, -1).T if C == 1 else rows.reshape(-1, K)   # (N*OH*OW, K) as forward's
        # The conv outputs are dead once pooled, and the rows once dW is made: their gradients
        # are written over them (less memory, and arrays already in cache).
        dconv = self._buffer("conv", (N, OH, OW, F), dout.dtype)
        k.relu_pool_backward(channels_last(dout), argmax, S, dconv, c.grads["b"])
        dconv = dconv.reshape(-1, F)
        dwm_t = self._buffer("dwm_t", (KH, KW, C, F), dout.dtype)    # dwm.T: BLAS's faster order
        np.matmul(matrix.T, dconv, out=dwm_t.reshape(K, F))                # (K, M) @ (M, F)
        c.grads["W"][...] = dwm_t.transpose(3, 2, 0, 1)                    # back to (F, C, KH, KW)
        if not need_dx:
            return None
        self.cache, drows = None, rows                                     # (rows are overwritten)
        wm = self._buffer("wm", (F, KH, KW, C), dout.dtype)          # (as forward left it)
        if C == 1:                                                         # (K, F) @ (F, M)
            np.matmul(wm.reshape(F, K).T, dconv.T, out=drows.reshape(K, -1))
            return k.taps2im(drows, (N, H, W), KH, KW, c.padding).reshape(x_shape)
        np.matmul(dconv, wm.reshape(F, K), out=drows.reshape(-1, K))       # (M, F) @ (F, K)
        return k.row2im(drows, (N, H, W, C), KH, KW, c.padding).transpose(0, 3, 1, 2)


class WinogradConvReLUPool(Layer):
    """The same block as ConvReLUPool for a 3x3 convolution and a 2x2 pool, computed with
    Winograd's F(2x2, 3x3) (kernels/reference.py, its Winograd section; docs/backprop.md
    section 10): each pool window's four conv outputs from a 4x4 input tile, as 16 matrix
    products of (tiles, C) @ (C, F), 2.25x fewer multiply-adds than im2row's one product.
    Channels last, and (N, C, H, W)-shaped views in and out, as Im2rowConvReLUPool.

    The batch is taken CHUNK images at a time, so that a chunk's transformed tiles V and
    products M stay in the core's own cache from one step to the next (the products ran
    twice as fast as on the whole batch's planes), and the chunks are shared out over the
    kernel threads, each thread's with BLAS on one thread (inside a data-parallel step, a
    slice's chunks all run on its own thread). Cache: V of every chunk (the weight
    gradient's left factor), the argmax (N, PH, PW, F) and the chunks' views.
    """
    CHUNK = 32
    # Each plane is padded by a cache line: planes a multiple of 4 KB apart would share L1
    # cache sets, and a tile reads or writes all 16 of them at once.
    PLANE_PAD = 16

    def __init__(self, conv, relu, pool):
        super().__init__()
        self.conv, self.relu, self.pool = conv, relu, pool
        self.params, self.grads = conv.params, conv.grads

    astype = ConvReLUPool.astype
    output_shape = ConvReLUPool.output_shape

    @staticmethod
    def fits(conv, relu, pool):
        return (conv.stride == 1 and tuple(conv.kernel_size) == (3, 3)
                and pool.size == pool.stride == 2)

    def _chunks(self, N, tiles_per_image, C, F, dt):
        """Chunks of images, in pieces: [[(n0, n1, V planes, V matrices, M planes, M
        matrices), ...] for each piece], a piece for each kernel thread (one M for each)."""
        n = min(self.CHUNK, N)
        starts = range(0, N, n)
        pieces = kernels.split(len(starts), kernels.threads())
        V = self._buffer("V", (len(starts), 16, n * tiles_per_image * C + self.PLANE_PAD), dt)
        M = self._buffer("M", (len(pieces), 16, n * tiles_per_image * F + self.PLANE_PAD), dt)
        chunks = []
        for p, (lo, hi) in enumerate(pieces):
            chunks.append([])
            for k in range(lo, hi):
                n0, n1 = starts[k], min(N, starts[k] + n)
                T = (n1 - n0) * tiles_per_image
                chunks[-1].append((n0, n1, V[k], V[k, :, :T * C].reshape(16, T, C),
                                   M[p], M[p, :, :T * F].reshape(16, T, F)))
        return chunks

    def forward(self, x):
        c, k = self.conv, kernels.active()
        F, C = c.params["W"].shape[:2]
        N, _, H, W = x.shape
        PH, PW = k.winograd_tile_grid(H, W, c.padding)
        dt = c.params["W"].dtype
        U = self._buffer("U", (16, C, F), dt)
        U[...] = k.winograd_weights(c.params["W"])                     # G g G^T
        images = channels_last(x).astype(dt, copy=False)
        out = self._buffer("out", (N, PH, PW, F), dt)
        argmax = self._buffer("argmax", out.shape, ARGMAX_DTYPE)

        def piece(p, chunks):
            for n0, n1, V, V_m, M, M_m in chunks:
                k.winograd_tiles(images[n0:n1], c.padding, V)           # B^T d B
                np.matmul(V_m, U, out=M_m)                              # 16 x (T, C) @ (C, F)
                k.winograd_relu_pool(M, c.params["b"], out[n0:n1], argmax[n0:n1])   # A^T M A, pool
        pieces = self._chunks(N, PH * PW, C, F, dt)
        _each(piece, pieces)
        self.cache = (x.shape, argmax, pieces)
        return out.transpose(0, 3, 1, 2)                                # (N, F, PH, PW), a view

    def backward(self, dout, need_dx=True):
        if self.cache is None:
            raise RuntimeError("backward needs a forward first (each forward allows one backward)")
        (N, C, H, W), argmax, pieces = self.cache
        c, k = self.conv, kernels.active()
        F, dt = c.out_channels, dout.dtype
        U = self._buffer("U", (16, C, F), dt)
        dU = self._buffer("dU", (len(pieces), 16, C, F), dt)           # each piece's sums
        db = self._buffer("db", (len(pieces), F), dt)
        dU_part, db_part = self._buffer("dU_part", dU.shape, dt), self._buffer("db_part", db.shape, dt)
        dout = channels_last(dout)
        dx = self._buffer("dx", (N, H, W, C), dt) if need_dx else None

        def piece(p, chunks):
            for i, (n0, n1, V, V_m, dM, dM_m) in enumerate(chunks):
                # M is dead once pooled, and V once its part of dU is made: their gradients
                # are written over them.
                k.winograd_relu_pool_backward(dout[n0:n1], argmax[n0:n1], dM, db[p] if i == 0 else db_part[p])
                np.matmul(V_m.transpose(0, 2, 1), dM_m, out=dU[p] if i == 0 else dU_part[p])   # V^T dM
                if i > 0:
                    dU[p] += dU_part[p]
                    db[p] += db_part[p]
                if need_dx:
                    np.matmul(dM_m, U.transpose(0, 2, 1), out=V_m)                    # dV = dM U^T
                    k.winograd_untiles(V, (n1 - n0, H, W, C), c.padding, dx[n0:n1])
        _each(piece, pieces)
        c.grads["b"][...] = db.sum(axis=0)                                           # pieces in order
        c.grads["W"][...] = k.winograd_weights_backward(dU.sum(axis=0))
        self.cache = None
        return dx.transpose(0, 3, 1, 2) if need_dx else None


def _each(fn, pieces):
    """fn(p, pieces[p]) for each piece, each on its own kernel thread with BLAS on one thread
    (all on this thread if the team is busy, as in a data-parallel step, or recording a step)."""
    k = kernels.active()
    if len(pieces) == 1 or not hasattr(k, "team") or k.team().is_recording or k.team().busy():
        for p, piece in enumerate(pieces):
            fn(p, piece)
        return
    with blas.single_threaded():
        k.team().run(fn, (), list(enumerate(pieces)))


def channels_last(x):
    """(N, C, H, W) -> the same values as (N, H, W, C), C-contiguous: free when x is a
    transposed view of channels-last memory (what Im2rowConvReLUPool returns), else a copy."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def direct(conv, relu, pool):
    """Whether ConvReLUPool's direct kernel is the faster way: for its tuned shapes, one input
    channel, a 3x3 or 5x5 kernel, pool 2 (the first layers of the reference and the fast
    networks). Any other shape runs faster as im2row + GEMM (benchmarks/bench_kernels.py
    measures both)."""
    return (ConvReLUPool.fits(conv, relu, pool)
            and (conv.in_channels, *conv.kernel_size, pool.size) in kernels.UNROLLED_BLOCKS)


PATTERNS = [((Conv2D, ReLU, MaxPool2D), ConvReLUPool, direct),
            ((Conv2D, ReLU, MaxPool2D), WinogradConvReLUPool, WinogradConvReLUPool.fits),
            ((Conv2D, ReLU, MaxPool2D), Im2rowConvReLUPool, Im2rowConvReLUPool.fits)]


def plan(layers):
    """Group `layers` into stages: fused blocks where a pattern matches, else single layers."""
    stages, i = [], 0
    while i < len(layers):
        for types, block, fits in PATTERNS:
            window = layers[i:i + len(types)]
            if (len(window) == len(types) and all(type(l) is t for l, t in zip(window, types))
                    and fits(*window)):
                stages.append(block(*window))
                i += len(types)
                break
        else:
            stages.append(layers[i])
            i += 1
    return stages
