"""Augmentation: each distortion by hand on the NumPy reference, the Numba twins equal to it,
and the Augmenter seeded."""
import numpy as np
import pytest

from scratchnet.data import augment as reference
from scratchnet.data import augment_jit as jit
from scratchnet.apps.recipes import AUGMENTED
from scratchnet.data.augment import AFFINE, GRID, Augmentation, Augmenter, random_parameters

RECIPE = Augmentation(**AUGMENTED.augmentation)

BACKENDS = pytest.mark.parametrize("ops", [reference, jit], ids=["reference", "jit"])


def identity(n):
    M = np.zeros((n, 2, 3))
    M[:, 0, 0] = M[:, 1, 1] = 1
    return M, np.zeros((n, 2, GRID, GRID))


@BACKENDS
def test_no_distortion_leaves_images_unchanged(ops):
    x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    M, D = random_parameters(3, np.random.default_rng(1), Augmentation())[:2]
    np.testing.assert_allclose(ops.warp(x, M.astype(np.float32), D.astype(np.float32)), x, atol=1e-6)
    np.testing.assert_allclose(ops.thicken(x, np.zeros(3, np.float32)), x)


@BACKENDS
def test_integer_shift_moves_the_digit_by_that_many_pixels(ops):
    x = np.zeros((1, 28, 28))
    x[0, 10, 12] = 1
    M, D = identity(1)
    M[0, :, 2] = [-2, 1]          # inverse map: output (y, x) reads (y - 2, x + 1)
    out = ops.warp(x, M, D)
    assert out[0, 12, 11] == 1 and out.sum() == 1


@BACKENDS
def test_rotation_by_180_degrees_flips_the_image(ops):
    x = np.random.default_rng(0).random((1, 28, 28))
    M, D = identity(1)
    M[0, 0, 0] = M[0, 1, 1] = -1
    np.testing.assert_allclose(ops.warp(x, M, D), x[:, ::-1, ::-1], atol=1e-12)


@BACKENDS
def test_a_uniform_elastic_displacement_is_a_shift(ops):
    x = np.random.default_rng(0).random((1, 28, 28))
    M, D = identity(1)
    D[0, 0] = 1.0                 # every control point reads one row further down
    np.testing.assert_allclose(ops.warp(x, M, D)[0, :-1], x[0, 1:], atol=1e-12)


def test_shear_slants_and_aspect_widens():
    x = np.zeros((1, 28, 28))
    x[0, 4:24, 13:15] = 1                                       # a vertical bar
    rng = np.random.default_rng(0)
    slanted = reference.warp(x, *random_parameters(1, rng, Augmentation(shear=20))[:2])[0]
    top, bottom = (np.average(np.arange(28), weights=slanted[r]) for r in (6, 21))
    assert abs(top - bottom) > 2                                 # its columns drift with the rows
    wide = Augmentation(aspect=0.4)
    widths = []
    for seed in range(20):
        out = reference.warp(x, *random_parameters(1, np.random.default_rng(seed), wide)[:2])[0]
        widths.append(out[14].sum())                             # the bar's ink in one row
    assert max(widths) > 2.4 and min(widths) < 1.6               # wider or narrower than 2 px


@BACKENDS
def test_thickness_dilates_and_erodes(ops):
    x = np.zeros((2, 28, 28))
    x[:, 10:18, 13:15] = 1
    out = ops.thicken(x, np.array([1.0, -1.0]))
    assert out[0].sum() == (10 * 4)                              # one pixel more on every side
    assert out[1].sum() == 0                                     # a 2-pixel stroke erodes away
    half = ops.thicken(x, np.array([0.5, 0.0]))
    np.testing.assert_allclose(half[0], x[0] + 0.5 * (out[0] - x[0]))
    np.testing.assert_array_equal(half[1], x[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("aug", [RECIPE, AFFINE, Augmentation(elastic=3), Augmentation(thickness=1)],
                         ids=["recipe", "affine", "elastic", "thickness"])
def test_jit_matches_reference(aug, dtype):
    rng = np.random.default_rng(0)
    x = rng.random((9, 28, 28)).astype(dtype)
    M, D, t = (a.astype(dtype) for a in random_parameters(9, rng, aug))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jit.warp(x, M, D), reference.warp(x, M, D), **tol)
    np.testing.assert_allclose(jit.thicken(x, t), reference.thicken(x, t), **tol)
    inplace = x.copy()
    jit.thicken(inplace, t, inplace)                             # in place, as the Augmenter does
    np.testing.assert_allclose(inplace, reference.thicken(x, t), **tol)


@pytest.mark.parametrize("backend", ["jit", "reference"])
def test_augmenter_is_seeded_and_keeps_shape_and_ink(backend):
    x = np.zeros((8, 1, 28, 28), np.float32)
    x[:, 0, 8:20, 12:16] = 1
    a, b = Augmenter(RECIPE, seed=3, backend=backend)(x).copy(), Augmenter(RECIPE, seed=3, backend=backend)(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and not np.array_equal(a, x)
    ratio = a.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert np.all((ratio > 0.4) & (ratio < 2.5))
    assert not np.array_equal(Augmenter(RECIPE, seed=4, backend=backend)(x), a)


def test_parameters_are_one_stream_whatever_the_batch_sizes():
    a, b = Augmenter(RECIPE, seed=5), Augmenter(RECIPE, seed=5)
    a.BLOCK = b.BLOCK = 100                     # several blocks; batches straddle their ends
    by_64 = [a.parameters(64) for _ in range(10)]
    mixed = [b.parameters(n) for n in (1, 63, 200, 5, 371)]
    for k in range(3):                          # M, D, t
        np.testing.assert_array_equal(np.concatenate([p[k] for p in by_64]),
                                      np.concatenate([p[k] for p in mixed]))
    first = random_parameters(100, np.random.default_rng(5), RECIPE)
    np.testing.assert_array_equal(by_64[0][2], first[2][:64])


def test_augmenter_reuses_its_output_array():
    aug = Augmenter(RECIPE, seed=0)
    x = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)
    assert aug(x) is aug(x)


def test_only_keeps_one_distortion():
    assert RECIPE.only("shear") == Augmentation(shear=RECIPE.shear)
    assert f"elastic {RECIPE.elastic:g}" in RECIPE.describe() and "rotate" in RECIPE.describe()
