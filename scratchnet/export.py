"""Command: export a trained model to ONNX, or the demo as a static web folder.

    python -m scratchnet.export models/mnist_cnn.npz model.onnx
    python -m scratchnet.export --web site/ [models/mnist_cnn.npz]

Argument parsing and printing only; the work is scratchnet/apps/onnx_export.py and
scratchnet/apps/web_export.py.
"""
from .cli import Parser, run


def main(argv=None):
    p = Parser(prog="python -m scratchnet.export",
               description="Export a scratchnet model to ONNX (needs: pip install -e \".[onnx]\"), or with --web "
                           "the draw-a-digit page as a static folder that runs the network in the browser.")
    p.add_argument("model", nargs="?", default="models/mnist_cnn.npz", help="a model file written by train.py (.npz)")
    p.add_argument("output", nargs="?", help="where to write the ONNX file")
    p.add_argument("--web", metavar="DIR", help="write the static page (index.html, scratchnet.js, model.bin) into DIR")
    args = p.parse_args(argv)
    if args.web:
        if args.output:
            p.error("--web DIR takes the model only (no ONNX output file)")
        from .apps.web_export import export_web
        sizes = export_web(args.model, args.web)
        print(f"wrote {args.web}: " + ", ".join(f"{name} {size / 1024:,.0f} KB" for name, size in sizes.items())
              + f"; {sum(sizes.values()) / 1024:,.0f} KB in all")
        print(f"try it: python -m http.server -d {args.web}  (then http://127.0.0.1:8000/)")
        return 0
    if not args.output:
        p.error("give the ONNX file to write (or --web DIR)")
    from .apps.onnx_export import OPSET, export
    proto = export(args.model, args.output)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, opset {OPSET}")
    return 0


if __name__ == "__main__":
    run(main, prog="scratchnet.export")
