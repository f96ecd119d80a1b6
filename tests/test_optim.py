import numpy as np
import pytest

from scratchnet import SGD
from scratchnet.core import kernels


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


def test_adam_three_steps_by_hand():
    """Adam against its formula in float64 (PyTorch's arithmetic): bias-corrected moments."""
    from scratchnet.core.optim import Adam
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(3)]
    lr, (b1, b2), eps = 0.01, (0.7, 0.9), 1e-8
    w, m, v = w0.copy(), np.zeros(5), np.zeros(5)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    for backend in ("reference", "jit"):
        opt, got = Adam(lr, (b1, b2), eps), w0.copy()
        with kernels.using(backend):
            for g in grads:
                opt.step({"0.W": got}, {"0.W": g})
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-14, err_msg=backend)
        assert opt.steps == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_jit_is_the_bitwise_twin_of_reference(dtype):
    from scratchnet.core.kernels import jit, reference
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(1000).astype(dtype) for _ in range(3)]
    arrays[1][:10] = 1e-33                       # moments that decay below the flush threshold
    g = rng.standard_normal(1000).astype(dtype)
    g[:10] = 0
    twins = [[a.copy() for a in arrays] for _ in range(2)]
    for step in (1, 2, 7):
        reference.adam(*twins[0], g, 0.003, 0.7, 0.9, 1e-8, step)
        jit.adam(*twins[1], g, 0.003, 0.7, 0.9, 1e-8, step)
    for a, b in zip(*twins):
        np.testing.assert_array_equal(a, b)
    assert np.all(twins[0][1][:10] == 0)


@pytest.mark.parametrize("betas, lr, eps", [((1.0, 0.9), 0.01, 1e-8), ((0.9, 0.9), 0.0, 1e-8),
                                            ((0.9, 0.9), 0.01, 0.0)])
def test_adam_rejects_bad_hyperparameters(betas, lr, eps):
    from scratchnet.core.optim import Adam
    with pytest.raises(ValueError):
        Adam(lr, betas, eps)


def test_one_cycle_rises_then_falls():
    from scratchnet.core.training import one_cycle
    p = np.linspace(0, 1, 1001)
    f = np.array([one_cycle(x) for x in p])
    assert f[0] == pytest.approx(0.04) and f[250] == pytest.approx(1.0) and f[-1] == pytest.approx(4e-6)
    assert np.all(np.diff(f[:251]) > 0) and np.all(np.diff(f[250:]) < 0)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_adam_step_sum_is_summing_then_step_bitwise(parts, threads, monkeypatch):
    """The data-parallel step's fused sum + update (each parameter cut into one piece per
    kernel thread) gives the very weights of adding the parts, then step()."""
    from scratchnet.core.kernels import jit
    from scratchnet.core.kernels.team import Team
    from scratchnet.core.optim import Adam
    monkeypatch.setattr(jit, "_team", Team(threads))
    rng = np.random.default_rng(2)
    shapes = {"0.W": (7, 5), "0.b": (5,), "1.W": (3, 1, 3, 3), "1.b": (1,)}
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    slices = [[{k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
               for _ in range(parts)] for _ in range(3)]
    results = []
    for fused in (False, True):
        for backend in kernels.BACKENDS:
            opt, w = Adam(0.003, (0.7, 0.9)), {k: v.copy() for k, v in params.items()}
            grads = {k: np.full(s, 7, np.float32) for k, s in shapes.items()}
            with kernels.using(backend):
                for step_parts in slices:
                    if fused:
                        opt.step_sum(w, grads, step_parts)
                    else:
                        for k in grads:
                            grads[k][...] = step_parts[0][k]
                            for p in step_parts[1:]:
                                grads[k] += p[k]
                        opt.step(w, grads)
            results.append((w, grads))
    for w, grads in results[1:]:
        for k in shapes:
            np.testing.assert_array_equal(w[k], results[0][0][k])
            np.testing.assert_array_equal(grads[k], results[0][1][k])      # grads hold the sum
