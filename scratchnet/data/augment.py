"""Data augmentation: random small shifts, rotations and scalings of each training image.

Each image of a batch gets its own random affine map (about the image centre):
    rotation   uniform in [-max_degrees, +max_degrees]
    scale      uniform in [1 - max_scale, 1 + max_scale]
    shift      uniform in [-max_shift, +max_shift] pixels, x and y independently
applied by inverse mapping with bilinear interpolation (pixels from outside are 0, the
MNIST background) by the `warp_affine` kernel (NumPy reference and Numba twin), so no image
library runs in the training loop. Seeded through the `rng` it is given.
"""
import sys

import numpy as np


def random_affine(n, rng, max_degrees=10.0, max_scale=0.10, max_shift=2.0):
    """(n, 2, 3) inverse affine maps: output pixel (y, x) samples input at M @ (y, x, 1)."""
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, n))
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale   # inverse rotation and scale
    M = np.empty((n, 2, 3))
    M[:, 0, 0], M[:, 0, 1] = cos, -sin
    M[:, 1, 0], M[:, 1, 1] = sin, cos
    M[:, :, 2] = -shift  # inverse of the shift; the centre is handled in warp_affine
    return M


class Augmenter:
    """A seeded batch transform for `fit(..., augment=...)`: x (N, 1, H, W) -> same shape.

    backend "jit" runs the Numba twins (augment_jit.py), "reference" the NumPy functions here.
    """

    def __init__(self, seed=0, max_degrees=10.0, max_scale=0.10, max_shift=2.0, backend="jit"):
        self.rng = np.random.default_rng(seed)
        self.limits = (max_degrees, max_scale, max_shift)
        self.backend = backend

    def __call__(self, x):
        M = random_affine(len(x), self.rng, *self.limits)
        return operations(self.backend).warp_affine(x[:, 0], M.astype(x.dtype))[:, None]


def operations(backend):
    """The module whose functions do the work: augment_jit ("jit") or this one ("reference")."""
    if backend == "jit":
        from . import augment_jit
        return augment_jit
    if backend == "reference":
        return sys.modules[__name__]
    raise ValueError(f"unknown back end {backend!r}: use 'jit' or 'reference'")


def warp_affine(images, M):
    """images (N, H, W) float, M (N, 2, 3) inverse maps about the centre -> (N, H, W)."""
    N, H, W = images.shape
    cy, cx = (H - 1) / 2, (W - 1) / 2
    yy, xx = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")
    grid = np.stack([yy.ravel(), xx.ravel(), np.ones(H * W)])               # (3, H*W)
    src = M @ grid                                                          # (N, 2, H*W)
    sy, sx = src[:, 0] + cy, src[:, 1] + cx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0).astype(images.dtype), (sx - x0).astype(images.dtype)
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2)))   # reads just outside the image get 0
    flat = padded.reshape(N, -1)
    pw = W + 3

    def at(y, x):
        y, x = np.clip(y + 1, 0, H + 2), np.clip(x + 1, 0, W + 2)   # far outside -> a 0 border
        return np.take_along_axis(flat, y * pw + x, axis=1)

    out = ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
           + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))
    return out.reshape(N, H, W).astype(images.dtype, copy=False)
