"""The data-parallel training step computes the batch's gradient as the plain step does."""
import numpy as np
import pytest

from scratchnet.core import kernels
from scratchnet.core.kernels import blas
from scratchnet.core.networks import mnist_cnn, mnist_fast_cnn
from scratchnet.core.optim import SGD, Adam
from scratchnet.core.training import DataParallel, fit, train_step


@pytest.mark.parametrize("network", [mnist_fast_cnn, mnist_cnn])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_the_slices_gradients_add_up_to_the_batchs(network, parts):
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 1, 28, 28)), rng.integers(0, 10, 10)
    plain, split = network(seed=2).astype(np.float64), network(seed=2).astype(np.float64)
    loss, hits = train_step(plain, SGD(0.1), x, y)
    loss_split, hits_split = DataParallel(split, parts).step(SGD(0.1), x, y)
    assert loss_split == pytest.approx(loss, rel=1e-12) and hits_split == hits
    for key, g in plain.gradients().items():
        np.testing.assert_allclose(split.gradients()[key], g, rtol=1e-9, atol=1e-12, err_msg=key)
    for key, w in plain.parameters().items():               # the same update from it
        np.testing.assert_allclose(split.parameters()[key], w, rtol=1e-9, atol=1e-12, err_msg=key)


def test_a_replica_shares_the_weights_but_not_the_gradients():
    model = mnist_fast_cnn(seed=0)
    twin = model.replica()
    for key, w in model.parameters().items():
        assert twin.parameters()[key] is w
        assert twin.gradients()[key] is not model.gradients()[key]


def test_fit_in_parallel_is_reproducible_and_learns():
    rng = np.random.default_rng(1)
    x, y = rng.random((300, 1, 28, 28)).astype(np.float32), rng.integers(0, 2, 300)
    x[y == 1, :, 10:18, 10:18] += 1.0                        # a square: class 1
    runs = []
    for _ in range(2):
        model = mnist_fast_cnn(seed=4)
        result = fit(model, (x, y), epochs=3, batch_size=32, seed=5, optimizer=Adam(3e-3), parallel=True)
        runs.append(model.parameters())
    assert result.history[-1]["train_accuracy"] > 0.95
    for key, w in runs[0].items():
        np.testing.assert_array_equal(runs[1][key], w)


def test_blas_runs_single_threaded_within_the_block_only():
    if blas.api() is None:
        pytest.skip("this NumPy's BLAS is not an OpenBLAS that this process can find")
    _, get = blas.api()
    before = get()
    with blas.single_threaded():
        assert get() == 1
    assert get() == before
    assert kernels.threads() >= 1
