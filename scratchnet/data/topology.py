"""How a drawing is put together: its pieces, holes, stroke ends and junctions.

A digit is one or two pieces with at most two holes and a handful of stroke ends; a % is
three pieces, a scribble is all junctions, a Greek Xi three bars. Counting these tells a
digit from many non-digits whatever the pen, so the "not a digit" detector
(apps/openset.py) sees them beside the network's features.

On a 28x28 input x (ink where x > 0.5), per picture, FEATURES numbers:

  pieces     8-connected pieces of ink
  holes      pieces minus the Euler number (Gray's 2x2 bit quads: (Q1 - Q3 - 2 QD) / 4)
  ends       skeleton pixels with one skeleton neighbour (strokes.skeleton: Zhang-Suen)
  junctions  skeleton pixels with three or more
  length     skeleton pixels
  area       ink pixels
  height     rows of the ink's box
  width      columns of the ink's box

This module is the NumPy reference, one picture at a time; topology_jit.py is its Numba
twin for thousands of pictures (tests assert they agree). shape_features picks by the kernel
back end selected for the thread (core.kernels), as the layers do.
"""
import numpy as np

from .preprocess import _box, _components
from .strokes import _neighbours, skeleton

FEATURES = ("pieces", "holes", "ends", "junctions", "length", "area", "height", "width")
INK = 0.5


def euler_number(mask):
    """Pieces minus holes of an (H, W) bool mask, 8-connected ink: in every 2x2 window of the
    zero-padded mask, Q1 counts windows with one ink pixel, Q3 with three, QD with two on a
    diagonal; E = (Q1 - Q3 - 2 QD) / 4."""
    m = np.pad(mask, 1).astype(np.int8)
    a, b, c, d = m[:-1, :-1], m[:-1, 1:], m[1:, :-1], m[1:, 1:]
    count = a + b + c + d
    diagonal = (count == 2) & (a == d)
    return int(((count == 1).sum() - (count == 3).sum() - 2 * diagonal.sum()) // 4)


def features_of(mask):
    """(H, W) bool ink -> the FEATURES of one picture, float64 (zeros for no ink)."""
    if not mask.any():
        return np.zeros(len(FEATURES))
    labels = _components(mask)
    pieces = len(np.unique(labels[mask]))
    lines = skeleton(mask)
    neighbours = sum(_neighbours(lines.astype(np.uint8)))
    top, bottom, left, right = _box(mask)
    return np.array([pieces, pieces - euler_number(mask),
                     (lines & (neighbours == 1)).sum(), (lines & (neighbours >= 3)).sum(),
                     lines.sum(), mask.sum(), bottom - top, right - left], float)


def shape_features_reference(images):
    """(N, H, W) float -> (N, len(FEATURES)) float32, one picture at a time."""
    out = np.zeros((len(images), len(FEATURES)), np.float32)
    for n, image in enumerate(images):
        out[n] = features_of(image > INK)
    return out


def shape_features(images):
    """(N, H, W) float -> (N, len(FEATURES)) float32: the Numba twin when the thread's kernel
    back end is "jit" and there are many pictures, else the reference (no Numba import for a
    few pictures: predict.py's cold start)."""
    from ..core import kernels
    if kernels.selected() == "jit" and len(images) > 64:
        from .topology_jit import shape_features as compiled
        return compiled(images)
    return shape_features_reference(images)
