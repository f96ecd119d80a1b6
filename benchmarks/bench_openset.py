"""'Not a digit': how well a trained model's open-set detector tells digits from non-digits,
on data the detector never saw, against the simpler scores it was chosen over.

    python benchmarks/bench_openset.py [--model models/mnist_cnn.npz] [--fashion DIR]

Digits: MNIST's test set (as 28x28 PNGs through predict.py's preprocessing) and user-style
PNGs of MNIST test digits (synthetic/userstyle.py). Non-digits: Fashion-MNIST's test set
(Debian's dataset-fashion-mnist; never used for training or calibration), as PNGs too, and
seeded non-digit pictures from synthetic/nondigits.py (another generator than the one the
detector learnt from, with other seeds): letters, shapes, scribbles, noise, textures.
Reported per score: AUROC (digits vs each kind) and the share refused at the threshold that
accepts ACCEPT (99.5%) of the held-out validation digits, as the detector's stored threshold does.
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, header

COLD_PAIRS = 15   # cold predict.py runs with and without the detector, in pairs

FASHION = Path("/usr/share/datasets/fashion-mnist")


def auroc(pos, neg):
    """P(score of a random digit > score of a random non-digit), ties counted half."""
    import numpy as np
    _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]      # 1-based, ties get their average
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "models" / "mnist_cnn.npz"))
    p.add_argument("--data-dir")
    p.add_argument("--fashion", default=str(FASHION), help="folder with Fashion-MNIST's IDX files")
    p.add_argument("--per-kind", type=int, default=300, help="synthetic non-digits of each kind")
    args = p.parse_args()
    import numpy as np
    from PIL import Image
    from scratchnet.apps.inference import Predictor
    from scratchnet.apps.openset import ACCEPT, features, fit_open_set
    from scratchnet.data.idx import read_idx
    from scratchnet.data.mnist import load_mnist, split_validation, to_input
    from scratchnet.data.preprocess import to_mnist
    from synthetic.nondigits import KINDS, generate, issue_pictures
    from synthetic.userstyle import STYLES, stylise

    header("open set: 'not a digit'")
    predictor = Predictor.load(args.model)
    model, openset = predictor.model, predictor.openset
    if openset is None:
        sys.exit(f"{args.model} has no open-set detector: train it with train.py")
    data = load_mnist(args.data_dir, progress=False)
    (train, train_labels), (val, _) = split_validation(data.train_images, data.train_labels, 0.1)

    def preprocessed(pictures):
        return np.stack([to_mnist(p) for p in pictures])[:, None].astype(np.float32)

    start = time.perf_counter()
    sets = {"MNIST test (as PNGs)": preprocessed(Image.fromarray(d) for d in data.test_images)}
    rng = np.random.default_rng(2026)
    idx = rng.choice(len(data.test_images), size=700, replace=False)
    styled = preprocessed(stylise(data.test_images[i], STYLES[n % len(STYLES)], rng) for n, i in enumerate(idx))
    fashion = read_idx(Path(args.fashion) / "t10k-images-idx3-ubyte.gz")
    negatives = {"Fashion-MNIST (as PNGs)": preprocessed(Image.fromarray(f) for f in fashion)}
    for kind in KINDS:
        negatives[kind] = preprocessed(generate(kind, args.per_kind, seed=2026))
    print(f"pictures made and preprocessed in {time.perf_counter() - start:.0f} s")

    # the scores compared: higher = more digit-like; thresholds accept ACCEPT of validation digits
    feats_train = features(model, to_input(train[:20000]))
    C = 32
    conv_means, hidden = feats_train[:, :C], feats_train[:, 2 * C:2 * C + 100]
    labels = train_labels[:20000]

    def gaussian(f):
        means = np.stack([f[labels == k].mean(0) for k in range(10)])
        centred = f - means[labels]
        cov = centred.T @ centred / len(f)
        precision = np.linalg.inv(cov + 1e-3 * np.trace(cov) / len(cov) * np.eye(len(cov)))
        return lambda g: -np.einsum("nkd,de,nke->nk", g[:, None] - means, precision, g[:, None] - means).min(1)

    maha_conv, maha_hidden = gaussian(conv_means), gaussian(hidden)

    def scores(x):
        f = features(model, x)
        logits = f[:, -11:-1]
        z = logits - logits.max(1, keepdims=True)
        return {"max softmax": np.exp(z).max(1) / np.exp(z).sum(1), "energy": f[:, -1],
                "Mahalanobis, hidden": maha_hidden(f[:, 2 * C:2 * C + 100]),
                "Mahalanobis, conv means": maha_conv(f[:, :C]),
                "detector (the one used)": openset.scores(model, x)}

    val_scores = scores(to_input(val))
    thresholds = {k: np.quantile(v, 1 - ACCEPT) for k, v in val_scores.items()}
    thresholds["detector (the one used)"] = openset.threshold
    digit_scores = {name: scores(x) for name, x in sets.items()}
    styled_scores = scores(styled)
    negative_scores = {name: scores(x) for name, x in negatives.items()}
    test = digit_scores["MNIST test (as PNGs)"]

    print("\nAUROC, MNIST test digits vs each kind of non-digit (1 = perfectly apart):")
    print(f"{'score':26s} " + " ".join(f"{k[:12]:>12s}" for k in negatives))
    for method in val_scores:
        print(f"{method:26s} " + " ".join(f"{auroc(test[method], s[method]):12.4f}" for s in negative_scores.values()))
    print(f"\nrefused at the threshold that accepts {ACCEPT:.1%} of the validation digits:")
    print(f"{'score':26s} " + " ".join(f"{k[:12]:>12s}" for k in negatives) + "  synthetic")
    for method, t in thresholds.items():
        refused = [float((s[method] < t).mean()) for s in negative_scores.values()]
        print(f"{method:26s} " + " ".join(f"{r:12.1%}" for r in refused) + f"  {np.mean(refused[1:]):9.1%}")
    t = openset.threshold
    d = "detector (the one used)"
    print(f"\nthe detector, at its stored threshold {t:.3f}:")
    print(f"  MNIST test digits accepted (10,000, as PNGs): {(test[d] >= t).mean():.2%}")
    print(f"  MNIST test digits accepted (as arrays):       "
          f"{(openset.scores(model, to_input(data.test_images)) >= t).mean():.2%}")
    print(f"  user-style PNGs accepted ({len(styled)}): {(styled_scores[d] >= t).mean():.2%}; per style: " +
          ", ".join(f"{s} {(styled_scores[d][i::len(STYLES)] >= t).mean():.0%}" for i, s in enumerate(STYLES)))
    print(f"  Fashion-MNIST refused: {(negative_scores['Fashion-MNIST (as PNGs)'][d] < t).mean():.2%}, "
          f"AUROC {auroc(test[d], negative_scores['Fashion-MNIST (as PNGs)'][d]):.4f}")
    synthetic = np.concatenate([negative_scores[k][d] for k in KINDS])
    print(f"  synthetic non-digits refused ({len(synthetic)}): {(synthetic < t).mean():.2%}")
    six = issue_pictures()
    six_x = preprocessed(six.values())
    six_scores = openset.scores(model, six_x)
    print("  issue 13's six pictures: " + ", ".join(
        f"{name}: {'refused' if s < t else 'ACCEPTED'}" for name, s in zip(six, six_scores)))
    # how firmly: the threshold minus each picture's score (log-odds; > 0 = refused), for the
    # stored detector and for detectors fitted again with other seeds (same model, same examples)
    print("\nthe six pictures' margin below the threshold (log-odds; > 0: refused), detector seed by seed:")
    print(f"  {'detector':10s} " + " ".join(f"{name[:14]:>14s}" for name in six))
    print(f"  {'stored':10s} " + " ".join(f"{t - s:14.2f}" for s in six_scores))
    for seed in range(1, 4):
        again = fit_open_set(model, train, val, to_input, seed=seed)
        margins = again.threshold - again.scores(model, six_x)
        print(f"  {'seed ' + str(seed):10s} " + " ".join(f"{m:14.2f}" for m in margins), flush=True)

    # what a cold predict.py pays for the detector: the same model file with and without it
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "digit.png"
        stylise(data.test_images[0], "ink_on_paper", np.random.default_rng(0)).save(png)
        plain = Path(tmp) / "plain.npz"
        bare = type(model).clone(model)
        bare.extras = {}
        bare.save(plain)
        # in pairs, the first of each pair alternating, and the median of the pairs'
        # differences: a cold start moves by tens of ms with the host, a pair much less
        walls = {"with detector": [], "without": []}
        runs = (("with detector", args.model), ("without", plain))
        for pair in range(COLD_PAIRS):
            for name, path in runs if pair % 2 == 0 else runs[::-1]:
                begin = time.perf_counter()
                subprocess.run([sys.executable, str(ROOT / "predict.py"), "--image", str(png), "--model",
                                str(path)], check=True, capture_output=True)
                walls[name].append(time.perf_counter() - begin)
        med = {k: float(np.median(v)) for k, v in walls.items()}
        extra = float(np.median(np.subtract(walls["with detector"], walls["without"])))
        print(f"\ncold `python predict.py` (median of {COLD_PAIRS}, in pairs): {med['with detector']:.3f} s with "
              f"the detector, {med['without']:.3f} s without; the detector's cost, median of the pairs' "
              f"differences: {1e3 * extra:+.0f} ms")


if __name__ == "__main__":
    main()
