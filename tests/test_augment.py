"""Augmentation: each operation's NumPy reference by hand, and its Numba twin equal to it."""
import numpy as np
import pytest

from scratchnet.data import augment as reference
from scratchnet.data import augment_jit as jit
from scratchnet.data.augment import Augmenter, random_affine


def test_identity_map_leaves_images_unchanged():
    x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    M = random_affine(3, np.random.default_rng(1), max_degrees=0, max_scale=0, max_shift=0)
    np.testing.assert_allclose(reference.warp_affine(x, M), x, atol=1e-6)


def test_integer_shift_moves_the_digit_by_that_many_pixels():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 10, 12] = 1
    M = np.array([[[1.0, 0, -2], [0, 1.0, 1]]])   # inverse map: output (y, x) reads (y-2, x+1)
    out = reference.warp_affine(x, M)
    assert out[0, 12, 11] == 1 and out.sum() == 1


def test_rotation_by_180_degrees_flips_the_image():
    x = np.random.default_rng(0).random((1, 28, 28))
    M = np.array([[[-1.0, 0, 0], [0, -1.0, 0]]])
    np.testing.assert_allclose(reference.warp_affine(x, M), x[:, ::-1, ::-1], atol=1e-12)


def test_augmenter_is_seeded_and_keeps_shape_and_ink():
    x = np.zeros((8, 1, 28, 28), np.float32)
    x[:, 0, 8:20, 12:16] = 1
    a, b = Augmenter(seed=3)(x), Augmenter(seed=3)(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and not np.array_equal(a, x)
    ratio = a.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert np.all((ratio > 0.75) & (ratio < 1.3))   # scale within ±10%: area within ±21%
    assert not np.array_equal(Augmenter(seed=4)(x), a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warp_affine_matches_reference(dtype):
    rng = np.random.default_rng(0)
    x = rng.random((5, 28, 28)).astype(dtype)
    M = random_affine(5, rng, max_degrees=30, max_scale=0.3, max_shift=8).astype(dtype)
    np.testing.assert_allclose(jit.warp_affine(x, M), reference.warp_affine(x, M), rtol=1e-5, atol=1e-6)
