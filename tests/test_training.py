"""Training on real MNIST: a seeded smoke run, reproducibility, divergence, Ctrl-C."""
import numpy as np
import pytest

from scratchnet import mnist_cnn
from scratchnet.data.mnist import split_validation, to_input
from scratchnet.errors import TrainingDiverged
from scratchnet.core.training import evaluate, fit


@pytest.fixture(scope="module")
def smoke(mnist):
    """20,000 real training images, 1 epoch, 10% held out for validation."""
    train, val = split_validation(mnist.train_images[:20000], mnist.train_labels[:20000], 0.1)
    model = mnist_cnn(seed=0)
    result = fit(model, train, val, epochs=1, seed=0, prepare=to_input)
    return model, result


def test_one_short_epoch_passes_an_accuracy_floor(smoke, mnist):
    model, result = smoke
    loss, acc, probs = evaluate(model, mnist.test_images[:1000], mnist.test_labels[:1000],
                                prepare=to_input)
    print(f"1 epoch on 18,000 images: test accuracy {acc:.4f} on 1,000")
    assert acc >= 0.90
    assert probs.shape == (1000, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    record = result.history[0]
    assert set(record) >= {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                           "seconds", "images_per_second"}
    assert record["val_accuracy"] >= 0.90 and record["train_loss"] < 0.6


def test_same_seed_same_weights_and_accuracy(mnist):
    data = (mnist.train_images[:640], mnist.train_labels[:640])
    runs = []
    for _ in range(2):
        model = mnist_cnn(seed=3)
        history = fit(model, data, epochs=2, seed=3, prepare=to_input).history
        runs.append((model.parameters(), history))
    for key in runs[0][0]:
        np.testing.assert_array_equal(runs[0][0][key], runs[1][0][key])
    assert runs[0][1][1]["train_accuracy"] == runs[1][1][1]["train_accuracy"]
    other = mnist_cnn(seed=4)
    fit(other, data, epochs=1, seed=4, prepare=to_input)
    assert not np.array_equal(other.parameters()["4.W"], runs[0][0]["4.W"])


def test_divergence_stops_with_a_clear_error(mnist):
    data = (mnist.train_images[:2000], mnist.train_labels[:2000])
    with pytest.raises(TrainingDiverged, match="training diverged: loss is .* at epoch 1.*--lr"):
        fit(mnist_cnn(seed=0), data, epochs=1, lr=50.0, momentum=0.9, prepare=to_input)


def test_ctrl_c_keeps_the_last_finished_epoch(mnist):
    data = (mnist.train_images[:256], mnist.train_labels[:256])
    model = mnist_cnn(seed=0)
    after_epoch_1 = {}

    def on_batch(epoch, b, n_batches, *_):
        if epoch == 2 and b == 1:
            raise KeyboardInterrupt

    def on_epoch(record):
        after_epoch_1.update({k: v.copy() for k, v in model.parameters().items()})

    result = fit(model, data, epochs=5, prepare=to_input, on_batch=on_batch, on_epoch=on_epoch)
    assert result.interrupted and len(result.history) == 1
    for key, value in model.parameters().items():
        np.testing.assert_array_equal(value, after_epoch_1[key])


def test_training_runs_with_the_kernel_threads_pinned_and_unpins_them(mnist, monkeypatch):
    import contextlib
    import os

    from scratchnet.core.kernels import jit
    inside, main_sets = [], []

    @contextlib.contextmanager
    def watched():
        with jit.team().pinned():
            inside.append(True)
            yield
        inside.append(False)

    def on_batch(*_):
        assert inside[-1]
        if hasattr(os, "sched_getaffinity"):
            main_sets.append(os.sched_getaffinity(0))

    monkeypatch.setattr(jit, "pinned", watched)
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    fit(mnist_cnn(seed=0), (mnist.train_images[:128], mnist.train_labels[:128]), epochs=2,
        prepare=to_input, on_batch=on_batch)
    assert inside == [True, False]                       # one block around every epoch
    if before is not None:
        assert os.sched_getaffinity(0) == before
        if len(before) == jit.team().size > 1:            # pinned: one CPU, inside only
            assert all(len(s) == 1 for s in main_sets)


def test_validation_split_is_the_last_fraction_like_keras():
    images, labels = np.arange(100)[:, None], np.arange(100)
    (ti, tl), (vi, vl) = split_validation(images, labels, 0.1)
    assert len(tl) == 90 and list(vl) == list(range(90, 100))


def test_warm_up_does_not_change_the_weights():
    from scratchnet.core.training import warm_up
    model = mnist_cnn(seed=0)
    before = {k: v.copy() for k, v in model.parameters().items()}
    warm_up(model, batch_size=4)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_steady_state_training_step_allocates_nothing_big(mnist):
    """Every layer reuses its arrays from step to step: once the shapes are settled a step
    makes only small temporaries (the loss's (64, 10) arrays, the conv weight gradient's
    partial sums, NumPy's own ~27 KB buffer for a broadcast addition), never an input batch
    (200 KB), an activation or gradient (0.4-1.4 MB) or a weight matrix (2.2 MB)."""
    import tracemalloc

    from scratchnet.core.optim import SGD
    from scratchnet.core.training import Batches, train_step
    model, opt = mnist_cnn(seed=0), SGD()
    batches = Batches(model, mnist.train_images, mnist.train_labels, 64, to_input)
    steps = [np.arange(k * 64, (k + 1) * 64) for k in range(6)]
    for idx in steps[:3]:
        train_step(model, opt, *batches.take(idx))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for idx in steps[3:]:
            train_step(model, opt, *batches.take(idx))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    print(f"largest memory in use during a step beyond what was there before: {peak:,} bytes")
    assert peak < 50_000


def test_weight_average_is_a_bias_corrected_exponential_moving_average():
    """The initial weights take no part: a short run's average is of its trained weights."""
    from scratchnet.core.layers import Dense
    from scratchnet.core.model import Sequential
    from scratchnet.core.training import WeightAverage
    model = Sequential([Dense(1, 1)], input_shape=(1,))
    w = model.parameters()["0.W"]
    w[...] = 1.0
    average = WeightAverage(model, decay=0.5, every=2)          # k = 0.5^2 = 0.25 per update
    w[...] = 3.0
    average.update()                      # step 1 of 2: no update yet: the weights as they are
    assert average.weights()["0.W"][0, 0] == 3.0
    average.update()                      # one update: the average of [3] is 3
    assert average.weights()["0.W"][0, 0] == pytest.approx(3.0)
    w[...] = 5.0
    average.update()
    average.update()                      # of [3, 5]: (0.25 * 0.75 * 3 + 0.75 * 5) / (1 - 0.25^2)
    assert average.weights()["0.W"][0, 0] == pytest.approx(4.6)
    with average.applied():
        assert w[0, 0] == pytest.approx(4.6)
    assert w[0, 0] == 5.0                 # the trained weights back after the block
    average.apply()
    assert w[0, 0] == pytest.approx(4.6)


def test_augmentation_stops_after_augment_epochs():
    """The --augment recipe's last epoch sees the images as they are."""
    from scratchnet.apps.recipes import AUGMENTED
    rng = np.random.default_rng(0)
    images, labels = rng.random((40, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 40)
    seen = []

    def augment(x):
        seen.append(len(x))
        return x

    epochs = []
    fit(mnist_cnn(seed=0), (images, labels), epochs=3, batch_size=20, augment=augment, augment_epochs=2,
        on_epoch=lambda record: epochs.append(len(seen)))
    assert epochs == [2, 4, 4]                      # two batches an epoch, none in the third
    settings = AUGMENTED.fit_arguments(0)
    assert AUGMENTED.clean_epochs >= 1 and settings["augment_epochs"] == AUGMENTED.epochs - AUGMENTED.clean_epochs
    assert AUGMENTED.fit_arguments(0, epochs=1)["augment_epochs"] == 1   # a single epoch is distorted
    assert "as they are" in AUGMENTED.describe()


def kernels_warm_up_compiles(monkeypatch, model, **settings):
    """The kernels warm_up(model, 8, **settings) would have compile_ahead compile."""
    from scratchnet.core.kernels import jit
    from scratchnet.core.training import warm_up
    recorded = []

    def record(run, on_compile=None):          # what compile_ahead would be asked to compile
        with jit.recording() as calls:             # as compile_ahead does
            run()
        recorded.extend(fn for fn, _ in calls)
        return 0.0

    monkeypatch.setattr(jit, "compile_ahead", record)
    warm_up(model, 8, **settings)
    return recorded


def test_warm_up_compiles_the_augmentation_kernels_ahead_too(monkeypatch):
    from scratchnet.apps.recipes import AUGMENTED
    from scratchnet.core.kernels import jit
    from scratchnet.data import augment_jit
    model = mnist_cnn(seed=0)
    before = {k: v.copy() for k, v in model.parameters().items()}
    recorded = kernels_warm_up_compiles(monkeypatch, model, augment=AUGMENTED.augmenter())
    assert augment_jit._warp in recorded and augment_jit._thicken in recorded
    assert jit._forward_c1_k3_s2 in recorded and jit._sgd_momentum in recorded
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, before[k])


def test_the_fast_networks_blocks_run_on_their_own_kernels(monkeypatch):
    # the 5x5 block is meant for jit's unrolled kernels: a dispatch that fell back to the
    # general ones would still be right, only several times slower
    from scratchnet.core.kernels import jit
    from scratchnet.core.networks import mnist_fast_cnn
    recorded = kernels_warm_up_compiles(monkeypatch, mnist_fast_cnn(seed=0))
    assert jit._forward_c1_k5_s2 in recorded and jit._backward_c1_k5_s2 in recorded
    assert jit._forward_general not in recorded and jit._backward_general not in recorded
    # and its second block on Winograd's, all four compiled ahead, none of im2row's
    assert {jit._winograd_tiles, jit._winograd_relu_pool, jit._winograd_relu_pool_backward,
            jit._winograd_untiles} <= set(recorded)
    assert jit._im2row not in recorded and jit._row2im not in recorded


def test_warm_up_compiles_adams_data_parallel_update_ahead(monkeypatch):
    # the fast recipe's steps update through Adam.step_sum: compiled before the clock starts
    from scratchnet.core.kernels import jit
    from scratchnet.core.networks import mnist_fast_cnn
    from scratchnet.core.optim import Adam
    recorded = kernels_warm_up_compiles(monkeypatch, mnist_fast_cnn(seed=0), optimizer=Adam())
    assert jit._adam_sum in recorded and jit._adam in recorded


def test_shift_averaged_evaluation_is_the_mean_of_each_moved_copys_probabilities(mnist):
    from scratchnet.apps.metrics import AS_IS, timed_evaluation
    from scratchnet.apps.openset import SHIFTS, shifted
    model = mnist_cnn(seed=3)
    fit(model, (mnist.train_images[:2000], mnist.train_labels[:2000]), epochs=1, seed=0, prepare=to_input)
    x, y = mnist.test_images[:300], mnist.test_labels[:300]
    loss, acc, _, _, as_is = timed_evaluation(model, x, y, AS_IS)
    assert (loss, acc, as_is) == pytest.approx(evaluate(model, x, y, prepare=to_input)[:2] + (acc,))
    loss5, acc5, probs5, _, as_is5 = timed_evaluation(model, x, y, SHIFTS)
    copies = [evaluate(model, shifted(x[:, None], [shift])[:, 0], y, prepare=to_input)[2] for shift in SHIFTS]
    assert not np.allclose(copies[0], copies[1], atol=1e-3)       # a move changes what the network says
    np.testing.assert_allclose(probs5, np.mean(copies, axis=0), atol=1e-6)
    # (one picture either way: the two means may round a near tie apart)
    assert acc5 == pytest.approx((np.mean(copies, axis=0).argmax(axis=1) == y).mean(), abs=1 / 300)
    assert as_is5 == acc
    assert loss5 == pytest.approx(-np.log(np.mean(copies, axis=0)[np.arange(300), y]).mean(), rel=1e-5)


def test_the_fast_recipe_tests_on_the_moves_it_describes():
    from scratchnet.apps.metrics import AS_IS
    from scratchnet.apps.openset import SHIFTS
    from scratchnet.apps.recipes import FAST, REFERENCE, test_moves
    assert FAST.shifts == test_moves(True) == SHIFTS and REFERENCE.shifts == test_moves(None) == AS_IS
    assert f"tested on each picture and {len(SHIFTS) - 1} copies moved one pixel" in FAST.describe()
    assert "moved" not in REFERENCE.describe()
