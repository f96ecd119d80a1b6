"""Fused blocks: several layers computed by one kernel, sharing the layers' parameters.

Sequential runs Conv2D -> ReLU -> MaxPool2D as one ConvReLUPool block when the convolution
has stride 1 and the pooling windows do not overlap (size == stride): one pass over the
input instead of three, no im2col matrix, no (N, F, OH, OW) activations kept for backward.
The algorithm (the input rearranged into "phase planes", see shapes.phase_planes) is in
kernels/reference.py: conv_relu_pool_forward and _backward, readable NumPy; jit.py runs the
same algorithm compiled. The maths is exactly the three layers': the tests compare both, and
the model-level gradient check runs through this block.
"""
from . import kernels
from .kernels.reference import ARGMAX_DTYPE
from .layers import Conv2D, Layer, MaxPool2D, ReLU
from .shapes import phase_planes


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


PATTERNS = [((Conv2D, ReLU, MaxPool2D), ConvReLUPool)]


def plan(layers):
    """Group `layers` into stages: fused blocks where a pattern matches, else single layers."""
    stages, i = [], 0
    while i < len(layers):
        for types, block in PATTERNS:
            window = layers[i:i + len(types)]
            if (len(window) == len(types) and all(type(l) is t for l, t in zip(window, types))
                    and block.fits(*window)):
                stages.append(block(*window))
                i += len(types)
                break
        else:
            stages.append(layers[i])
            i += 1
    return stages
