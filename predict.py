"""Predict the digit in one or more images with a trained scratchnet model.

    python predict.py --image digit.png
    Predicted digit : 7
    Confidence      : 0.9923

Real-world pictures are fine (any size, dark-on-light or light-on-dark, RGB/RGBA/palette/
16-bit): they are preprocessed the way MNIST digits were made (scratchnet/data/preprocess.py).
A picture that does not look like a digit is refused (scratchnet/apps/openset.py):

    python predict.py --image docs/letter_a.png
    Predicted digit : none (does not look like a digit)
    Closest digit   : 4
    Confidence      : 0.9925
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
                   help="one JSON object per image per line: file, digit, confidence, is_digit, "
                        "digit_score, probabilities, top3")
    p.add_argument("--accept-all", action="store_true",
                   help="never answer 'not a digit': name the closest digit for every picture")
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
    from scratchnet.apps.inference import Predictor, expand_paths

    paths = expand_paths(args.image)
    predictor = Predictor.load(args.model, accept_all=args.accept_all)   # NumPy kernels: no JIT
    if predictor.openset is None and not args.accept_all:
        why = ("its training was interrupted before the detector was fitted"
               if predictor.metadata.get("interrupted") else "trained before scratchnet 0.2")
        print(f"predict.py: note: {args.model} has no 'not a digit' detector ({why}): every "
              f"picture is taken for a digit", file=sys.stderr)
    results = predictor.predict_files(paths)
    for r in results:
        if r.error:
            if args.json:
                print(json.dumps(r.to_json()))
            print(f"predict.py: error: {r.error}", file=sys.stderr)
    good = [r for r in results if r.error is None]
    if args.json:
        for r in good:
            print(json.dumps(r.to_json()))
    elif len(results) == 1 and good:
        r = good[0]
        if r.is_digit:
            print(f"Predicted digit : {r.digit}")
        else:
            print("Predicted digit : none (does not look like a digit)")
            print(f"Closest digit   : {r.digit}")
        print(f"Confidence      : {r.confidence:.4f}")
        if args.top_k:
            print("Top " + f"{args.top_k}".ljust(12) + ": " +
                  ", ".join(f"{d} ({p:.4f})" for d, p in r.top(args.top_k)))
    elif good:
        width = max(len(r.file) for r in good)
        answers = [str(r.digit) if r.is_digit else f"none ({r.digit})" for r in good]   # (closest)
        cell = max(5, *map(len, answers))
        print(f"{'file':<{width}}  {'digit':>{cell}}  confidence" + ("  top-k" if args.top_k else ""))
        for r, answer in zip(good, answers):
            top = "  " + ", ".join(f"{d} ({p:.3f})" for d, p in r.top(args.top_k)) if args.top_k else ""
            print(f"{r.file:<{width}}  {answer:>{cell}}  {r.confidence:>10.4f}{top}")
    if args.save_input and good:
        from scratchnet.data.preprocess import write_digit_png
        write_digit_png(good[0].input, args.save_input)
    if args.explain and good:
        from scratchnet.apps.explain import explain_file
        explain_file(predictor.model, good[0].file, good[0].input, args.explain)
    return 0 if len(good) == len(results) else 1


if __name__ == "__main__":
    run(main)
