"""Each Numba kernel equals its NumPy reference, on random shapes and edge cases."""
import os
import subprocess
import sys

import numpy as np
import pytest

from scratchnet.core.kernels import jit, reference
from scratchnet.core.kernels.team import Team

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


# (N, C, H, W, F, KH, KW, pad, S): stride-1 conv, SxS pool with stride S
FUSED_CASES = [
    (3, 1, 28, 28, 4, 3, 3, 0, 2),    # the reference network's block: jit's unrolled kernel
    (2, 1, 9, 10, 5, 3, 3, 1, 2),     # the same kernel: odd sizes (the last row/column dropped)
    (2, 3, 9, 8, 2, 3, 3, 1, 2),      # several channels: the general kernels
    (1, 2, 11, 11, 3, 3, 2, 1, 3),    # non-square kernel, 3x3 pool
    (2, 1, 7, 7, 2, 2, 2, 0, 1),      # 1x1 "pool": conv + ReLU
    (2, 1, 8, 8, 3, 5, 5, 2, 2),      # 5x5 kernel, padding 2: jit's unrolled 5x5 kernel
    (3, 1, 28, 28, 6, 5, 5, 0, 2),    # the fast network's first block: the same kernel
    (2, 1, 11, 10, 3, 5, 5, 0, 2),    # the same kernel: odd sizes
]


def layer_by_layer(x, w, b, pad, S, dout):
    """The same block as three separate layers: output, (dw, db, dx)."""
    from scratchnet.core.layers import Conv2D, MaxPool2D, ReLU
    F, C, KH, KW = w.shape
    conv, relu, pool = Conv2D(C, F, (KH, KW), padding=pad).astype(x.dtype), ReLU(), MaxPool2D(S, S)
    conv.params["W"][...], conv.params["b"][...] = w, b
    out = pool.forward(relu.forward(conv.forward(x)))
    dx = conv.backward(relu.backward(pool.backward(dout)))
    return out.copy(), (conv.grads["W"].copy(), conv.grads["b"].copy(), dx.copy())


def assert_block_is_the_three_layers(make_block, case, backend):
    """make_block(w, b, pad, S), a fused Conv2D -> ReLU -> MaxPool2D block, computes in float64
    on `backend`'s kernels what the three layers compute: output, dW, db and dx."""
    from scratchnet.core import kernels
    x, w, b, pad, S, rng = fused_inputs(case, np.float64)
    fused = make_block(w, b, pad, S)
    with kernels.using(backend):
        out = fused.forward(x).copy()
        dout = rng.standard_normal(out.shape)
        dx = fused.backward(dout)
    out_l, (dw_l, db_l, dx_l) = layer_by_layer(x, w, b, pad, S, dout)
    assert out.shape == out_l.shape and dx.shape == x.shape
    np.testing.assert_allclose(out, out_l, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fused.grads["W"], dw_l, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused.grads["b"], db_l, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, dx_l, rtol=1e-10, atol=1e-12)


def fused_inputs(case, dtype):
    N, C, H, W, F, KH, KW, pad, S = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x[0, 0, :4, :4] = 0  # an all-zero patch: conv = bias exactly, ties inside windows
    w = rng.standard_normal((F, C, KH, KW)).astype(dtype)
    b = (rng.standard_normal(F) * 0.1).astype(dtype)
    return x, w, b, pad, S, rng


