"""The Winograd F(2x2, 3x3) conv block: its kernels' NumPy and Numba twins agree, each
backward kernel is the adjoint of its forward, and the block computes what Conv2D -> ReLU ->
MaxPool2D compute as three layers."""
import numpy as np
import pytest
from test_kernels import assert_block_is_the_three_layers, fused_inputs, layer_by_layer

from scratchnet.core import kernels
from scratchnet.core.fused import (ConvReLUPool, Im2rowConvReLUPool, WinogradConvReLUPool,
                                   channels_last, plan)
from scratchnet.core.kernels import jit, reference
from scratchnet.core.layers import Conv2D, MaxPool2D, ReLU
from scratchnet.core.networks import mnist_cnn, mnist_fast_cnn

# (N, C, H, W, F, KH, KW, pad, S) as test_kernels.FUSED_CASES: the fast network's second
# block; padding, odd sizes (a last conv row no pool window takes); one channel; a batch of
# several chunks, the last one short
CASES = [(3, 24, 12, 12, 32, 3, 3, 0, 2), (2, 3, 9, 8, 5, 3, 3, 1, 2), (2, 2, 7, 10, 3, 3, 3, 0, 2),
         (2, 1, 11, 9, 4, 3, 3, 1, 2), (2 * WinogradConvReLUPool.CHUNK + 3, 4, 8, 9, 5, 3, 3, 1, 2)]


def block(w, b, pad):
    F, C = w.shape[:2]
    conv = Conv2D(C, F, 3, padding=pad).astype(w.dtype)
    conv.params["W"][...], conv.params["b"][...] = w, b
    return WinogradConvReLUPool(conv, ReLU(), MaxPool2D(2, 2))


def planes(size, dtype, fill=7.0):
    """Planes as the block allocates them, padded, the padding filled to show it is left alone."""
    return np.full((16, size + WinogradConvReLUPool.PLANE_PAD), fill, dtype)


