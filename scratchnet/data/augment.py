"""Data augmentation: every training image gets its own random distortion, modelling how
people's handwriting differs from MNIST's: where the digit sits and how big it is, its
slant, its proportions, wobbly strokes, and pen thickness.

Per image, all drawn from one seeded generator:
    rotate     rotation, uniform in [-rotate, +rotate] degrees
    scale      size, uniform in [1 - scale, 1 + scale]
    shift      position, uniform in [-shift, +shift] pixels, x and y independently
    shear      slant (x moves with y), uniform in [-shear, +shear] degrees
    aspect     width/height, x stretched by (1 + a), y by 1 / (1 + a), a in [-aspect, +aspect]
    elastic    wobble: each point of a 4x4 grid over the image moves by up to `elastic`
               pixels, the displacement interpolated in between (a smooth field, after
               Simard et al. 2003)
    thickness  pen: the image moves toward its 3x3 grey dilation (thicker strokes) or
               erosion (thinner) by a fraction in [-thickness, +thickness]

The geometric ones compose into one inverse affine map M and a displacement grid D, applied
by `warp` (bilinear sampling; from outside the image comes 0, the background); `thicken`
follows. Both are written twice: here in NumPy (the reference) and in augment_jit.py with
Numba (what training runs), tested equal.
"""
import sys
from dataclasses import asdict, dataclass

import numpy as np

GRID = 4   # control points per side of the elastic displacement grid


@dataclass(frozen=True)
class Augmentation:
    """How strong each random distortion is (0 switches it off); see the module docstring."""
    rotate: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    shear: float = 0.0
    aspect: float = 0.0
    elastic: float = 0.0
    thickness: float = 0.0

    def only(self, name):
        """This augmentation with every distortion but `name` switched off (for ablations)."""
        return Augmentation(**{name: getattr(self, name)})

    def describe(self):
        return ", ".join(f"{k} {v:g}" for k, v in asdict(self).items() if v) or "none"


AFFINE = Augmentation(rotate=10, scale=0.10, shift=2)     # the first --augment (until 0.2)


def random_parameters(n, rng, aug):
    """Per-image parameters: M (n, 2, 3) inverse affine maps about the image centre (output
    pixel (y, x) samples the input at M @ (y - cy, x - cx, 1) + (cy, cx)), D (n, 2, GRID,
    GRID) elastic displacements in pixels, t (n,) thickness changes in [-1, 1]."""
    angle = np.deg2rad(rng.uniform(-aug.rotate, aug.rotate, n))
    scale = rng.uniform(1 - aug.scale, 1 + aug.scale, n)
    shift = rng.uniform(-aug.shift, aug.shift, (n, 2))
    shear = np.tan(np.deg2rad(rng.uniform(-aug.shear, aug.shear, n)))
    stretch = 1 + rng.uniform(-aug.aspect, aug.aspect, n)
    D = rng.uniform(-aug.elastic, aug.elastic, (n, 2, GRID, GRID))
    t = rng.uniform(-aug.thickness, aug.thickness, n)
    # forward map (y, x) -> A (y, x) + shift with A = rotation * scale * shear * aspect; the
    # warp needs the inverse: source = A^-1 (output - shift)
    cos, sin = np.cos(angle), np.sin(angle)
    A = np.empty((n, 2, 2))
    A[:, 0, 0], A[:, 0, 1] = cos, -sin
    A[:, 1, 0], A[:, 1, 1] = sin, cos
    S = np.zeros((n, 2, 2))
    S[:, 0, 0] = scale / stretch                      # rows (y)
    S[:, 1, 1] = scale * stretch                      # columns (x)
    S[:, 1, 0] = scale * stretch * shear              # x moves with y: a slant
    F = A @ S
    det = F[:, 0, 0] * F[:, 1, 1] - F[:, 0, 1] * F[:, 1, 0]
    M = np.empty((n, 2, 3))                           # the 2x2 inverse, written out
    M[:, 0, 0], M[:, 0, 1] = F[:, 1, 1] / det, -F[:, 0, 1] / det
    M[:, 1, 0], M[:, 1, 1] = -F[:, 1, 0] / det, F[:, 0, 0] / det
    M[:, 0, 2] = -(M[:, 0, 0] * shift[:, 0] + M[:, 0, 1] * shift[:, 1])
    M[:, 1, 2] = -(M[:, 1, 0] * shift[:, 0] + M[:, 1, 1] * shift[:, 1])
    return M, D, t


