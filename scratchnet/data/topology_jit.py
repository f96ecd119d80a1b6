"""Numba twin of topology.shape_features: same arguments and result (tests/test_topology.py
asserts that they agree). Run on the kernel team's threads, a chunk of pictures each."""
import numpy as np
from numba import njit

from ..core.kernels.jit import split, team
from .topology import FEATURES, INK

# the 8 neighbours (dy, dx), north first, clockwise: strokes._neighbours' order
DY = np.array([-1, -1, 0, 1, 1, 1, 0, -1])
DX = np.array([0, 1, 1, 1, 0, -1, -1, -1])


@njit(cache=True, nogil=True)
def _thin(m, H, W, DY, DX, peel):
    """Zhang-Suen on the zero-bordered (H+2, W+2) uint8 m, in place: strokes.skeleton's sweeps,
    each deciding from the picture as it was before the sweep."""
    P = np.empty(8, np.uint8)
    changed = True
    while changed:
        changed = False
        for sweep in range(2):
            k = 0
            for y in range(1, H + 1):
                for x in range(1, W + 1):
                    if m[y, x] == 0:
                        continue
                    count = 0
                    for i in range(8):
                        P[i] = m[y + DY[i], x + DX[i]]
                        count += P[i]
                    if count < 2 or count > 6:
                        continue
                    steps = 0
                    for i in range(8):
                        if P[i] == 0 and P[(i + 1) % 8] == 1:
                            steps += 1
                    if steps != 1:
                        continue
                    if sweep == 0:
                        facing = P[0] * P[2] * P[4] == 0 and P[2] * P[4] * P[6] == 0
                    else:
                        facing = P[0] * P[2] * P[6] == 0 and P[0] * P[4] * P[6] == 0
                    if facing:
                        peel[k, 0] = y
                        peel[k, 1] = x
                        k += 1
            for j in range(k):
                m[peel[j, 0], peel[j, 1]] = 0
            if k:
                changed = True


@njit(cache=True, nogil=True)
def _shape_features(images, out, DY, DX, n0, n1):
    N, H, W = images.shape
    ink = np.zeros((H + 2, W + 2), np.uint8)
    lines = np.zeros((H + 2, W + 2), np.uint8)
    seen = np.zeros((H + 2, W + 2), np.uint8)
    stack = np.empty((H * W, 2), np.int64)
    peel = np.empty((H * W, 2), np.int64)
    for n in range(n0, n1):
        area = 0
        top, bottom, left, right = H, -1, W, -1
        for y in range(H):
            for x in range(W):
                v = np.uint8(1) if images[n, y, x] > INK else np.uint8(0)
                ink[y + 1, x + 1] = v
                lines[y + 1, x + 1] = v
                seen[y + 1, x + 1] = 0
                if v:
                    area += 1
                    top, bottom = min(top, y), max(bottom, y)
                    left, right = min(left, x), max(right, x)
        for j in range(out.shape[1]):
            out[n, j] = 0
        if area == 0:
            continue
        pieces = 0                                      # 8-connected, by flood fill
        for y in range(1, H + 1):
            for x in range(1, W + 1):
                if ink[y, x] and not seen[y, x]:
                    pieces += 1
                    seen[y, x] = 1
                    stack[0, 0], stack[0, 1], top_of_stack = y, x, 1
                    while top_of_stack:
                        top_of_stack -= 1
                        cy, cx = stack[top_of_stack, 0], stack[top_of_stack, 1]
                        for i in range(8):
                            ny, nx = cy + DY[i], cx + DX[i]
                            if ink[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = 1
                                stack[top_of_stack, 0], stack[top_of_stack, 1] = ny, nx
                                top_of_stack += 1
        q1 = q3 = qd = 0                                # Gray's bit quads
        for y in range(H + 1):
            for x in range(W + 1):
                a, b, c, d = ink[y, x], ink[y, x + 1], ink[y + 1, x], ink[y + 1, x + 1]
                s = a + b + c + d
                if s == 1:
                    q1 += 1
                elif s == 3:
                    q3 += 1
                elif s == 2 and a == d:
                    qd += 1
        euler = (q1 - q3 - 2 * qd) // 4
        _thin(lines, H, W, DY, DX, peel)
        ends = junctions = length = 0
        for y in range(1, H + 1):
            for x in range(1, W + 1):
                if lines[y, x]:
                    length += 1
                    count = 0
                    for i in range(8):
                        count += lines[y + DY[i], x + DX[i]]
                    if count == 1:
                        ends += 1
                    elif count >= 3:
                        junctions += 1
        out[n, 0], out[n, 1], out[n, 2], out[n, 3] = pieces, pieces - euler, ends, junctions
        out[n, 4], out[n, 5] = length, area
        out[n, 6], out[n, 7] = bottom - top + 1, right - left + 1


def shape_features(images):
    """Same as topology.shape_features_reference."""
    images = np.ascontiguousarray(images)
    out = np.zeros((len(images), len(FEATURES)), np.float32)
    team().run(_shape_features, (images, out, DY, DX), split(len(images), team().size))
    return out
