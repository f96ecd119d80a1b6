import numpy as np
import pytest

from scratchnet import SGD


def test_sgd_momentum_two_steps_by_hand():
    # Keras: v = m*v - lr*g ; w = w + v.   w0 = 1, lr = 0.1, m = 0.9
    # step 1 (g = 2):   v = -0.2            w = 0.8
    # step 2 (g = 1):   v = 0.9*-0.2 - 0.1 = -0.28   w = 0.52
    w = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step({"w": w}, {"w": np.array([2.0])})
    assert w[0] == pytest.approx(0.8)
    opt.step({"w": w}, {"w": np.array([1.0])})
    assert w[0] == pytest.approx(0.52)
    assert opt.velocity["w"][0] == pytest.approx(-0.28)


def test_sgd_without_momentum_is_plain_gradient_descent():
    w = np.array([1.0, -1.0])
    SGD(lr=0.5, momentum=0.0).step({"w": w}, {"w": np.array([1.0, 1.0])})
    np.testing.assert_allclose(w, [0.5, -1.5])


@pytest.mark.parametrize("lr,momentum", [(0, 0.9), (-1, 0.9), (0.1, 1.0), (0.1, -0.1)])
def test_sgd_rejects_bad_hyperparameters(lr, momentum):
    with pytest.raises(ValueError):
        SGD(lr, momentum)


def test_weight_decay_shrinks_weights_not_biases():
    # v = 0.9*0 - 0.1*(0 + 0.5*2) = -0.1 for the weight; the bias has no decay: unchanged
    params = {"0.W": np.array([2.0]), "0.b": np.array([2.0])}
    SGD(lr=0.1, momentum=0.9, weight_decay=0.5).step(params, {"0.W": np.zeros(1), "0.b": np.zeros(1)})
    assert params["0.W"][0] == pytest.approx(1.9) and params["0.b"][0] == 2.0
    with pytest.raises(ValueError):
        SGD(weight_decay=-1)
