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
    f = images.dtype.type                                  # float32 throughout when training:
    cy, cx = f((H - 1) / 2), f((W - 1) / 2)                # (an int minus a float32 is a float64
    P = W + 2                                              #  in Numba, hence the f(y), f(x))
    padded = np.zeros((H + 2) * P, dtype=images.dtype)     # a border of background: no bounds tests
    ix = np.empty(W, dtype=np.int64)                       # each column's cell of the elastic grid
    fx = np.empty(W, dtype=images.dtype)
    xc = np.empty(W, dtype=images.dtype)                   # x - cx
    for x in range(W):
        g = f(x) * f((G - 1) / (W - 1))
        ix[x] = min(int(g), G - 2)
        fx[x] = g - f(ix[x])
        xc[x] = f(x) - cx
    row_dy = np.empty(G, dtype=images.dtype)
    row_dx = np.empty(G, dtype=images.dtype)
    sy = np.empty(W, dtype=images.dtype)                   # one row's source coordinates
    sx = np.empty(W, dtype=images.dtype)
    one, zero, top_y, top_x = f(1), f(0), f(H + 1), f(W + 1)
    for n in range(n0, n1):
        for y in range(H):                                 # (loops, not a slice assignment:
            for x in range(W):                             #  that cost Numba ~5 s to compile)
                padded[(y + 1) * P + 1 + x] = images[n, y, x]
        m00, m01, m02 = M[n, 0, 0], M[n, 0, 1], M[n, 0, 2] + cy + one   # (+1: the border)
        m10, m11, m12 = M[n, 1, 0], M[n, 1, 1], M[n, 1, 2] + cx + one
        for y in range(H):
            g = f(y) * f((G - 1) / (H - 1))
            iy = min(int(g), G - 2)
            fy = g - f(iy)
            for k in range(G):                             # the elastic grid, interpolated to row y
                row_dy[k] = (one - fy) * D[n, 0, iy, k] + fy * D[n, 0, iy + 1, k]
                row_dx[k] = (one - fy) * D[n, 1, iy, k] + fy * D[n, 1, iy + 1, k]
            yc = f(y) - cy
            by, bx = m00 * yc + m02, m10 * yc + m12
            for x in range(W):                             # where each output pixel samples ...
                k, w = ix[x], fx[x]
                a = by + m01 * xc[x] + (one - w) * row_dy[k] + w * row_dy[k + 1]
                b = bx + m11 * xc[x] + (one - w) * row_dx[k] + w * row_dx[k + 1]
                sy[x] = min(max(a, zero), top_y)           # far outside: the zero border
                sx[x] = min(max(b, zero), top_x)
            row = out[n, y]
            for x in range(W):                             # ... and the bilinear sample there
                y0, x0 = min(int(sy[x]), H), min(int(sx[x]), W)
                wy, wx = sy[x] - f(y0), sx[x] - f(x0)
                at = np.uint64(y0 * P + x0)                # unsigned: no negative-index checks
                row[x] = ((one - wy) * ((one - wx) * padded[at] + wx * padded[at + 1])
                          + wy * ((one - wx) * padded[at + P] + wx * padded[at + P + 1]))


def warp(images, M, D, out=None):
    """Same as augment.warp."""
    out = np.empty_like(images) if out is None else out
    team().run(_warp, (np.ascontiguousarray(images), M, D, out), split(len(images), team().size))
    return out


@njit(cache=True, nogil=True)
def _thicken(images, t, out, n0, n1):
    N, H, W = images.shape
    copy = np.zeros((H + 2, W + 2), dtype=images.dtype)   # zero border: outside is background
    rows = np.empty((H + 2, W), dtype=images.dtype)        # the 1x3 extreme of each row
    for n in range(n0, n1):
        for y in range(H):                                 # (out may be images: read a copy;
            for x in range(W):                             #  loops: a slice assignment cost
                copy[y + 1, x + 1] = images[n, y, x]       #  Numba ~6 s more compiling)
        amount = abs(t[n])
        # The 3x3 maximum as a 1x3 pass then a 3x1 pass of straight-line max() that the
        # compiler can vectorise; the minimum (thinning) is the same on -images:
        # min(a, b) = -max(-a, -b). (0.06-0.09 ms a batch of 64 on AMD EPYC Zen 3, within the
        # noise of a 9-tap loop with the choice inside.)
        sign = images.dtype.type(1 if t[n] > 0 else -1)
        for y in range(H + 2):
            for x in range(W):
                rows[y, x] = max(max(sign * copy[y, x], sign * copy[y, x + 1]), sign * copy[y, x + 2])
        for y in range(H):
            for x in range(W):
                best = sign * max(max(rows[y, x], rows[y + 1, x]), rows[y + 2, x])
                centre = copy[y + 1, x + 1]
                out[n, y, x] = centre + amount * (best - centre)


def thicken(images, t, out=None):
    """Same as augment.thicken."""
    out = np.empty_like(images) if out is None else out
    team().run(_thicken, (np.ascontiguousarray(images), t, out), split(len(images), team().size))
    return out
