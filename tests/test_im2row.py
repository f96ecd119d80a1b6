"""The im2row + GEMM conv block: its kernels' NumPy and Numba twins agree, and the block
computes exactly what Conv2D -> ReLU -> MaxPool2D compute as three layers."""
import numpy as np
import pytest
from test_kernels import FUSED_CASES, assert_block_is_the_three_layers, fused_inputs

from scratchnet.core import kernels
from scratchnet.core.fused import ConvReLUPool, Im2rowConvReLUPool, channels_last, plan
from scratchnet.core.kernels import jit, reference
from scratchnet.core.layers import Conv2D, MaxPool2D, ReLU
from scratchnet.core.networks import mnist_cnn, mnist_fast_cnn

# (N, C, H, W, F, KH, KW, pad, S) as FUSED_CASES; the fast network's two blocks first
CASES = [(3, 1, 28, 28, 24, 5, 5, 0, 2), (3, 24, 12, 12, 32, 3, 3, 0, 2)] + FUSED_CASES[1:]


def block(w, b, pad, S):
    F, C, KH, KW = w.shape
    conv = Conv2D(C, F, (KH, KW), padding=pad).astype(w.dtype)
    conv.params["W"][...], conv.params["b"][...] = w, b
    return Im2rowConvReLUPool(conv, ReLU(), MaxPool2D(S, S))


@pytest.mark.parametrize("backend", kernels.BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_block_equals_the_three_layers(case, backend):
    assert_block_is_the_three_layers(block, case, backend)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_kernels_jit_match_reference(case, dtype):
    x, w, b, pad, S, rng = fused_inputs(case, dtype)
    F, _, KH, KW = w.shape
    images = channels_last(x)
    rows = reference.im2row(images, KH, KW, pad)
    np.testing.assert_array_equal(jit.im2row(images, KH, KW, pad), rows)      # a copy: exact
    N, OH, OW, K = rows.shape
    conv = rng.standard_normal((N, OH, OW, F)).astype(dtype)
    conv[0, :2, :2] = 0                                                          # ties, and the ReLU's 0
    out_r, arg_r = reference.bias_relu_pool(conv, b, S)
    out_j, arg_j = jit.bias_relu_pool(conv, b, S)
    np.testing.assert_array_equal(out_j, out_r)
    np.testing.assert_array_equal(arg_j, arg_r)
    dout = rng.standard_normal(out_r.shape).astype(dtype)
    got = [np.full((N, OH, OW, F), 7, dtype), np.full(F, 7, dtype)]              # filled, not added to
    want = [np.empty((N, OH, OW, F), dtype), np.empty(F, dtype)]
    jit.relu_pool_backward(dout, arg_r, S, *got)
    reference.relu_pool_backward(dout, arg_r, S, *want)
    np.testing.assert_array_equal(got[0], want[0])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol)
    drows = rng.standard_normal(rows.shape).astype(dtype)
    np.testing.assert_allclose(jit.row2im(drows, images.shape, KH, KW, pad),
                               reference.row2im(drows, images.shape, KH, KW, pad), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 1])
def test_tap_planes_jit_match_reference_and_are_the_rows_transposed(case, dtype):
    x, w, b, pad, S, rng = fused_inputs(case, dtype)
    F, _, KH, KW = w.shape
    images = x[:, 0]
    planes = reference.tap_planes(images, KH, KW, pad)
    np.testing.assert_array_equal(jit.tap_planes(images, KH, KW, pad), planes)   # a copy: exact
    rows = reference.im2row(channels_last(x), KH, KW, pad)
    np.testing.assert_array_equal(planes.reshape(KH * KW, -1), rows.reshape(-1, KH * KW).T)
    dplanes = rng.standard_normal(planes.shape).astype(dtype)
    np.testing.assert_array_equal(jit.taps2im(dplanes, images.shape, KH, KW, pad),  # same sums,
                                  reference.taps2im(dplanes, images.shape, KH, KW, pad))  # same order
    drows = dplanes.reshape(KH * KW, -1).T.reshape(rows.shape)                    # the adjoint of
    tol = 1e-5 if dtype == np.float32 else 1e-12                                  # the same matrix
    np.testing.assert_allclose(reference.taps2im(dplanes, images.shape, KH, KW, pad),
                               reference.row2im(drows, channels_last(x).shape, KH, KW, pad)[..., 0],
                               rtol=tol, atol=tol)


def test_im2row_rows_times_weights_is_the_convolution():
    x, w, b, pad, S, _ = fused_inputs(CASES[3], np.float64)
    F, C, KH, KW = w.shape
    rows = reference.im2row(channels_last(x), KH, KW, pad)                       # (N, OH, OW, K)
    wm = w.transpose(0, 2, 3, 1).reshape(F, -1)                                  # (i, j, c) order
    conv = Conv2D(C, F, (KH, KW), padding=pad).astype(np.float64)
    conv.params["W"][...], conv.params["b"][...] = w, b
    np.testing.assert_allclose((rows @ wm.T + b).transpose(0, 3, 1, 2), conv.forward(x), rtol=1e-12)


def test_channels_last_is_free_for_a_blocks_output():
    x, w, b, pad, S, _ = fused_inputs(CASES[0], np.float32)
    out = block(w, b, pad, S).forward(x)
    assert out.shape == (3, 24, 12, 12) and not out.flags.c_contiguous
    assert np.shares_memory(channels_last(out), out)                             # no copy
    assert not np.shares_memory(channels_last(x.copy()), x)


def test_plan_picks_the_direct_kernel_only_for_its_tuned_shapes():
    assert [type(s) for s in mnist_cnn().stages()][:1] == [ConvReLUPool]
    assert [type(s) for s in mnist_fast_cnn().stages()][:1] == [ConvReLUPool]
    conv = Conv2D(1, 4, 3, stride=2)
    assert [type(s) for s in plan([conv, ReLU(), MaxPool2D(2, 2)])] == [Conv2D, ReLU, MaxPool2D]
    from scratchnet.core import kernels
    from scratchnet.core.kernels import jit
    assert set(jit.UNROLLED) == set(kernels.UNROLLED_BLOCKS)      # the plan's list is jit's


def test_fast_network_fused_and_unfused_agree_and_buffers_are_reused():
    model = mnist_fast_cnn(seed=3).astype(np.float64)
    x = np.random.default_rng(0).random((5, 1, 28, 28))
    fused = model.forward(x).copy()
    model.fuse = False
    np.testing.assert_allclose(model.forward(x), fused, rtol=1e-12, atol=1e-12)
    model.fuse = True
    stage = model.stages()[1]
    model.forward(x)
    before = {k: id(v) for k, v in stage._buffers.items()}
    model.forward(x)
    assert {k: id(v) for k, v in stage._buffers.items()} == before


def test_a_model_of_the_fast_network_saves_and_loads(tmp_path):
    from scratchnet.core.model import load_model
    model = mnist_fast_cnn(seed=1)
    model.save(tmp_path / "m.npz")
    twin = load_model(tmp_path / "m.npz")
    x = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(twin.forward(x), model.forward(x))
