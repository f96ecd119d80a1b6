"""'Not a digit' on digits drawn the way people draw them, and on what people try that is not a
digit: the share of each kind kept (digits) or refused (non-digits), and the picture grids.

    python benchmarks/bench_openset.py [--model models/mnist_cnn.npz] [--grids docs]

Digits: MNIST's test set (as 28x28 PNGs through predict.py's preprocessing), the user-style
PNGs (synthetic/userstyle.py), MNIST test digits re-drawn in pen styles (synthetic/
drawstyles.py: a 1-px paint tool, fine pen, marker, pressure pen, small on a big canvas, a
photo of paper, cropped tight to the ink), a screenshot of a canvas demo (the canvas in its
frame, the page, a title and buttons around it), digits drawn up to their canvas's side or
corner, 1s drawn with a line tool (one straight stroke), digits drawn with a 1-px pencil on a
canvas bigger than the working size and on one the size of a screen (720p to 4K), the same
in a paint program's window captured (a toolbar, a light, grey or dark page), and
scikit-learn's UCI handwritten digits (43 people).
Non-digits: handwritten-looking letters, symbols, five other scripts (fonts from Debian's
packages), doodles, scribbles, blank-ish noise, letters in eight handwriting-style fonts,
Fashion-MNIST (Debian's dataset-fashion-mnist), joined-up letters drawn with a pen
(Hershey's script simplex, Debian's hershey-fonts-data); the digit-shaped letters (Latin,
and the Hebrew lamed and resh, a 7's bar and down-stroke) are reported apart. None of these
pictures come from the code, fonts or seeds the detector was trained on
(scratchnet/data/nondigits.py), though the joined-up letters' hand is among its fonts too, as
Hershey's script complex (the same letters drawn with doubled lines). A picture preprocessing refuses as blank counts as refused. "named right" is predict.py's answer
(the network and the outlier networks together, OpenSet.answer); "network alone" the network's.

For a kind of characters refused under 90%, the characters that fail, one by one. Writes
docs/openset_refused_digits.png and docs/openset_accepted_nondigits.png: what "none" means,
at a glance.
"""
import argparse
import sys
import time
from pathlib import Path

from common import ROOT, header

FASHION = Path("/usr/share/datasets/fashion-mnist")
GRID = 12   # pictures a row in the grids
FASHION_CLASSES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")


