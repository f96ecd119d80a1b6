"""Numba twins of the augmentation operations in augment.py: same names, arguments and results
(tests/test_augment.py asserts that they agree)."""
import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _warp_affine(images, M, out):
    N, H, W = images.shape
    cy, cx = (H - 1) / 2, (W - 1) / 2
    for n in prange(N):
        for y in range(H):
            for x in range(W):
                sy = M[n, 0, 0] * (y - cy) + M[n, 0, 1] * (x - cx) + M[n, 0, 2] + cy
                sx = M[n, 1, 0] * (y - cy) + M[n, 1, 1] * (x - cx) + M[n, 1, 2] + cx
                y0, x0 = int(np.floor(sy)), int(np.floor(sx))
                fy, fx = sy - y0, sx - x0
                acc = 0.0
                for dy in range(2):
                    yy = y0 + dy
                    if yy < 0 or yy >= H:
                        continue
                    wy = fy if dy else 1 - fy
                    for dx in range(2):
                        xx = x0 + dx
                        if 0 <= xx < W:
                            acc += wy * (fx if dx else 1 - fx) * images[n, yy, xx]
                out[n, y, x] = acc


def warp_affine(images, M):
    """Same as reference.warp_affine."""
    out = np.empty_like(images)
    _warp_affine(np.ascontiguousarray(images), M, out)
    return out
