"""Fused blocks: several layers computed by one kernel, sharing the layers' parameters.

Sequential runs Conv2D -> ReLU -> MaxPool2D as one ConvReLUPool block: one pass over the
input instead of three, no im2col matrix, no (N, F, OH, OW) activations kept for backward.
The maths is exactly the three layers' (the tests compare both, and the model-level
gradient check runs through the fused path); the separate layers stay the readable version.
"""
from . import kernels
from .layers import Conv2D, MaxPool2D, ReLU


class ConvReLUPool:
    """x: (N, C, H, W) -> maxpool(relu(conv(x))): (N, F, PH, PW).

    Cache: x, the pooled output (its sign is the ReLU mask at each winner) and argmax.
    Gradients are written into the Conv2D layer's grads.
    """

    def __init__(self, conv, relu, pool):
        self.conv, self.relu, self.pool = conv, relu, pool

    def forward(self, x):
        c, p = self.conv, self.pool
        out, argmax = kernels.active().conv_relu_pool_forward(
            x, c.params["W"], c.params["b"], c.stride, c.padding, p.size, p.stride)
        self.cache = (x, out, argmax)
        return out

    def backward(self, dout, need_dx=True):
        x, out, argmax = self.cache
        c, p = self.conv, self.pool
        dw, db, dx = kernels.active().conv_relu_pool_backward(
            dout, argmax, out, x, c.params["W"], c.stride, c.padding, p.size, p.stride,
            need_dx)
        c.grads["W"][...] = dw
        c.grads["b"][...] = db
        return dx


PATTERNS = [((Conv2D, ReLU, MaxPool2D), ConvReLUPool)]


def plan(layers):
    """Group `layers` into stages: fused blocks where a pattern matches, else single layers."""
    stages, i = [], 0
    while i < len(layers):
        for types, block in PATTERNS:
            window = layers[i:i + len(types)]
            if len(window) == len(types) and all(type(l) is t for l, t in zip(window, types)):
                stages.append(block(*window))
                i += len(types)
                break
        else:
            stages.append(layers[i])
            i += 1
    return stages
