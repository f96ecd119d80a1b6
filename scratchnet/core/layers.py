"""Layers: each one a forward pass and its hand-written backward pass, side by side.

Every layer has the same interface:
    out = layer.forward(x)                        # remembers what backward needs
    dx  = layer.backward(dout)                    # need_dx=False skips dL/dx (first layer)
    layer.params, layer.grads                     # dicts with the same keys and shapes;
                                                  # backward fills grads
    layer.output_shape(input_shape), layer.config(), layer.astype(dtype)

Dense, ReLU and the fused block return arrays they own and reuse on the next call (no
allocation in a training step once the batch size is settled): copy an output to keep it.

Training does not run Conv2D, ReLU and MaxPool2D one after the other: `Sequential` runs the
three as one fused block with the same maths (scratchnet/core/fused.py; its kernel is
`conv_relu_pool_*` in kernels/reference.py and kernels/jit.py). The layers here are the
readable definition; tests prove the fused block computes exactly the same thing.

Dimension letters: N batch, C/F input/output channels, H/W height/width, D/M input/output
features. Images are NCHW. Training runs in float32; gradient checks run the same code in
float64 (`astype`).
"""
import contextlib
import threading

import numpy as np

from . import kernels
from .shapes import conv_output_size


_loading = threading.local()


@contextlib.contextmanager
def weights_to_be_loaded():
    """Layers built inside get uninitialised weights (np.empty): for a model whose weights are
    read from a file next, drawing ~540,000 random numbers first would cost predict.py's cold
    start milliseconds for nothing."""
    _loading.active = True
    try:
        yield
    finally:
        _loading.active = False


def init_kernel(rng, shape, fan_in, fan_out, init, dtype):
    """Uniform U(-limit, limit) initialisation, Keras' two schemes:

    "he_uniform":     limit = sqrt(6 / fan_in)            keeps ReLU activations' variance
    "glorot_uniform": limit = sqrt(6 / (fan_in + fan_out)) Keras' default, for the softmax layer
    """
    if getattr(_loading, "active", False) and init in ("he_uniform", "glorot_uniform"):
        return np.empty(shape, dtype)
    if init == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
    elif init == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
    else:
        raise ValueError(f"unknown init {init!r}: use 'he_uniform' or 'glorot_uniform'")
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


class Layer:
    """Base class: a layer without parameters."""

    def __init__(self):
        self.params, self.grads = {}, {}
        self._buffers = {}

    buffer_shapes = 3   # shapes of each buffer kept (see _buffer)

    def _buffer(self, name, shape, dtype):
        """An array of this layer, reused by every call with the same shape and dtype. The
        `buffer_shapes` most recent shapes stay allocated (a training batch, the epoch's last,
        smaller batch, and an evaluation batch), so alternating between them allocates nothing."""
        keep = self.buffer_shapes
        key = (name, tuple(shape), np.dtype(dtype))
        buf = self._buffers.pop(key, None)
        if buf is None:
            buf = np.empty(shape, dtype=dtype)
            same_name = [k for k in self._buffers if k[0] == name]
            for old in same_name[:max(0, len(same_name) - keep + 1)]:   # the least recent
                del self._buffers[old]
        self._buffers[key] = buf          # (re)inserted last: dicts keep insertion order
        return buf

    def release_buffers(self):
        """Drop the cached activations and the reusable buffers (the next forward makes them again)."""
        self.cache = None
        self._buffers.clear()

    def config(self):
        """Constructor arguments, JSON-serialisable: enough to rebuild the layer."""
        return {}

    def astype(self, dtype):
        """Cast parameters and gradients in place (float64 for gradient checks)."""
        for name in self.params:
            self.params[name] = self.params[name].astype(dtype)
            self.grads[name] = np.zeros_like(self.params[name])
        self._buffers.clear()
        return self

    def num_params(self):
        return sum(p.size for p in self.params.values())

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


