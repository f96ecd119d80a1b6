"""The Sequential model, the reference network, and the model file."""
import json
import zipfile

import numpy as np
import pytest

from scratchnet import SGD, Sequential, mnist_cnn, softmax_cross_entropy
from scratchnet.errors import ModelFileError
from scratchnet.core.layers import Dense, ReLU
from scratchnet.core.model import RECORD_KEY, load_model


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def train_steps(model, steps, seed=0):
    opt = SGD(0.01, 0.9)
    for s in range(steps):
        x, y = batch(8, seed + s)
        _, dlogits = softmax_cross_entropy(model.forward(x), y)
        model.backward(dlogits)
        opt.step(model.parameters(), model.gradients())
    return model


def test_reference_network_shape_and_parameter_count():
    model = mnist_cnn()
    assert model.num_params() == 542_230
    assert model.forward(batch(3)[0]).shape == (3, 10)
    text = model.summary()
    assert "542,230" in text and "(N, 32, 13, 13)" in text and "(N, 5408)" in text
    assert all(p.dtype == np.float32 for p in model.parameters().values())


def test_he_uniform_initialisation():
    W = mnist_cnn(seed=0).layers[4].params["W"]
    limit = np.sqrt(6 / 5408)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.99 * limit
    assert abs(W.std() - limit / np.sqrt(3)) < 0.01 * limit  # std of U(-a, a) is a/sqrt(3)
    assert not mnist_cnn(seed=0).layers[0].params["b"].any()


def test_first_loss_of_a_fresh_network_is_about_ln10():
    x, y = batch(256)
    loss, _ = softmax_cross_entropy(mnist_cnn(seed=0).forward(x), y)
    assert abs(loss - np.log(10)) < 0.5


def test_tiny_batch_overfits_to_100_percent():
    model, opt = mnist_cnn(seed=0), SGD(0.05, 0.9)
    x, y = batch(10, seed=3)
    for _ in range(60):
        loss, dlogits = softmax_cross_entropy(model.forward(x), y)
        model.backward(dlogits)
        opt.step(model.parameters(), model.gradients())
    assert (model.predict(x) == y).all() and loss < 0.05


def test_same_seed_same_weights_before_and_after_training():
    a, b, c = mnist_cnn(seed=5), mnist_cnn(seed=5), mnist_cnn(seed=6)
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k], b.parameters()[k])
    assert not np.array_equal(a.parameters()["0.W"], c.parameters()["0.W"])
    train_steps(a, 5)
    train_steps(b, 5)
    for k in a.parameters():
        np.testing.assert_array_equal(a.parameters()[k], b.parameters()[k])


def test_release_buffers_gives_back_an_evaluation_batch_and_changes_no_result():
    m = mnist_cnn(seed=0)
    x = np.random.default_rng(0).random((500, 1, 28, 28), dtype=np.float32)
    before = m.forward(x).copy()

    def held():
        return sum(b.nbytes for s in m.stages() + m.layers for b in s._buffers.values())
    assert held() > 10_000_000          # out, argmax, planes of 500 images
    m.release_buffers()
    assert held() == 0
    assert all(getattr(s, "cache", None) is None for s in m.stages() + m.layers)
    np.testing.assert_array_equal(m.forward(x), before)


def test_save_load_round_trip_is_bit_identical(tmp_path):
    model = train_steps(mnist_cnn(seed=0), 3)
    path = tmp_path / "m.npz"
    model.save(path, metadata={"test_accuracy": 0.5})
    loaded, meta = load_model(path, return_metadata=True)
    assert meta == {"test_accuracy": 0.5}
    x, _ = batch(20, seed=9)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.summary() == model.summary()
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    mnist_cnn(seed=0).save(path)
    before = path.read_bytes()

    def interrupted_savez(f, **arrays):
        f.write(b"PK half a file")
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    monkeypatch.setattr("scratchnet.core.model.np.savez", interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        mnist_cnn(seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_save_refuses_non_float_parameters(tmp_path):
    broken = Sequential([Dense(2, 2)])
    broken.layers[0].params["W"] = np.array([object()])
    with pytest.raises(TypeError):
        broken.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


def test_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelFileError, match="no model at .* run `python train.py` first"):
        load_model(tmp_path / "nope.npz")


def test_truncated_model_file(tmp_path):
    path = tmp_path / "m.npz"
    mnist_cnn().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_model(path)


def test_flipped_byte_in_model_file(tmp_path):
    path = tmp_path / "m.npz"
    mnist_cnn().save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load_model(path)


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "m.npz"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match="not a scratchnet model file") as e:
        load_model(path)
    assert "pickle" not in str(e.value)   # NumPy's advice to load it unsafely is never shown


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a scratchnet model"):
        load_model(path)


def _rewrite_record(path, change):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    record = json.loads(str(arrays[RECORD_KEY]))
    change(record, arrays)
    arrays[RECORD_KEY] = np.array(json.dumps(record))
    np.savez(path, **arrays)


def test_newer_format_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    mnist_cnn().save(path)
    _rewrite_record(path, lambda r, a: r.update(version=99))
    with pytest.raises(ModelFileError, match="format version 99.*upgrade scratchnet"):
        load_model(path)


def test_shape_mismatch_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    mnist_cnn().save(path)
    _rewrite_record(path, lambda r, a: r["layers"][6]["config"].update(out_features=11))
    with pytest.raises(ModelFileError, match="parameter 6.W has shape"):
        load_model(path)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    mnist_cnn().save(path)
    _rewrite_record(path, lambda r, a: a.update({"0.b": np.array([object()] * 32)}))
    with pytest.raises(ModelFileError):
        load_model(path)


def test_model_without_conv_layers_round_trips(tmp_path):
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)], input_shape=(4,))
    model.save(tmp_path / "mlp.npz")
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(load_model(tmp_path / "mlp.npz").forward(x), model.forward(x))
    assert zipfile.is_zipfile(tmp_path / "mlp.npz")


def test_directory_instead_of_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


def test_a_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ModelFileError, match="a single array"):
        load_model(path)


def test_loading_a_model_leaves_later_networks_initialised_as_before(tmp_path):
    """load_model builds its layers without drawing random weights (they are read next); a
    network made afterwards still gets its seeded initialisation."""
    from scratchnet import mnist_cnn
    fresh = mnist_cnn(seed=3).parameters()
    mnist_cnn(seed=0).save(tmp_path / "m.npz")
    load_model(tmp_path / "m.npz")
    for key, value in mnist_cnn(seed=3).parameters().items():
        np.testing.assert_array_equal(value, fresh[key])
