"""Prediction: cold-process predict.py wall time for one PNG, batch inference images/s on
the 10,000 test images, and accuracy on user-style PNGs made from MNIST test digits.

    python benchmarks/bench_predict.py [--model models/mnist_cnn.npz] [--styled 700]
                                       [--against OTHER_CHECKOUT ITS_MODEL]
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, header


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--data-dir")
    p.add_argument("--styled", type=int, default=700, help="number of user-style PNGs to score")
    p.add_argument("--runs", type=int, default=7, help="cold predict.py runs (median reported)")
    p.add_argument("--against", nargs=2, metavar=("CHECKOUT", "MODEL"),
                   help="also time another checkout's predict.py (with its own model file) in turns "
                        "with this one's, --runs pairs: the cold start's cost of a change")
    args = p.parse_args()
    import numpy as np
    from PIL import Image, ImageDraw
    from scratchnet import load_model
    from scratchnet.core import kernels
    from scratchnet.data.mnist import load_mnist, to_input
    from scratchnet.apps.inference import predict_files
    from scratchnet.data.preprocess import to_mnist_views
    from synthetic.userstyle import STYLES, stylise

    header("prediction benchmark")
    model = load_model(args.model)
    data = load_mnist(args.data_dir, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "digit.png"
        stylise(data.test_images[0], "ink_on_paper", np.random.default_rng(0)).save(png)
        # a 7 drawn with a fat marker: preprocessing thins it, and the open set scores it by two views
        fat = Path(tmp) / "fat.png"
        seven = Image.new("L", (280, 280), 255)
        ImageDraw.Draw(seven).line([(40, 40), (240, 40), (110, 250)], fill=0, width=70, joint="curve")
        seven.save(fat)
        x, as_drawn = to_mnist_views(seven)
        assert as_drawn is not x, "the fat 7 is no longer thinned: draw a fatter one"

        def cold(script, model_file, picture):
            """Wall time of one predict.py process on the PNG."""
            start = time.perf_counter()
            subprocess.run([sys.executable, str(script), "--image", str(picture), "--model", model_file],
                           check=True, capture_output=True)
            return time.perf_counter() - start
        ours = (ROOT / "predict.py", args.model)
        for picture, what in ((png, "digit.png"), (fat, "fat.png, a fat marker's digit, thinned")):
            walls = [cold(*ours, picture) for _ in range(args.runs)]
            w, h = Image.open(picture).size
            print(f"cold `python predict.py --image {picture.name}` ({what}; {picture.stat().st_size:,} B, "
                  f"{w}x{h}): median {statistics.median(walls):.3f} s, min {min(walls):.3f} s over {args.runs} runs")
            if args.against:
                theirs = (Path(args.against[0]) / "predict.py", args.against[1])
                differences = []
                for pair in range(args.runs):      # in turns, the order alternating
                    first, second = (ours, theirs) if pair % 2 == 0 else (theirs, ours)
                    t = {first: cold(*first, picture), second: cold(*second, picture)}
                    differences.append(t[ours] - t[theirs])
                print(f"  against {args.against[0]} in turns, {args.runs} pairs: this one "
                      f"{1e3 * statistics.median(differences):+.1f} ms a run (median; "
                      f"{1e3 * min(differences):+.1f} to {1e3 * max(differences):+.1f})")

        x = to_input(data.test_images)
        for backend in ("jit", "reference"):
            with kernels.using(backend):
                model.predict_proba(x[:1000])  # warm-up (JIT)
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    probs = model.predict_proba(x, batch_size=1000)
                    best = min(best, time.perf_counter() - start)
            acc = (probs.argmax(axis=1) == data.test_labels).mean()
            print(f"batch inference, {backend:9s} kernels, batch 1000: {len(x) / best:9,.0f} images/s "
                  f"(test accuracy {acc:.4f})")

        rng = np.random.default_rng(2026)
        idx = rng.choice(len(data.test_images), size=args.styled, replace=False)
        paths = []
        for n, i in enumerate(idx):
            path = Path(tmp) / f"{n:04d}_{STYLES[n % len(STYLES)]}.png"
            stylise(data.test_images[i], STYLES[n % len(STYLES)], rng).save(path)
            paths.append(path)
        start = time.perf_counter()
        results = predict_files(model, paths)
        seconds = time.perf_counter() - start
        pred = np.array([r.digit if r.error is None else -1 for r in results])
        labels = data.test_labels[idx]
        plain = (model.predict(x[idx]) == labels).mean()
        print(f"\nuser-style PNGs: {len(paths)} test digits, {len(STYLES)} styles "
              f"({seconds / len(paths) * 1e3:.1f} ms per image incl. preprocessing)")
        print(f"  same digits as plain 28x28 arrays: {plain:.4f}")
        print(f"  as user-style PNGs:                {(pred == labels).mean():.4f} "
              f"(difference {100 * ((pred == labels).mean() - plain):+.2f} points)")
        for s, style in enumerate(STYLES):
            sel = slice(s, None, len(STYLES))
            print(f"    {style:16s} {(pred[sel] == labels[sel]).mean():.4f}")


if __name__ == "__main__":
    main()
