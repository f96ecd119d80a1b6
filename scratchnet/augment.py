"""Data augmentation: random small shifts, rotations and scalings of each training image.

Each image of a batch gets its own random affine map (about the image centre):
    rotation   uniform in [-max_degrees, +max_degrees]
    scale      uniform in [1 - max_scale, 1 + max_scale]
    shift      uniform in [-max_shift, +max_shift] pixels, x and y independently
applied by inverse mapping with bilinear interpolation (pixels from outside are 0, the
MNIST background) by the `warp_affine` kernel (NumPy reference and Numba twin), so no image
library runs in the training loop. Seeded through the `rng` it is given.
"""
import numpy as np

from . import kernels


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
    """A seeded batch transform for `fit(..., augment=...)`: x (N, 1, H, W) -> same shape."""

    def __init__(self, seed=0, max_degrees=10.0, max_scale=0.10, max_shift=2.0):
        self.rng = np.random.default_rng(seed)
        self.limits = (max_degrees, max_scale, max_shift)

    def __call__(self, x):
        M = random_affine(len(x), self.rng, *self.limits)
        return kernels.active().warp_affine(x[:, 0], M.astype(x.dtype))[:, None]
