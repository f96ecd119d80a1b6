"""Every backward pass against central finite differences, in float64 (rel. error < 1e-6)."""
import numpy as np
import pytest

from scratchnet.core import kernels
from scratchnet.core.gradcheck import check_layer, numerical_gradient, rel_error
from scratchnet.core.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from scratchnet.core.losses import softmax_cross_entropy
from scratchnet.core.networks import mnist_cnn

TOL = 1e-6


@pytest.fixture(params=["jit", "reference"])
def backend(request):
    with kernels.using(request.param):
        yield request.param


def assert_checks(errors):
    print("worst relative errors:", errors)
    for name, err in errors.items():
        assert err < TOL, f"gradient of {name} is wrong: relative error {err:.2e}"


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
def test_conv2d(backend, stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    layer = Conv2D(3, 4, 3, stride=stride, padding=padding, rng=rng)
    layer.params["b"][:] = rng.standard_normal(4)  # non-trivial bias too
    assert_checks(check_layer(layer, rng.standard_normal((2, 3, 7, 6)), rng))


def test_conv2d_non_square_kernel(backend):
    rng = np.random.default_rng(5)
    layer = Conv2D(2, 3, (2, 3), stride=1, padding=1, rng=rng)
    assert_checks(check_layer(layer, rng.standard_normal((2, 2, 5, 6)), rng))


@pytest.mark.parametrize("shape,size,stride", [((2, 3, 8, 8), 2, 2), ((2, 2, 7, 9), 2, 2),
                                               ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 6), 2, 1)])
def test_maxpool2d(backend, shape, size, stride):
    rng = np.random.default_rng(size * 7 + stride)
    # distinct values, well separated: h = 1e-5 never changes which element wins
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    assert_checks(check_layer(MaxPool2D(size, stride), x, rng))


def test_maxpool2d_ties_send_the_gradient_to_the_first_maximum_only(backend):
    # a tie is not differentiable, so finite differences cannot judge it: the rule is
    # stated and checked directly (see also test_kernels.test_maxpool_tie_rule...)
    layer = MaxPool2D(2, 2)
    x = np.full((1, 1, 2, 2), 3.0)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.array([[[[1.0]]]])), [[[[1, 0], [0, 0]]]])


def test_dense():
    rng = np.random.default_rng(1)
    layer = Dense(7, 5, rng=rng)
    layer.params["b"][:] = rng.standard_normal(5)
    assert_checks(check_layer(layer, rng.standard_normal((4, 7)), rng))


def test_relu():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 10))
    x[np.abs(x) < 0.01] = 0.5  # keep away from the kink at 0, where the derivative jumps
    assert_checks(check_layer(ReLU(), x, rng))


def test_flatten():
    rng = np.random.default_rng(3)
    assert_checks(check_layer(Flatten(), rng.standard_normal((2, 3, 4, 5)), rng))


def test_softmax_cross_entropy():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    _, dlogits = softmax_cross_entropy(logits, labels)
    num = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    err = rel_error(dlogits, num)
    print("softmax_cross_entropy relative error", err)
    assert err < TOL


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    loss, grad = softmax_cross_entropy(logits, np.array([2]))
    assert np.isfinite(loss) and loss == pytest.approx(2000.0)
    assert np.all(np.isfinite(grad))


def test_whole_reference_network(backend):
    """Every parameter of mnist_cnn against finite differences, through the loss, batch of 2."""
    rng = np.random.default_rng(0)
    model = mnist_cnn(seed=1).astype(np.float64)
    for key, p in model.parameters().items():
        if key.endswith(".b"):
            p[:] = rng.standard_normal(p.shape) * 0.1  # non-zero biases
    x = rng.random((2, 1, 28, 28))
    y = np.array([3, 7])

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    _, dlogits = softmax_cross_entropy(model.forward(x), y)
    dx = model.backward(dlogits, need_dx=True)
    grads = {k: g.copy() for k, g in model.gradients().items()}
    errors = {"x": rel_error(dx.reshape(-1)[idx := rng.choice(x.size, 40, replace=False)],
                             numerical_gradient(loss, x, indices=idx))}
    for key, p in model.parameters().items():
        idx = rng.choice(p.size, min(p.size, 40), replace=False)
        errors[key] = rel_error(grads[key].reshape(-1)[idx], numerical_gradient(loss, p, indices=idx))
    assert_checks(errors)


class OffByOneBiasDense(Dense):
    """A deliberately wrong backward: the bias gradient is summed over one row too few."""

    def backward(self, dout, need_dx=True):
        dx = super().backward(dout, need_dx)
        self.grads["b"][...] = dout[1:].sum(axis=0)
        return dx


class TransposedConvWeights(Conv2D):
    """A deliberately wrong backward: the kernel gradient is flipped spatially."""

    def backward(self, dout, need_dx=True):
        dx = super().backward(dout, need_dx)
        self.grads["W"][...] = self.grads["W"][:, :, ::-1, ::-1].copy()
        return dx


def test_checker_catches_a_wrong_bias_gradient():
    rng = np.random.default_rng(0)
    errors = check_layer(OffByOneBiasDense(6, 4, rng=rng), rng.standard_normal((5, 6)), rng)
    assert errors["W"] < TOL and errors["x"] < TOL
    assert errors["b"] > 1e-2


def test_checker_catches_a_wrong_conv_weight_gradient():
    rng = np.random.default_rng(0)
    errors = check_layer(TransposedConvWeights(2, 3, 3, rng=rng), rng.standard_normal((2, 2, 6, 6)), rng)
    assert errors["x"] < TOL
    assert errors["W"] > 1e-2


def test_checker_catches_a_perturbed_gradient():
    rng = np.random.default_rng(0)
    layer = Dense(5, 3, rng=rng).astype(np.float64)
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 3))
    layer.forward(x)
    layer.backward(dout)
    num = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dout)), layer.params["W"])
    assert rel_error(layer.grads["W"], num) < TOL
    wrong = layer.grads["W"].copy()
    wrong[2, 1] *= 1.001  # a 0.1% error in one entry
    assert rel_error(wrong, num) > TOL
