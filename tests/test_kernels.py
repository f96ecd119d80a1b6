"""Each Numba kernel equals its NumPy reference, on random shapes and edge cases."""
import numpy as np
import pytest

from scratchnet.core.kernels import jit, reference

# (N, C, H, W, KH, KW, stride, pad): batch 1, odd sizes, stride > 1, padding, non-square kernels
CONV_CASES = [
    (2, 1, 28, 28, 3, 3, 1, 0),
    (1, 3, 7, 5, 3, 3, 1, 1),
    (3, 2, 9, 9, 3, 3, 2, 0),
    (2, 2, 8, 11, 2, 3, 2, 1),
    (1, 4, 6, 6, 1, 1, 1, 0),
    (2, 3, 10, 7, 5, 2, 3, 2),
    (1, 1, 3, 3, 3, 3, 1, 0),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_matches_reference(case, dtype):
    N, C, H, W, kh, kw, s, p = case
    x = np.random.default_rng(sum(case)).standard_normal((N, C, H, W)).astype(dtype)
    expected = reference.im2col(x, kh, kw, s, p)
    got = jit.im2col(x, kh, kw, s, p)
    assert got.dtype == dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_matches_reference(case, dtype):
    N, C, H, W, kh, kw, s, p = case
    rng = np.random.default_rng(sum(case) + 1)
    K, L = C * kh * kw, reference.conv_output_size(H, kh, s, p) * reference.conv_output_size(W, kw, s, p)
    cols = rng.standard_normal((N, K, L)).astype(dtype)
    expected = reference.col2im(cols, (N, C, H, W), kh, kw, s, p)
    got = jit.col2im(cols, (N, C, H, W), kh, kw, s, p)
    assert got.shape == (N, C, H, W)
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_is_the_adjoint_of_im2col(case):
    # <im2col(x), c> == <x, col2im(c)> for every x, c: col2im is exactly im2col's transpose,
    # which is what makes it the correct backward pass (overlaps must be summed).
    N, C, H, W, kh, kw, s, p = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W))
    cols = rng.standard_normal(reference.im2col(x, kh, kw, s, p).shape)
    lhs = np.sum(reference.im2col(x, kh, kw, s, p) * cols)
    rhs = np.sum(x * reference.col2im(cols, x.shape, kh, kw, s, p))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_im2col_reference_by_hand():
    # 1 image, 1 channel, 3x3 input, 2x2 kernel: 4 patches of 4 pixels, one per column
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = reference.im2col(x, 2, 2, 1, 0)[0]
    np.testing.assert_array_equal(cols[:, 0], [0, 1, 3, 4])   # top-left patch
    np.testing.assert_array_equal(cols[:, 3], [4, 5, 7, 8])   # bottom-right patch


POOL_CASES = [(2, 3, 26, 26, 2, 2), (1, 2, 7, 9, 2, 2), (2, 1, 9, 9, 3, 2), (1, 2, 5, 5, 3, 3),
              (3, 2, 6, 7, 2, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_maxpool_matches_reference(case, dtype):
    N, C, H, W, size, stride = case
    rng = np.random.default_rng(sum(case))
    # integers in a small range: plenty of exact ties, so the tie rule is compared too
    x = rng.integers(0, 4, size=(N, C, H, W)).astype(dtype)
    out_r, arg_r = reference.maxpool_forward(x, size, stride)
    out_j, arg_j = jit.maxpool_forward(x, size, stride)
    np.testing.assert_array_equal(out_j, out_r)
    np.testing.assert_array_equal(arg_j, arg_r)
    dout = rng.standard_normal(out_r.shape).astype(dtype)
    np.testing.assert_allclose(jit.maxpool_backward(dout, arg_j, x.shape, size, stride),
                               reference.maxpool_backward(dout, arg_r, x.shape, size, stride),
                               rtol=1e-5, atol=1e-6)  # overlapping windows: float32 sum order


def test_maxpool_tie_rule_first_in_row_major_order_wins():
    x = np.array([[[[1.0, 5.0, 2.0, 2.0],
                    [5.0, 5.0, 2.0, 2.0]]]])
    for k in (reference, jit):
        out, argmax = k.maxpool_forward(x, 2, 2)
        np.testing.assert_array_equal(out, [[[[5.0, 2.0]]]])
        np.testing.assert_array_equal(argmax, [[[[1, 0]]]])  # (0,1) beats (1,0),(1,1); (0,0) of 4 ties
        dx = k.maxpool_backward(np.array([[[[10.0, 20.0]]]]), argmax, x.shape, 2, 2)
        np.testing.assert_array_equal(dx, [[[[0, 10, 20, 0],
                                             [0, 0, 0, 0]]]])


def test_maxpool_odd_sizes_floor_like_keras_valid():
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 5))
    out, _ = reference.maxpool_forward(x, 2, 2)
    assert out.shape == (1, 1, 3, 2)  # the last row and column are dropped
    np.testing.assert_array_equal(out[0, 0, 2, 1], x[0, 0, 4:6, 2:4].max())


