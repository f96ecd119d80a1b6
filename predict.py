"""Predict the digit in one or more images with a trained scratchnet model.

    python predict.py --image digit.png
    Predicted digit : 7
    Confidence      : 0.9923

Real-world pictures are fine (any size, dark-on-light or light-on-dark, RGB/RGBA/palette/
16-bit): they are preprocessed the way MNIST digits were made (scratchnet/preprocess.py).
"""
import json
import sys

from scratchnet.cli import Parser, positive_int, run


def parse_args(argv=None):
    p = Parser(description="Predict handwritten digits in images with a scratchnet model.")
    p.add_argument("--image", nargs="+", required=True, metavar="PATH",
                   help="image file(s) or directories of images")
    p.add_argument("--model", default="models/mnist_cnn.npz", help="model file written by train.py")
    p.add_argument("--top-k", type=positive_int, metavar="K", help="also show the K most likely digits")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per image per line: file, digit, confidence, probabilities")
    p.add_argument("--save-input", metavar="OUT.png",
                   help="save the 28x28 image the network saw (first image)")
    p.add_argument("--explain", metavar="OUT.png",
                   help="save a figure explaining the first image's prediction: the image, what the "
                        "network saw, Grad-CAM, saliency and the 10 probabilities")
    args = p.parse_args(argv)
    if args.top_k is not None and args.top_k > 10:
        p.error(f"argument --top-k: at most 10 digits, got {args.top_k}")
    return args


def main():
    args = parse_args()
    from scratchnet import kernels
    from scratchnet.inference import expand_paths, predict_files
    from scratchnet.model import load_model

    kernels.use("reference")  # a few images: NumPy is instant, and there is no JIT to wait for

    paths = expand_paths(args.image)
    model = load_model(args.model)
    results = predict_files(model, paths)
    for r in results:
        if r.error:
            if args.json:
                print(json.dumps({"file": r.file, "error": r.error}))
            print(f"predict.py: error: {r.error}", file=sys.stderr)
    good = [r for r in results if r.error is None]
    if args.json:
        for r in good:
            print(json.dumps({"file": r.file, "digit": r.digit, "confidence": round(r.confidence, 6),
                              "probabilities": [round(p, 6) for p in r.probabilities]}))
    elif len(results) == 1 and good:
        r = good[0]
        print(f"Predicted digit : {r.digit}")
        print(f"Confidence      : {r.confidence:.4f}")
        if args.top_k:
            print("Top " + f"{args.top_k}".ljust(12) + ": " +
                  ", ".join(f"{d} ({p:.4f})" for d, p in r.top(args.top_k)))
    elif good:
        width = max(len(r.file) for r in good)
        print(f"{'file':<{width}}  digit  confidence" + ("  top-k" if args.top_k else ""))
        for r in good:
            top = "  " + ", ".join(f"{d} ({p:.3f})" for d, p in r.top(args.top_k)) if args.top_k else ""
            print(f"{r.file:<{width}}  {r.digit:>5}  {r.confidence:>10.4f}{top}")
    if args.save_input and good:
        from scratchnet.fileio import atomic_write
        from scratchnet.preprocess import save_digit_png
        with atomic_write(args.save_input) as f:
            save_digit_png(good[0].input, f)
    if args.explain and good:
        from scratchnet.explain import explain
        from scratchnet.plots import explanation_png
        from scratchnet.preprocess import load_image, to_grey
        r = good[0]
        explanation_png(to_grey(load_image(r.file)), r.input, explain(model, r.input), args.explain)
    return 0 if len(good) == len(results) else 1


if __name__ == "__main__":
    run(main)
