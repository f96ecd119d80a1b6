"""The drawing's topology (data/topology.py): counts on pictures whose answer is known, and
the Numba twin equal to the NumPy reference."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnet.core import kernels
from scratchnet.data import topology, topology_jit

FEATURES = topology.FEATURES


def drawn(shapes):
    """A 28x28 float picture of PIL drawing calls (bright ink, 2 px wide)."""
    img = Image.new("L", (28, 28), 0)
    d = ImageDraw.Draw(img)
    for kind, xy in shapes:
        getattr(d, kind)(xy, **({"outline": 255, "width": 2} if kind in ("ellipse", "rectangle") else {"fill": 255, "width": 2}))
    return np.asarray(img, np.float32) / 255


def counts(picture):
    return dict(zip(FEATURES, topology.shape_features_reference(picture[None])[0]))


@pytest.mark.parametrize("shapes, pieces, holes, ends", [
    ([("line", [(14, 4), (14, 23)])], 1, 0, 2),                                   # a 1
    ([("ellipse", [6, 4, 21, 23])], 1, 1, 0),                                     # a 0
    ([("ellipse", [8, 3, 19, 12]), ("ellipse", [7, 12, 20, 24])], 1, 2, 0),       # an 8
    ([("line", [(6, 6), (21, 6)]), ("line", [(6, 13), (21, 13)]),
      ("line", [(6, 20), (21, 20)])], 3, 0, 6),                                   # a Xi: three bars
    ([("line", [(4, 14), (23, 14)]), ("line", [(14, 4), (14, 23)])], 1, 0, 4),    # a plus
])
def test_counts_of_drawings_with_known_answers(shapes, pieces, holes, ends):
    c = counts(drawn(shapes))
    assert (c["pieces"], c["holes"], c["ends"]) == (pieces, holes, ends), c


def test_the_euler_number_of_rings_and_dots():
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False
    assert topology.euler_number(ring) == 0                 # one piece, one hole
    dots = np.zeros((7, 7), bool)
    dots[1, 1] = dots[5, 5] = dots[3, 4] = True
    assert topology.euler_number(dots) == 3
    diagonal = np.eye(4, dtype=bool)                        # 8-connected: one piece
    assert topology.euler_number(diagonal) == 1


def test_a_cross_has_a_junction_and_an_empty_picture_counts_nothing():
    assert counts(drawn([("line", [(4, 14), (23, 14)]), ("line", [(14, 4), (14, 23)])]))["junctions"] >= 1
    assert not topology.shape_features_reference(np.zeros((1, 28, 28), np.float32)).any()


def test_jit_matches_reference(mnist):
    rng = np.random.default_rng(0)
    x = mnist.test_images[:300].astype(np.float32) / 255
    noise = (rng.random((60, 28, 28)) < rng.uniform(0.05, 0.5, (60, 1, 1))).astype(np.float32)
    x = np.concatenate([x, noise, np.zeros((2, 28, 28), np.float32), np.ones((2, 28, 28), np.float32)])
    expected = topology.shape_features_reference(x)
    np.testing.assert_array_equal(topology_jit.shape_features(x), expected)
    with kernels.using("jit"):                              # the dispatcher picks the twin
        np.testing.assert_array_equal(topology.shape_features(x), expected)
    with kernels.using("reference"):
        np.testing.assert_array_equal(topology.shape_features(x), expected)