# (N, C, H, W, F, KH, KW, stride, pad, pool size, pool stride)
FUSED_CASES = [
    (3, 1, 28, 28, 4, 3, 3, 1, 0, 2, 2),   # the reference network's first block
    (2, 3, 9, 8, 2, 3, 3, 1, 1, 2, 2),
    (1, 2, 11, 11, 3, 3, 2, 2, 1, 3, 2),
    (2, 1, 7, 7, 2, 2, 2, 1, 0, 2, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", FUSED_CASES)
def test_fused_conv_relu_pool_matches_reference(case, dtype):
    N, C, H, W, F, kh, kw, s, p, size, ps = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x[0, 0, :3, :3] = 0  # an all-zero patch: conv = bias exactly, ties inside windows
    Wt = rng.standard_normal((F, C, kh, kw)).astype(dtype)
    b = (rng.standard_normal(F) * 0.1).astype(dtype)
    out_r, arg_r = reference.conv_relu_pool_forward(x, Wt, b, s, p, size, ps)
    out_j, arg_j = jit.conv_relu_pool_forward(x, Wt, b, s, p, size, ps)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_j, out_r, **tol)
    assert (arg_j == arg_r).mean() > 0.99  # float32 sum order can flip a near-tie, rarely
    dout = rng.standard_normal(out_r.shape).astype(dtype)
    grads_r = reference.conv_relu_pool_backward(dout, arg_r, out_r, x, Wt, s, p, size, ps, True)
    grads_j = jit.conv_relu_pool_backward(dout, arg_r, out_r, x, Wt, s, p, size, ps, True)
    for g_j, g_r in zip(grads_j, grads_r):
        np.testing.assert_allclose(g_j, g_r, **tol)
    # without dx the kernel takes other paths (the 3x3 single-pass dW): check them too
    dW_j, db_j, dx_j = jit.conv_relu_pool_backward(dout, arg_r, out_r, x, Wt, s, p, size, ps, False)
    assert dx_j is None
    np.testing.assert_allclose(dW_j, grads_r[0], **tol)
    np.testing.assert_allclose(db_j, grads_r[1], **tol)


def test_fused_block_equals_the_three_layers():
    from scratchnet import softmax_cross_entropy
    from scratchnet.core.networks import mnist_cnn
    fused, plain = mnist_cnn(seed=2).astype(np.float64), mnist_cnn(seed=2).astype(np.float64)
    plain.fuse = False
    assert len(fused.stages()) == 5 and len(plain.stages()) == 7
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 1, 28, 28)), rng.integers(0, 10, 4)
    for model in (fused, plain):
        _, d = softmax_cross_entropy(model.forward(x), y)
        model.backward(d)
    np.testing.assert_allclose(fused.forward(x), plain.forward(x), rtol=1e-12)
    for key in fused.gradients():
        np.testing.assert_allclose(fused.gradients()[key], plain.gradients()[key], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_momentum_matches_reference(dtype):
    rng = np.random.default_rng(0)
    w, v, g = (rng.standard_normal((7, 5)).astype(dtype) for _ in range(3))
    w2, v2 = w.copy(), v.copy()
    reference.sgd_momentum(w, v, g, 0.01, 0.9)
    jit.sgd_momentum(w2, v2, g, 0.01, 0.9)
    np.testing.assert_allclose(w2, w, rtol=1e-6)
    np.testing.assert_allclose(v2, v, rtol=1e-5, atol=1e-7)