@pytest.mark.parametrize("case", FUSED_CASES)
def test_fused_reference_equals_the_three_layers(case):
    x, w, b, pad, S, rng = fused_inputs(case, np.float64)
    out, argmax, planes = reference.conv_relu_pool_forward(x, w, b, pad, S)
    dout = rng.standard_normal(out.shape)
    out_l, grads_l = layer_by_layer(x, w, b, pad, S, dout)
    np.testing.assert_allclose(out, out_l, rtol=1e-12, atol=1e-12)
    grads = reference.conv_relu_pool_backward(dout, argmax, planes, w, x.shape, pad, S, True)
    for name, g, g_l in zip(("dw", "db", "dx"), grads, grads_l):
        np.testing.assert_allclose(g, g_l, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("planes_by", ["one thread", "each thread its images"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", FUSED_CASES)
def test_fused_jit_matches_reference(case, dtype, planes_by, monkeypatch):
    # big batches have their phase planes filled by the team's threads: forced here for all
    monkeypatch.setattr(jit, "PARALLEL_PLANES", 0 if planes_by.startswith("each") else 1 << 62)
    x, w, b, pad, S, rng = fused_inputs(case, dtype)
    out_r, arg_r, planes_r = reference.conv_relu_pool_forward(x, w, b, pad, S)
    out_j, arg_j, planes_j = jit.conv_relu_pool_forward(x, w, b, pad, S)
    np.testing.assert_array_equal(planes_j, planes_r)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_j, out_r, **tol)
    assert (arg_j == arg_r).mean() > 0.99  # float32 sum order can flip a near-tie, rarely
    dout = rng.standard_normal(out_r.shape).astype(dtype)
    for need_dx in (True, False):
        grads_r = reference.conv_relu_pool_backward(dout, arg_r, planes_r, w, x.shape, pad, S, need_dx)
        grads_j = jit.conv_relu_pool_backward(dout, arg_r, planes_r, w, x.shape, pad, S, need_dx)
        assert (grads_j[2] is None) == (not need_dx)
        for g_j, g_r in zip(grads_j, grads_r):
            if g_r is not None:
                np.testing.assert_allclose(g_j, g_r, **tol)


@pytest.mark.parametrize("N", [1, 5, 8, 13, 64])
@pytest.mark.parametrize("case", [FUSED_CASES[0], FUSED_CASES[2], FUSED_CASES[6]])   # unrolled 3x3, general, 5x5
def test_fused_jit_weight_gradient_does_not_depend_on_the_thread_count(case, N, monkeypatch):
    # each thread sums whole parts of the batch; the parts, and the order they are added in,
    # are fixed (DW_PARTS), so one, two or three threads give bitwise the same gradient
    x, w, b, pad, S, rng = fused_inputs(case, np.float32)
    x = rng.standard_normal((N,) + x.shape[1:]).astype(np.float32)
    out, argmax, planes = reference.conv_relu_pool_forward(x, w, b, pad, S)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(jit, "_team", Team(threads))
        grads.append(jit.conv_relu_pool_backward(dout, argmax, planes, w, x.shape, pad, S, False)[:2])
    for dw, db in grads[1:]:
        np.testing.assert_array_equal(dw, grads[0][0])
        np.testing.assert_array_equal(db, grads[0][1])
    tol = dict(rtol=1e-4, atol=1e-4)
    expected = reference.conv_relu_pool_backward(dout, argmax, planes, w, x.shape, pad, S, False)
    np.testing.assert_allclose(grads[0][0], expected[0], **tol)
    np.testing.assert_allclose(grads[0][1], expected[1], **tol)


@pytest.mark.parametrize("wrong", ["planes of fewer images", "argmax of fewer images", "dout of another size"])
def test_fused_jit_backward_refuses_arrays_not_from_its_forward(wrong):
    # its kernels index planes, argmax and dout by the images and windows of x_shape without
    # bounds checks: any of them smaller would have been read past its end
    x, w, b, pad, S, rng = fused_inputs(FUSED_CASES[0], np.float32)
    out, argmax, planes = jit.conv_relu_pool_forward(x, w, b, pad, S)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    if wrong.startswith("planes"):
        planes = planes[:1].copy()
    elif wrong.startswith("argmax"):
        argmax = argmax[:1].copy()
    else:
        dout = dout[:, :, :-1].copy()
    with pytest.raises(ValueError, match="not those of a forward pass"):
        jit.conv_relu_pool_backward(dout, argmax, planes, w, x.shape, pad, S, True)


def test_fused_jit_fills_the_buffers_it_is_given():
    x, w, b, pad, S, rng = fused_inputs(FUSED_CASES[0], np.float32)
    out, argmax, planes = (np.full_like(a, 7) for a in jit.conv_relu_pool_forward(x, w, b, pad, S))
    got = jit.conv_relu_pool_forward(x, w, b, pad, S, out, argmax, planes)
    assert got[0] is out and got[1] is argmax and got[2] is planes
    np.testing.assert_allclose(out, reference.conv_relu_pool_forward(x, w, b, pad, S)[0], rtol=1e-5, atol=1e-5)


def test_phase_planes_by_hand():
    # one 6x6 image, 3x3 kernel, 2x2 pool: 2 pooled rows and columns, planes of 3 rows x 2
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    planes = reference.make_phase_planes(x, 3, 3, 0, 2)
    assert planes.shape == (1, 2, 2, 2, 1, 6)               # (N, rr, re, qe, C, rows*PW)
    np.testing.assert_array_equal(planes[0, 0, 0, 0, 0], [0, 2, 12, 14, 24, 26])  # even rows, cols 0, 2
    np.testing.assert_array_equal(planes[0, 0, 0, 1, 0], [2, 4, 14, 16, 26, 28])  # shifted one column
    np.testing.assert_array_equal(planes[0, 1, 1, 0, 0], [7, 9, 19, 21, 31, 33])  # odd rows, odd cols


def test_phase_planes_are_written_into_the_given_buffer_or_refused():
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    expected = reference.make_phase_planes(x, 3, 3, 0, 2)
    buffer = np.full_like(expected, np.nan)
    assert reference.make_phase_planes(x, 3, 3, 0, 2, buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)
    strided = np.empty((6,) + expected.shape[1:], np.float32)[::2]   # a reshape would copy it
    with pytest.raises(ValueError, match="C-contiguous"):
        reference.make_phase_planes(x, 3, 3, 0, 2, strided)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, C, H, W, KH, KW, pad", [
    (5, 1, 28, 28, 3, 3, 0),      # the reference network's input
    (3, 1, 9, 10, 3, 3, 1),       # odd height: planes rows past the image
    (2, 3, 8, 7, 3, 3, 1),        # odd width, several channels
    (2, 2, 8, 8, 5, 5, 2),        # three column shifts, padding 2
    (1, 1, 3, 3, 3, 3, 0),        # one window
    (2, 1, 6, 9, 2, 4, 3),        # padding wider than some planes' rows
])
def test_compiled_phase_planes_are_bitwise_numpys(N, C, H, W, KH, KW, pad, dtype):
    """jit._phase_planes_s2 is make_phase_planes (S = 2) compiled: an exact twin. Only images
    [n0, n1) are written."""
    x = np.random.default_rng(N + H).standard_normal((N, C, H, W)).astype(dtype)
    expected = reference.make_phase_planes(x, KH, KW, pad, 2)
    g = jit.phase_planes(H, W, KH, KW, pad, 2)
    planes = np.full_like(expected, np.nan)
    grid = planes.reshape(N, 2, 2, g.CS, C, g.rows, g.PW)
    jit._phase_planes_s2(x, pad, grid, 1, N)
    assert np.isnan(planes[0]).all()
    jit._phase_planes_s2(x, pad, grid, 0, 1)
    np.testing.assert_array_equal(planes, expected)


