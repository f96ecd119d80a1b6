"""Export a scratchnet model to ONNX, for use outside Python (onnxruntime, browsers, C++).
(The command is `python -m scratchnet.export MODEL OUT`, see scratchnet/export.py.)

The graph takes "input" float32 (N, 1, 28, 28) in [0, 1] and returns "probabilities" (N, 10):
Conv, Relu, MaxPool, Flatten, Gemm and a final Softmax, opset 17. Needs the optional `onnx`
package (pip install -e ".[onnx]").
"""
import numpy as np

from ..core.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from ..core.model import load_model
from ..errors import ScratchnetError
from ..fileio import atomic_write

OPSET = 17


def to_onnx(model, name="scratchnet"):
    """Sequential -> onnx.ModelProto (checked with onnx.checker)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ScratchnetError("ONNX export needs the onnx package: pip install -e \".[onnx]\"") from None
    if model.input_shape is None:
        raise ScratchnetError("the model has no input_shape; cannot describe the ONNX input")
    nodes, weights = [], []
    current = "input"
    for i, layer in enumerate(model.layers):
        out = f"{type(layer).__name__.lower()}_{i}"
        if isinstance(layer, Conv2D):
            weights += [numpy_helper.from_array(layer.params["W"].astype(np.float32), f"W{i}"),
                        numpy_helper.from_array(layer.params["b"].astype(np.float32), f"b{i}")]
            p = layer.padding
            nodes.append(helper.make_node("Conv", [current, f"W{i}", f"b{i}"], [out],
                                          kernel_shape=list(layer.kernel_size),
                                          strides=[layer.stride] * 2, pads=[p, p, p, p]))
        elif isinstance(layer, ReLU):
            nodes.append(helper.make_node("Relu", [current], [out]))
        elif isinstance(layer, MaxPool2D):
            nodes.append(helper.make_node("MaxPool", [current], [out], kernel_shape=[layer.size] * 2,
                                          strides=[layer.stride] * 2))   # floor mode, like ours
        elif isinstance(layer, Flatten):
            nodes.append(helper.make_node("Flatten", [current], [out], axis=1))
        elif isinstance(layer, Dense):                                  # Y = X @ W + b
            weights += [numpy_helper.from_array(layer.params["W"].astype(np.float32), f"W{i}"),
                        numpy_helper.from_array(layer.params["b"].astype(np.float32), f"b{i}")]
            nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"b{i}"], [out]))
        else:
            raise ScratchnetError(f"cannot export layer {i}: {type(layer).__name__}")
        current = out
    nodes.append(helper.make_node("Softmax", [current], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *model.input_shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", None])],
        initializer=weights)
    proto = helper.make_model(graph, producer_name="scratchnet",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(proto)
    return proto


def export(model_path, onnx_path):
    """Read a model file, write its ONNX graph atomically; returns the onnx.ModelProto."""
    proto = to_onnx(load_model(model_path))
    with atomic_write(onnx_path) as f:
        f.write(proto.SerializeToString())
    return proto
