"""ONNX export: onnxruntime gives scratchnet's probabilities on 1,000 MNIST test digits."""
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import load_model
from scratchnet.data.mnist import to_input
from scratchnet.errors import ScratchnetError
from scratchnet.apps.onnx_export import to_onnx
from scratchnet.core.layers import Dense
from scratchnet.core.model import Sequential
from scratchnet.core.networks import mnist_mlp


def run_onnx(path, x):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"input": x})[0]


def test_onnx_matches_scratchnet_on_1000_test_digits(model_file, mnist, tmp_path):
    out = tmp_path / "model.onnx"
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", str(model_file), str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import onnx
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops == ["Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"]
    x = to_input(mnist.test_images[:1000])
    ours = load_model(model_file).predict_proba(x)
    theirs = run_onnx(out, x)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).all()


def test_padding_and_stride_export(tmp_path):
    from scratchnet.core.layers import Conv2D, Flatten, MaxPool2D, ReLU
    rng = np.random.default_rng(0)
    model = Sequential([Conv2D(1, 4, 3, stride=2, padding=1, rng=rng), ReLU(), MaxPool2D(3, 2),
                        Flatten(), Dense(4 * 6 * 6, 10, rng=rng)], input_shape=(1, 28, 28))
    x = rng.random((5, 1, 28, 28), dtype=np.float32)
    (tmp_path / "m.onnx").write_bytes(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), model.predict_proba(x), atol=1e-6)


def test_mlp_exports_too(tmp_path):
    model = mnist_mlp(seed=1)
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    (tmp_path / "m.onnx").write_bytes(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), model.predict_proba(x), atol=1e-6)


def test_the_fast_recipes_network_exports_too(tmp_path):
    from scratchnet.core.networks import mnist_fast_cnn
    model = mnist_fast_cnn(seed=2)
    for key, b in model.parameters().items():       # non-zero biases, as after training
        if key.endswith(".b"):
            b[:] = np.random.default_rng(1).standard_normal(b.shape) * 0.1
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    (tmp_path / "m.onnx").write_bytes(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), model.predict_proba(x), atol=1e-6)


def test_model_without_input_shape_is_refused():
    with pytest.raises(ScratchnetError, match="input_shape"):
        to_onnx(Sequential([Dense(4, 2)]))


def test_missing_model_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", str(tmp_path / "x.npz"),
                           str(tmp_path / "y.onnx")], capture_output=True, text=True)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "no model at" in proc.stderr and not (tmp_path / "y.onnx").exists()


def test_unwritable_output_one_line_error(model_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run([sys.executable, "-m", "scratchnet.export", str(model_file),
                           str(blocker / "m.onnx")], capture_output=True, text=True)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("scratchnet.export: error:") and "Traceback" not in proc.stderr
