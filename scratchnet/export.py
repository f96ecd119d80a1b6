"""Command: export a trained model to ONNX.

    python -m scratchnet.export models/mnist_cnn.npz model.onnx

Argument parsing and printing only; the work is scratchnet/apps/onnx_export.py.
"""
from .cli import Parser, run


def main(argv=None):
    p = Parser(prog="python -m scratchnet.export",
               description="Export a scratchnet model to ONNX (needs: pip install -e \".[onnx]\").")
    p.add_argument("model", help="a model file written by train.py (.npz)")
    p.add_argument("output", help="where to write the ONNX file")
    args = p.parse_args(argv)
    from .apps.onnx_export import OPSET, export
    proto = export(args.model, args.output)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, opset {OPSET}")
    return 0


if __name__ == "__main__":
    run(main, prog="scratchnet.export")
