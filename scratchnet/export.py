"""Export a scratchnet model to ONNX, for use outside Python (onnxruntime, browsers, C++).

    python -m scratchnet.export models/mnist_cnn.npz model.onnx

The graph takes "input" float32 (N, 1, 28, 28) in [0, 1] and returns "probabilities" (N, 10):
Conv, Relu, MaxPool, Flatten, Gemm and a final Softmax, opset 17. Needs the optional `onnx`
package (pip install -e ".[onnx]").
"""
import numpy as np

from .cli import Parser, run
from .errors import ScratchnetError
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU

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
    from .fileio import atomic_write
    from .model import load_model
    proto = to_onnx(load_model(model_path))
    with atomic_write(onnx_path) as f:
        f.write(proto.SerializeToString())
    return proto


def main(argv=None):
    p = Parser(prog="python -m scratchnet.export", description=__doc__.split("\n")[0])
    p.add_argument("model", help="a model file written by train.py (.npz)")
    p.add_argument("output", help="where to write the ONNX file")
    args = p.parse_args(argv)
    proto = export(args.model, args.output)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, opset {OPSET}")
    return 0


if __name__ == "__main__":
    run(main, prog="export")
