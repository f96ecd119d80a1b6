"""Numba twins of the augmentation operations in augment.py: same names, arguments and
results (tests/test_augment.py asserts that they agree). Run on the kernel team's threads,
a chunk of images each."""
import numpy as np
from numba import njit

from ..core.kernels.jit import split, team


@njit(cache=True, nogil=True, fastmath=True)
def _warp(images, M, D, out, n0, n1):
    N, H, W = images.shape
    G = D.shape[2]
    f = images.dtype.type                                  # float32 throughout when training
    cy, cx = f((H - 1) / 2), f((W - 1) / 2)
    P = W + 2                                              # a border of background: no bounds tests
    padded = np.zeros((H + 2) * P, dtype=images.dtype)
    ix = np.empty(W, dtype=np.int64)                       # each column's cell of the elastic grid
    fx = np.empty(W, dtype=images.dtype)
    for x in range(W):
        g = x * f((G - 1) / (W - 1))
        ix[x] = min(int(g), G - 2)
        fx[x] = g - ix[x]
    row_dy = np.empty(G, dtype=images.dtype)
    row_dx = np.empty(G, dtype=images.dtype)
    one, top_y, top_x = f(1), f(H + 1), f(W + 1)
    for n in range(n0, n1):
        for y in range(H):
            padded[(y + 1) * P + 1:(y + 1) * P + 1 + W] = images[n, y]
        m00, m01, m02 = M[n, 0, 0], M[n, 0, 1], M[n, 0, 2] + cy + one   # (+1: the border)
        m10, m11, m12 = M[n, 1, 0], M[n, 1, 1], M[n, 1, 2] + cx + one
        for y in range(H):
            g = y * f((G - 1) / (H - 1))
            iy = min(int(g), G - 2)
            fy = g - iy
            for k in range(G):                             # the elastic grid, interpolated to row y
                row_dy[k] = (one - fy) * D[n, 0, iy, k] + fy * D[n, 0, iy + 1, k]
                row_dx[k] = (one - fy) * D[n, 1, iy, k] + fy * D[n, 1, iy + 1, k]
            for x in range(W):
                k, w = ix[x], fx[x]
                sy = m00 * (y - cy) + m01 * (x - cx) + m02 + (one - w) * row_dy[k] + w * row_dy[k + 1]
                sx = m10 * (y - cy) + m11 * (x - cx) + m12 + (one - w) * row_dx[k] + w * row_dx[k + 1]
                sy = min(max(sy, f(0)), top_y)             # far outside: the zero border
                sx = min(max(sx, f(0)), top_x)
                y0, x0 = min(int(sy), H), min(int(sx), W)
                wy, wx = sy - y0, sx - x0
                at = np.uint64(y0 * P + x0)                # unsigned: no negative-index checks
                out[n, y, x] = ((one - wy) * ((one - wx) * padded[at] + wx * padded[at + 1])
                                + wy * ((one - wx) * padded[at + P] + wx * padded[at + P + 1]))


def warp(images, M, D, out=None):
    """Same as augment.warp."""
    out = np.empty_like(images) if out is None else out
    team().run(_warp, (np.ascontiguousarray(images), M, D, out), split(len(images), team().size))
    return out


@njit(cache=True, nogil=True)
def _thicken(images, t, out, n0, n1):
    N, H, W = images.shape
    copy = np.empty((H + 2, W + 2), dtype=images.dtype)    # zero border: outside is background
    for n in range(n0, n1):
        copy[:] = 0
        copy[1:H + 1, 1:W + 1] = images[n]                # (out may be images: read a copy)
        amount, thicker = abs(t[n]), t[n] > 0
        for y in range(H):
            for x in range(W):
                best = copy[y, x]                          # the 3x3 maximum (or minimum)
                for i in range(3):
                    for j in range(3):
                        v = copy[y + i, x + j]
                        best = max(best, v) if thicker else min(best, v)
                centre = copy[y + 1, x + 1]
                out[n, y, x] = centre + amount * (best - centre)


def thicken(images, t, out=None):
    """Same as augment.thicken."""
    out = np.empty_like(images) if out is None else out
    team().run(_thicken, (np.ascontiguousarray(images), t, out), split(len(images), team().size))
    return out