@pytest.mark.parametrize("backend", [reference, jit])
def test_fused_kernels_fill_the_given_buffers_or_refuse_them(backend):
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((4, 1, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    out, argmax, planes = reference.conv_relu_pool_forward(x, w, b, 0, 2)
    buffers = (np.empty_like(out), np.empty_like(argmax), np.empty_like(planes))
    got = backend.conv_relu_pool_forward(x, w, b, 0, 2, *buffers)
    assert all(g is given for g, given in zip(got, buffers))
    np.testing.assert_array_equal(buffers[2], planes)
    strided = np.empty((6,) + planes.shape[1:], np.float32)[::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        backend.conv_relu_pool_forward(x, w, b, 0, 2, buffers[0], buffers[1], strided)


@pytest.mark.parametrize("case", FUSED_CASES)
def test_unmake_phase_planes_is_the_adjoint(case):
    # <make(x), y> == <x, unmake(y)>: what makes it the right backward pass (like col2im)
    x, w, b, pad, S, rng = fused_inputs(case, np.float64)
    KH, KW = w.shape[2:]
    planes = reference.make_phase_planes(x, KH, KW, pad, S)
    y = rng.standard_normal(planes.shape)
    lhs = np.sum(planes * y)
    rhs = np.sum(x * reference.unmake_phase_planes(y, x.shape, KH, KW, pad, S))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_fused_network_equals_the_unfused_one():
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


@pytest.mark.parametrize("weight_decay", [0.0, 5e-4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_momentum_is_bitwise_its_reference(dtype, weight_decay):
    """Not close: equal: either back end trains to the same weights."""
    rng = np.random.default_rng(0)
    w, v, g = (rng.standard_normal(100_003).astype(dtype) for _ in range(3))
    v[:500] *= 1e-29                                # some velocities end near the flush level
    w2, v2 = w.copy(), v.copy()
    lr = np.float64(0.0123)                         # as a learning-rate schedule hands it over
    for _ in range(3):
        reference.sgd_momentum(w, v, g, lr, 0.9, weight_decay)
        jit.sgd_momentum(w2, v2, g, lr, 0.9, weight_decay)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(v2, v)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sgd_momentum_of_a_matrix_split_over_threads_is_bitwise_its_reference(threads, monkeypatch):
    # a big dense layer's weights are updated by rows, one run of rows per thread
    team, chunks = Team(threads), []
    run = team.run
    monkeypatch.setattr(team, "run", lambda fn, args, pieces: (chunks.append(pieces), run(fn, args, pieces)))
    monkeypatch.setattr(jit, "_team", team)
    monkeypatch.setattr(jit, "SPLIT_WEIGHTS", 0)
    rng = np.random.default_rng(1)
    w, v, g = (rng.standard_normal((101, 7)).astype(np.float32) for _ in range(3))
    w2, v2 = w.copy(), v.copy()
    for _ in range(3):
        reference.sgd_momentum(w, v, g, 0.01, 0.9, 5e-4)
        jit.sgd_momentum(w2, v2, g, 0.01, 0.9, 5e-4)
    rows = [(lo * 7, hi * 7) for lo, hi in jit.split(101, threads)]     # whole rows per thread
    assert chunks == [rows] * 3
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(v2, v)


def _scratch():
    buffers = {}
    return lambda name, shape, dtype: buffers.setdefault((name, tuple(shape), dtype), np.empty(shape, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, D, M", [(1, 3, 1), (5, 101, 7), (64, 300, 10)])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_dense_jit_matches_reference(threads, N, D, M, dtype, monkeypatch):
    # split by rows of the weights over the threads (every layer here: SPLIT_WEIGHTS 0), the
    # forward's partial products summed: close to the whole products, not always equal
    monkeypatch.setattr(jit, "_team", Team(threads))
    monkeypatch.setattr(jit, "SPLIT_WEIGHTS", 0)
    rng = np.random.default_rng(N + D + M)
    x, w, b, dout = (rng.standard_normal(shape).astype(dtype) for shape in ((N, D), (D, M), (M,), (N, M)))
    assert (jit._row_pieces(w) is None) == (threads == 1)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got = jit.dense_forward(x, w, b, np.empty((N, M), dtype), _scratch())
    np.testing.assert_allclose(got, reference.dense_forward(x, w, b, np.empty((N, M), dtype)), **tol)
    np.testing.assert_allclose(got, x @ w + b, **tol)
    for need_dx in (True, False):
        grads = [(np.empty((D, M), dtype), np.empty(M, dtype), np.empty((N, D), dtype) if need_dx else None)
                 for _ in range(2)]
        assert (jit.dense_backward(x, w, dout, *grads[0]) is None) == (not need_dx)
        reference.dense_backward(x, w, dout, *grads[1])
        for mine, theirs, by_hand in zip(grads[0], grads[1], (x.T @ dout, dout.sum(axis=0), dout @ w.T)):
            if need_dx or mine is not None:
                np.testing.assert_allclose(mine, theirs, **tol)
                np.testing.assert_allclose(mine, by_hand, **tol)


def test_dense_jit_runs_whole_in_a_data_parallel_slice_or_for_a_small_layer(monkeypatch):
    # a slice of a data-parallel step runs on one thread of a busy team: the layer there is
    # the reference's, bitwise, as is a layer below SPLIT_WEIGHTS
    monkeypatch.setattr(jit, "_team", Team(2))
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((8, 300)).astype(np.float32), rng.standard_normal((300, 9)).astype(np.float32), np.zeros(9, np.float32)
    expected = reference.dense_forward(x, w, b, np.empty((8, 9), np.float32))
    assert w.size < jit.SPLIT_WEIGHTS and jit._row_pieces(w) is None
    np.testing.assert_array_equal(jit.dense_forward(x, w, b, np.empty((8, 9), np.float32), _scratch()), expected)
    monkeypatch.setattr(jit, "SPLIT_WEIGHTS", 0)
    assert jit._row_pieces(w) is not None
    seen = [None, None]

    def slice_(k):   # (each thread its own slot: the two run at once)
        seen[k] = (jit._row_pieces(w), jit.dense_forward(x, w, b, np.empty((8, 9), np.float32), _scratch()))
    jit.team().run(slice_, (), [(0,), (1,)])
    for pieces, out in seen:
        assert pieces is None
        np.testing.assert_array_equal(out, expected)


def test_a_first_run_trains_like_a_warm_one(tmp_path):
    """Two processes, the first with an empty Numba cache (forked processes compile its
    kernels, which it then loads), the second with the cache the first left: after the same
    steps, bitwise the same weights."""
    script = """
import sys, numpy as np
from scratchnet import mnist_cnn, SGD
from scratchnet.core.training import train_step, warm_up
rng = np.random.default_rng(0)
model, opt = mnist_cnn(seed=0), SGD(0.01, 0.9, 5e-4)
compiling = warm_up(model, 16)
for step in range(30):
    train_step(model, opt, rng.random((16, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 16))
np.savez(sys.argv[1], compiling=compiling, **model.parameters())
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "NUMBA_NUM_THREADS": "2"}
    runs = []
    for name in ("cold", "warm"):
        out = tmp_path / f"{name}.npz"
        subprocess.run([sys.executable, "-c", script, str(out)], env=env, check=True, timeout=300)
        runs.append(np.load(out))
    cold, warm = runs
    assert float(cold["compiling"]) > 0 and float(warm["compiling"]) == 0
    for key in set(cold.files) - {"compiling"}:
        np.testing.assert_array_equal(cold[key], warm[key])


@pytest.mark.parametrize("kernels", [reference, jit], ids=["reference", "jit"])
@pytest.mark.parametrize("wrong", ["velocity", "gradient"])
def test_sgd_momentum_refuses_arrays_of_other_shapes(kernels, wrong):
    # the compiled loop indexes all three by the weights' size: a shorter velocity or gradient
    # would have been written or read past its end, corrupting memory, had this not raised
    w = np.ones(1000, np.float32)
    v, g = np.zeros_like(w), np.full_like(w, 0.5)
    short = np.zeros(100, np.float32)
    args = (w, short, g) if wrong == "velocity" else (w, v, short)
    with pytest.raises(ValueError, match="same shape"):
        kernels.sgd_momentum(*args, 0.01, 0.9)
    assert np.all(w == 1) and np.all(v == 0) and np.all(short == 0)


@pytest.mark.parametrize("kernels", [reference, jit], ids=["reference", "jit"])
def test_sgd_momentum_leaves_no_denormal_velocities(kernels):
    """A weight whose gradient stays 0 has its velocity decay as 0.9^k; without the flush it
    sinks into float32's denormal range (slow on Intel cores) after ~800 steps."""
    w = np.ones(1000, np.float32)
    v = np.zeros_like(w)
    g = np.full_like(w, 0.5)
    kernels.sgd_momentum(w, v, g, 0.01, 0.9)      # one step with a gradient, then none
    g[:] = 0
    for _ in range(1500):
        kernels.sgd_momentum(w, v, g, 0.01, 0.9)
    tiny = np.finfo(np.float32).tiny              # the smallest normal float32, 1.2e-38
    assert not np.any((v != 0) & (np.abs(v) < tiny))
    assert np.all(v == 0)                          # flushed to exactly zero ...
    assert np.all(w < 1)                           # ... after moving the weights as Keras does