@pytest.mark.parametrize("backend", kernels.BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_block_equals_the_three_layers(case, backend):
    assert_block_is_the_three_layers(lambda w, b, pad, S: block(w, b, pad), case, backend)


def test_block_in_float32_is_the_three_layers_within_float32_rounding():
    x, w, b, pad, S, rng = fused_inputs(CASES[0], np.float32)
    fused = block(w, b, pad)
    out = fused.forward(x).copy()
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = fused.backward(dout)
    out_l, (dw_l, db_l, dx_l) = layer_by_layer(*(a.astype(np.float64) for a in (x, w, b)), pad, S,
                                               dout.astype(np.float64))
    np.testing.assert_allclose(out, out_l, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused.grads["W"], dw_l, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx, dx_l, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_kernels_jit_match_reference(case, dtype):
    x, w, b, pad, S, rng = fused_inputs(case, dtype)
    images = channels_last(x)
    N, H, W, C = images.shape
    F = w.shape[0]
    PH, PW = reference.winograd_tile_grid(H, W, pad)
    T = N * PH * PW
    V = reference.winograd_tiles(images, pad)
    V_jit = jit.winograd_tiles(images, pad, planes(T * C, dtype))
    np.testing.assert_array_equal(V_jit[:, :T * C], V)      # bitwise: the same sums in the same order
    assert (V_jit[:, T * C:] == 7).all()                                         # padding untouched
    M = planes(T * F, dtype)
    M[:, :T * F] = rng.standard_normal((16, T * F))
    got = [np.empty((N, PH, PW, F), dtype), np.empty((N, PH, PW, F), reference.ARGMAX_DTYPE)]
    want = [np.empty_like(a) for a in got]
    M[:, :3 * F] = 0                              # three tiles' four outputs tie: their bias wins
    jit.winograd_relu_pool(M, b, *got)
    reference.winograd_relu_pool(M, b, *want)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    argmax = want[1]
    dout = rng.standard_normal(argmax.shape).astype(dtype)
    dM_jit, dM = planes(T * F, dtype), planes(T * F, dtype)
    db_jit, db = np.full(F, 7, dtype), np.full(F, 7, dtype)                     # filled, not added to
    jit.winograd_relu_pool_backward(dout, argmax, dM_jit, db_jit)
    reference.winograd_relu_pool_backward(dout, argmax, dM, db)
    np.testing.assert_array_equal(dM_jit, dM)
    np.testing.assert_array_equal(db_jit, db)
    dV = planes(T * C, dtype)
    dV[:, :T * C] = rng.standard_normal((16, T * C))
    want = reference.winograd_untiles(dV, images.shape, pad)
    np.testing.assert_array_equal(jit.winograd_untiles(dV, images.shape, pad), want)
    for k in (jit, reference):                                                    # into a given array
        dx = np.full(images.shape, 7, dtype)
        assert k.winograd_untiles(dV, images.shape, pad, dx) is dx
        np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("case", CASES)
def test_backward_kernels_are_the_adjoints_of_the_forward_ones(case):
    """<f(x), y> = <x, f^T(y)> for the input and the weight transforms: what makes them each
    other's gradient."""
    x, w, b, pad, S, rng = fused_inputs(case, np.float64)
    images = channels_last(x)
    for k in (reference, jit):
        V = k.winograd_tiles(images, pad)
        dV = rng.standard_normal(V.shape)
        np.testing.assert_allclose(np.vdot(V, dV), np.vdot(images, k.winograd_untiles(dV, images.shape, pad)),
                                   rtol=1e-12)
        U = k.winograd_weights(w)
        dU = rng.standard_normal(U.shape)
        np.testing.assert_allclose(np.vdot(U, dU), np.vdot(w, k.winograd_weights_backward(dU)), rtol=1e-12)


def test_one_tile_is_winograds_formula():
    """Y = A^T [(G g G^T) * (B^T d B)] A is the 3x3 correlation's 2x2 outputs of a 4x4 tile."""
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    BT, G, AT = reference.WINOGRAD_BT, reference.WINOGRAD_G, reference.WINOGRAD_AT
    Y = AT @ ((G @ g @ G.T) * (BT @ d @ BT.T)) @ AT.T
    direct = [[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(Y, direct, rtol=1e-12)


def test_plan_picks_winograd_for_3x3_blocks_with_a_2x2_pool_and_im2row_for_the_rest():
    assert [type(s) for s in mnist_fast_cnn().stages()][:2] == [ConvReLUPool, WinogradConvReLUPool]
    assert [type(s) for s in mnist_cnn().stages()][:1] == [ConvReLUPool]          # its direct kernel
    for conv, pool in [(Conv2D(2, 4, 5), MaxPool2D(2, 2)), (Conv2D(2, 4, 3), MaxPool2D(3, 3))]:
        assert [type(s) for s in plan([conv, ReLU(), pool])] == [Im2rowConvReLUPool]


def test_jit_kernels_refuse_arrays_they_would_index_past_the_end_of():
    # the compiled loops index planes and dx by the tiles of the shapes given, without bounds
    # checks: a smaller or non-contiguous array would be read or written past its end
    x, w, b, pad, S, rng = fused_inputs(CASES[0], np.float32)
    images = channels_last(x)
    N, H, W, C = images.shape
    T = N * 5 * 5
    with pytest.raises(ValueError, match="planes"):
        jit.winograd_tiles(images, pad, np.empty((16, T * C - 1), np.float32))
    with pytest.raises(ValueError, match="planes"):
        jit.winograd_tiles(images, pad, np.empty((16, 2 * T * C), np.float32)[:, ::2])
    out, argmax = np.empty((N, 5, 5, 32), np.float32), np.empty((N, 5, 5, 32), reference.ARGMAX_DTYPE)
    with pytest.raises(ValueError, match="planes"):
        jit.winograd_relu_pool(np.empty((15, T * 32), np.float32), b, out, argmax)
    with pytest.raises(ValueError, match="argmax"):
        jit.winograd_relu_pool(planes(T * 32, np.float32), b, out, argmax[:1])
    with pytest.raises(ValueError, match="argmax"):
        jit.winograd_relu_pool_backward(out, argmax[:1], planes(T * 32, np.float32), np.empty(32, np.float32))
    with pytest.raises(ValueError, match="dx"):
        jit.winograd_untiles(planes(T * C, np.float32), images.shape, pad, np.empty((N, H, W - 1, C), np.float32))