class Augmenter:
    """A seeded batch transform for `fit(..., augment=...)`: x (N, 1, H, W) -> same shape,
    written into an array reused from batch to batch.

    backend "jit" runs the Numba twins (augment_jit.py), "reference" the NumPy functions here.
    """

    BLOCK = 4096   # images whose parameters are drawn at once (a third of the cost per batch)

    def __init__(self, augmentation=AFFINE, seed=0, backend="jit"):
        self.augmentation, self.backend = augmentation, backend
        self.rng = np.random.default_rng(seed)
        self._out = None
        self._drawn, self._used = None, 0      # parameters drawn ahead, and how many are used

    def __call__(self, x):
        M, D, t = (p.astype(x.dtype) for p in self.parameters(len(x)))
        if self._out is None or self._out.shape != x.shape or self._out.dtype != x.dtype:
            self._out = np.empty_like(x)
        ops = operations(self.backend)
        warped = ops.warp(x[:, 0], M, D, self._out[:, 0])
        ops.thicken(warped, t, warped)
        return self._out

    def parameters(self, n):
        """The next n images' (M, D, t), as random_parameters draws them BLOCK images at a
        time: the sequence depends only on the seed, never on the batch sizes asked for."""
        while self._drawn is None or self._used + n > len(self._drawn[2]):
            block = random_parameters(self.BLOCK, self.rng, self.augmentation)
            if self._drawn is not None:                   # what is left of the last block first
                block = tuple(np.concatenate([old[self._used:], new]) for old, new in zip(self._drawn, block))
            self._drawn, self._used = block, 0
        taken = tuple(p[self._used:self._used + n] for p in self._drawn)
        self._used += n
        return taken


def operations(backend):
    """The module whose functions do the work: augment_jit ("jit") or this one ("reference")."""
    if backend == "jit":
        from . import augment_jit
        return augment_jit
    if backend == "reference":
        return sys.modules[__name__]
    raise ValueError(f"unknown back end {backend!r}: use 'jit' or 'reference'")


def sample_grid(images, sy, sx):
    """Bilinear samples of images (N, H, W) at float positions sy, sx (N, H, W); 0 outside."""
    N, H, W = images.shape
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = sy - y0, sx - x0
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2)))   # reads just outside the image get 0
    flat = padded.reshape(N, -1)

    def at(y, x):
        y, x = np.clip(y + 1, 0, H + 2), np.clip(x + 1, 0, W + 2)   # far outside -> a 0 border
        return np.take_along_axis(flat, (y * (W + 3) + x).reshape(N, -1), axis=1).reshape(N, H, W)

    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
            + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))


def elastic_field(D, H, W):
    """D (N, 2, G, G) control-point displacements -> (N, 2, H, W), bilinear in between (the
    grid's corners sit on the image's corners)."""
    G = D.shape[-1]
    gy = np.arange(H) * (G - 1) / (H - 1)
    gx = np.arange(W) * (G - 1) / (W - 1)
    iy, ix = np.minimum(gy.astype(np.int64), G - 2), np.minimum(gx.astype(np.int64), G - 2)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    c = lambda a, b: D[:, :, iy + a][:, :, :, ix + b]   # noqa: E731  (N, 2, H, W)
    return (1 - fy) * ((1 - fx) * c(0, 0) + fx * c(0, 1)) + fy * ((1 - fx) * c(1, 0) + fx * c(1, 1))


def warp(images, M, D, out=None):
    """images (N, H, W) float, M (N, 2, 3) inverse affine maps about the centre, D (N, 2, G, G)
    elastic displacements -> (N, H, W): output (y, x) samples the input at
    M @ (y - cy, x - cx, 1) + (cy, cx) + displacement(y, x)."""
    N, H, W = images.shape
    cy, cx = (H - 1) / 2, (W - 1) / 2
    yy, xx = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")
    field = elastic_field(D, H, W)
    sy = M[:, 0, 0, None, None] * yy + M[:, 0, 1, None, None] * xx + M[:, 0, 2, None, None] + cy + field[:, 0]
    sx = M[:, 1, 0, None, None] * yy + M[:, 1, 1, None, None] * xx + M[:, 1, 2, None, None] + cx + field[:, 1]
    result = sample_grid(images, sy, sx).astype(images.dtype, copy=False)
    if out is None:
        return result
    out[...] = result
    return out


def thicken(images, t, out=None):
    """images (N, H, W), t (N,) in [-1, 1] -> images moved toward their 3x3 grey dilation
    (t > 0: thicker strokes) or erosion (t < 0: thinner) by |t|; outside the image is 0."""
    N, H, W = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    shifted = np.stack([padded[:, i:i + H, j:j + W] for i in range(3) for j in range(3)])
    target = np.where((t > 0)[:, None, None], shifted.max(axis=0), shifted.min(axis=0))
    result = (images + np.abs(t)[:, None, None] * (target - images)).astype(images.dtype, copy=False)
    if out is None:
        return result
    out[...] = result
    return out