# ------------------------------------------------------------------------------ Conv2D
class Conv2D(Layer):
    """2-D convolution (cross-correlation, like every DL framework) via im2col + one matmul.
    (Followed by ReLU and MaxPool2D in a Sequential, training runs it fused: see fused.py.)

    x: (N, C, H, W) -> out: (N, F, OH, OW), OH = (H + 2P - KH) // S + 1 (same for OW).
    Parameters: W (F, C, KH, KW), b (F,).  Cache: x's shape and cols = im2col(x) (N, K, L),
    K = C*KH*KW, L = OH*OW.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="he_uniform", rng=None, dtype=np.float32):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (int(kh), int(kw)), int(stride), int(padding)
        self.init = init
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params["W"] = init_kernel(rng, (out_channels, in_channels, kh, kw), in_channels * kh * kw,
                                       out_channels * kh * kw, init, dtype)
        self.params["b"] = np.zeros(out_channels, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        F = self.out_channels
        (kh, kw), S, P = self.kernel_size, self.stride, self.padding
        N, C, H, W = x.shape
        OH, OW = conv_output_size(H, kh, S, P), conv_output_size(W, kw, S, P)
        cols = kernels.active().im2col(x, kh, kw, S, P)              # (N, K, L)
        out = np.matmul(self.params["W"].reshape(F, -1), cols)         # (F, K) @ (N, K, L) -> (N, F, L)
        out += self.params["b"][None, :, None]
        self.cache = (x.shape, cols)
        return out.reshape(N, F, OH, OW)

    def backward(self, dout, need_dx=True):
        x_shape, cols = self.cache
        N, F = dout.shape[:2]
        dout = dout.reshape(N, F, -1)                                   # (N, F, L)
        # out[n] = Wm @ cols[n] + b  =>  dWm = sum_n dout[n] @ cols[n].T,  db = sum over n and L
        self.grads["W"][...] = np.tensordot(dout, cols, axes=([0, 2], [0, 2])).reshape(
            self.params["W"].shape)                                     # (F, K) -> (F, C, KH, KW)
        self.grads["b"][...] = dout.sum(axis=(0, 2))
        if not need_dx:
            return None  # first layer: nobody needs dL/dx, skip the costly col2im
        dcols = np.matmul(self.params["W"].reshape(F, -1).T, dout)      # (K, F) @ (N, F, L) -> (N, K, L)
        (kh, kw), S, P = self.kernel_size, self.stride, self.padding
        return kernels.active().col2im(dcols, x_shape, kh, kw, S, P)   # (N, C, H, W)

    def output_shape(self, input_shape):
        C, H, W = input_shape
        (kh, kw), S, P = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(H, kh, S, P), conv_output_size(W, kw, S, P))

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": self.stride,
                "padding": self.padding, "init": self.init}


# --------------------------------------------------------------------------- MaxPool2D
class MaxPool2D(Layer):
    """Max pooling over size x size windows moved by `stride`; odd sizes floor (Keras 'valid').

    x: (N, C, H, W) -> out: (N, C, OH, OW), OH = (H - size) // stride + 1.
    Cache: x's shape and argmax (N, C, OH, OW), the winner's row-major index in its window.
    Backward sends each window's gradient to its winner only. Tie rule: the first maximum
    in row-major order (top-left first) wins and gets all of the gradient.
    """

    def __init__(self, size=2, stride=2):
        super().__init__()
        self.size, self.stride = int(size), int(stride)

    def forward(self, x):
        out, argmax = kernels.active().maxpool_forward(x, self.size, self.stride)
        self.cache = (x.shape, argmax)
        return out

    def backward(self, dout, need_dx=True):
        x_shape, argmax = self.cache
        return kernels.active().maxpool_backward(dout, argmax, x_shape, self.size, self.stride)

    def output_shape(self, input_shape):
        C, H, W = input_shape
        return (C, conv_output_size(H, self.size, self.stride, 0),
                conv_output_size(W, self.size, self.stride, 0))

    def config(self):
        return {"size": self.size, "stride": self.stride}


# ----------------------------------------------------------------------------- Flatten
class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), in C-order (channel-major), like Keras channels_first."""

    def forward(self, x):
        self.cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout, need_dx=True):
        return dout.reshape(self.cache)

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)


# ------------------------------------------------------------------------------- Dense
class Dense(Layer):
    """Fully connected: out = x @ W + b.

    x: (N, D) -> out: (N, M).  Parameters: W (D, M) (Keras layout), b (M,).  Cache: x.
    """

    def __init__(self, in_features, out_features, init="he_uniform", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params["W"] = init_kernel(rng, (in_features, out_features), in_features, out_features,
                                       init, dtype)
        self.params["b"] = np.zeros(out_features, dtype=dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.cache = x
        out = self._buffer("out", (x.shape[0], self.out_features), self.params["W"].dtype)
        # out = x @ W + b:  (N, D) @ (D, M) -> (N, M)
        return kernels.active().dense_forward(x, self.params["W"], self.params["b"], out, self._buffer)

    def backward(self, dout, need_dx=True):
        # dW = x.T @ dout  (D, N) @ (N, M);  db = dout summed over N;  dx = dout @ W.T  (N, M) @ (M, D)
        x = self.cache
        dx = self._buffer("dx", x.shape, dout.dtype) if need_dx else None
        return kernels.active().dense_backward(x, self.params["W"], dout, self.grads["W"], self.grads["b"], dx)

    def output_shape(self, input_shape):
        return (self.out_features,)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "init": self.init}


# -------------------------------------------------------------------------------- ReLU
class ReLU(Layer):
    """out = max(x, 0); backward passes the gradient where x > 0 (0 at x == 0). Cache: mask."""

    def forward(self, x):
        mask = self.cache = self._buffer("mask", x.shape, np.bool_)
        np.greater(x, 0, out=mask)
        return np.maximum(x, 0, out=self._buffer("out", x.shape, x.dtype))

    def backward(self, dout, need_dx=True):
        return np.multiply(dout, self.cache, out=self._buffer("dx", dout.shape, dout.dtype))

    def output_shape(self, input_shape):
        return tuple(input_shape)


LAYER_TYPES = {cls.__name__: cls for cls in (Conv2D, MaxPool2D, Flatten, Dense, ReLU)}