def auroc(pos, neg):
    """P(score of a random digit > score of a random non-digit), ties counted half."""
    import numpy as np
    _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]      # 1-based, ties get their average
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def wilson(hits, n, z=1.96):
    """The 95% Wilson score interval of a share hits/n, as "(low-high)" in percent: 200
    pictures of a kind pin a share of 90% only to about +-4 points."""
    p, z2 = hits / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * ((p * (1 - p) + z2 / (4 * n)) / n) ** 0.5 / (1 + z2 / n)
    return f"({100 * (centre - half):.1f}-{100 * (centre + half):.1f})"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--data-dir")
    p.add_argument("--fashion", default=str(FASHION), help="folder with Fashion-MNIST's IDX files")
    p.add_argument("--per-kind", type=int, default=200, help="pictures of each kind of non-digit")
    p.add_argument("--per-style", type=int, default=300, help="digits drawn in each pen style")
    p.add_argument("--per-character", type=int, default=20,
                   help="drawings of each character of a kind of characters refused under 90%%")
    p.add_argument("--grids", default=str(ROOT / "docs"), help="where to write the picture grids")
    args = p.parse_args()
    import numpy as np
    from PIL import Image
    from scratchnet.apps.inference import Predictor
    from scratchnet.data.idx import read_idx
    from scratchnet.data.mnist import load_mnist
    from scratchnet.data.preprocess import to_mnist_views
    from scratchnet.data.strokes import stroke_width
    from scratchnet.errors import ImageError
    from synthetic.drawstyles import (DIGIT_STYLES, draw_digit, drawn_to_the_edge, nondigit_kinds,
                                      paint_window, pencil_on_a_big_canvas, pencil_on_a_screen, ruled_one,
                                      screenshot, stamped, uci_digits)
    from synthetic.userstyle import STYLES, stylise

    header("open set: 'not a digit' on digits drawn as people draw them")
    predictor = Predictor.load(args.model)
    model, openset = predictor.model, predictor.openset
    if openset is None:
        sys.exit(f"{args.model} has no 'not a digit' detector: train it with train.py")
    t = openset.threshold
    data = load_mnist(args.data_dir, progress=False)

    widths = np.array([stroke_width(d > 127) for d in data.test_images[:2000]])
    print("MNIST's stroke width (ink area / skeleton length, px at 28x28, 2,000 test digits): "
          "median {:.2f}, 5th-95th percentile {:.2f}-{:.2f}, mean {:.2f}".format(
              np.median(widths), *np.percentile(widths, [5, 95]), widths.mean()))

    def judge(pictures):
        """Pictures -> (scores, digits named (predict.py's answer), inputs, digits the network
        alone names); a picture refused as blank scores -inf."""
        inputs, drawn = [], []
        for picture in pictures:
            try:
                x, as_drawn = to_mnist_views(picture)
            except ImageError:
                x = as_drawn = None
            inputs.append(x)
            drawn.append(as_drawn)
        ok = [i for i, x in enumerate(inputs) if x is not None]
        scores, named, alone = np.full(len(inputs), -np.inf), np.full(len(inputs), -1), np.full(len(inputs), -1)
        if ok:   # as predict.py: a picture the stroke-width step thinned scored by both views
            s, logits, answer = openset.answer(model, np.stack([inputs[i] for i in ok])[:, None],
                                               as_drawn=np.stack([drawn[i] for i in ok])[:, None])
            scores[ok], named[ok], alone[ok] = s, answer.argmax(1), logits.argmax(1)
        return scores, named, [np.zeros((28, 28)) if x is None else x for x in inputs], alone

    start = time.perf_counter()
    rng = np.random.default_rng(2026)
    digits = {"MNIST test (as PNGs)": ([Image.fromarray(d) for d in data.test_images], data.test_labels)}
    pick = rng.choice(len(data.test_images), size=len(STYLES) * 100, replace=False)
    digits["user-style PNGs"] = ([stylise(data.test_images[i], STYLES[n % len(STYLES)], rng)
                                  for n, i in enumerate(pick)], data.test_labels[pick])
    for style in DIGIT_STYLES:
        pick = rng.choice(len(data.test_images), size=args.per_style, replace=False)
        digits[style.replace("_", " ")] = ([draw_digit(data.test_images[i], style, rng) for i in pick],
                                           data.test_labels[pick])
    shots = np.random.default_rng(2028)    # its own seed: the pictures after it stay as they were
    pick = shots.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["canvas screenshot"] = ([screenshot(data.test_images[i], shots) for i in pick], data.test_labels[pick])
    edges = np.random.default_rng(2029)    # its own seed too
    pick = edges.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["drawn to the edge"] = ([drawn_to_the_edge(data.test_images[i], edges) for i in pick],
                                   data.test_labels[pick])
    ones = np.random.default_rng(2030)     # its own seed too
    digits["a 1 with a line tool"] = ([ruled_one(ones) for _ in range(args.per_style)], np.ones(args.per_style, int))
    pencils = np.random.default_rng(2031)  # its own seed too
    pick = pencils.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["1-px pencil, big canvas"] = ([pencil_on_a_big_canvas(data.test_images[i], pencils) for i in pick],
                                         data.test_labels[pick])
    screens = np.random.default_rng(2032)  # its own seed too; drawn as judged (a 4K picture is 33 MB)
    pick = screens.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["1-px pencil, screen"] = ((pencil_on_a_screen(data.test_images[i], screens) for i in pick),
                                     data.test_labels[pick])
    windows = np.random.default_rng(2033)  # its own seed too; drawn as judged
    pick = windows.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["paint program screenshot"] = ((paint_window(data.test_images[i], windows) for i in pick),
                                          data.test_labels[pick])
    stamps = np.random.default_rng(2034)   # its own seed too
    pick = stamps.choice(len(data.test_images), size=args.per_style, replace=False)
    digits["stamped pen dots"] = ([stamped(data.test_images[i], stamps) for i in pick], data.test_labels[pick])
    digits["UCI handwritten 8x8"] = uci_digits()
    results = {name: (*judge(pictures), np.asarray(labels)) for name, (pictures, labels) in digits.items()}

    nondigits, missing = {}, []
    for kind, (make, available) in nondigit_kinds().items():
        if available:
            nondigits[kind] = judge(make(rng) for _ in range(args.per_kind))
        else:
            missing.append(kind)
    if Path(args.fashion, "t10k-images-idx3-ubyte.gz").is_file():
        fashion = read_idx(Path(args.fashion) / "t10k-images-idx3-ubyte.gz")[:2000]
        nondigits["Fashion-MNIST"] = judge(Image.fromarray(f) for f in fashion)
    else:
        missing.append("Fashion-MNIST")
    print(f"pictures drawn and judged in {time.perf_counter() - start:.0f} s; threshold {t:.3f}")
    if missing:
        print("not measured (install Debian's fonts-dejavu-core, fonts-lohit-deva, fonts-wqy-microhei, "
              "fonts-dkg-handwriting, fonts-femkeklaver, fonts-kristi, fonts-ecolier-court, fonts-humor-sans, "
              "fonts-comic-neue, fonts-klee, fonts-cabinsketch, hershey-fonts-data, "
              "dataset-fashion-mnist): " + ", ".join(missing))

    print(f"\n{'digits':26s} {'pictures':>8s} {'kept':>8s} {'named right':>12s} {'right, if kept':>15s} "
          f"{'network alone':>14s}  kept: 95% interval")
    for name, (scores, named, _, alone, labels) in results.items():
        kept = scores >= t
        right = named == labels
        print(f"{name:26s} {len(scores):8,d} {kept.mean():8.2%} {(kept & right).mean():12.2%} "
              f"{right[kept].mean() if kept.any() else 0:15.2%} {(kept & (alone == labels)).mean():14.2%}  "
              f"{wilson(kept.sum(), len(kept))}")
    print(f"\n{'not digits':26s} {'pictures':>8s} {'refused':>8s}  95% interval")
    for kind, (scores, *_) in nondigits.items():
        print(f"{kind:26s} {len(scores):8,d} {(scores < t).mean():8.2%}  {wilson((scores < t).sum(), len(scores))}")

    drawn = np.concatenate([results[n][0] for n in results if n != "MNIST test (as PNGs)"])
    others = np.concatenate([s for k, (s, *_) in nondigits.items() if not k.startswith("digit-shaped")])
    mnist = results["MNIST test (as PNGs)"][0]
    print(f"\nAUROC, drawn digits ({len(drawn):,}) vs non-digits but the digit-shaped letters "
          f"({len(others):,}): {auroc(drawn, others):.4f}; MNIST test vs the same: {auroc(mnist, others):.4f}")

    # where a kind of characters refused under 90% fails: its characters one by one
    rows = []
    per_char = np.random.default_rng(2027)
    for kind, (make, available) in nondigit_kinds().items():
        if not available or not hasattr(make, "characters") or kind.startswith("digit-shaped") \
                or (nondigits[kind][0] < t).mean() >= 0.9:
            continue
        cells = []
        for char in make.characters:
            scores, named, *_ = judge(make(per_char, char) for _ in range(args.per_character))
            taken = named[scores >= t]
            cells.append((np.mean(scores < t), char, np.bincount(taken, minlength=10).argmax() if len(taken) else None))
        rows.append(f"{kind:12s} " + "  ".join(f"{c} {r:.0%}" + ("" if d is None else f" ({d})")
                                               for r, c, d in sorted(cells) if r < 0.9))
    if rows:
        print(f"\nkinds refused under 90%: their characters refused under 90% ({args.per_character} drawings "
              f"each; in brackets the digit most taken for)")
        print("\n".join(rows))
    labels = Path(args.fashion, "t10k-labels-idx1-ubyte.gz")
    if "Fashion-MNIST" in nondigits and labels.is_file():
        kinds = read_idx(labels)[:len(nondigits["Fashion-MNIST"][0])]
        refused = nondigits["Fashion-MNIST"][0] < t
        print("Fashion-MNIST refused per class: " + ", ".join(
            f"{name} {refused[kinds == k].mean():.0%}" for k, name in enumerate(FASHION_CLASSES)))

    # the grids: refused digits (per suite), accepted non-digits (per kind)
    def grid(rows, path):
        tiles = []
        for name, images in rows:
            row = np.zeros((28, 28 * GRID))
            for k, x in enumerate(images[:GRID]):
                row[:, 28 * k:28 * (k + 1)] = x
            tiles.append(row)
        picture = np.vstack(tiles) if tiles else np.zeros((28, 28 * GRID))
        Image.fromarray((picture * 255).astype(np.uint8)).resize(
            (picture.shape[1] * 3, picture.shape[0] * 3), Image.Resampling.NEAREST).save(path)
        print(f"{path}: " + "; ".join(f"{name} ({len(images)})" for name, images in rows))

    Path(args.grids).mkdir(parents=True, exist_ok=True)
    print()
    grid([(name, [x for x, s in zip(inputs, scores) if s < t])
          for name, (scores, _, inputs, _, _) in results.items() if (scores < t).any()],
         Path(args.grids) / "openset_refused_digits.png")
    grid([(kind, [x for x, s in zip(inputs, scores) if s >= t])
          for kind, (scores, _, inputs, _) in nondigits.items() if (scores >= t).any()],
         Path(args.grids) / "openset_accepted_nondigits.png")

    # what the stroke-width step costs a picture: with and without it, in pairs
    from scratchnet.data import preprocess
    sample = digits["fine pen"][0][:60]
    costs = {True: [], False: []}
    for pair in range(3):
        for normalise in ((True, False) if pair % 2 == 0 else (False, True)):
            begin = time.perf_counter()
            for picture in sample:
                preprocess.to_mnist(picture, normalise_strokes=normalise)
            costs[normalise].append((time.perf_counter() - begin) / len(sample))
    extra = np.median(np.subtract(costs[True], costs[False]))
    print(f"\npreprocessing a 280 px drawing: {1e3 * np.median(costs[True]):.1f} ms with the stroke width "
          f"normalised, {1e3 * np.median(costs[False]):.1f} ms without (median of 3 pairs; "
          f"difference {1e3 * extra:+.1f} ms)")
    searches = {}
    for name in ("fine pen", "canvas screenshot"):
        greys = [preprocess._shrink(preprocess.to_grey(p), preprocess.WORK_SIZE) for p in digits[name][0][:60]]
        begin = time.perf_counter()
        for grey in greys:
            preprocess.drawing_area(grey)
        searches[name] = 1e3 * (time.perf_counter() - begin) / len(greys)
    print("looking for a screenshot's drawing area: " + ", ".join(f"{v:.2f} ms a {k} picture"
                                                                 for k, v in searches.items()))


if __name__ == "__main__":
    main()
