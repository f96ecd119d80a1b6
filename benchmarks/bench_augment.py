"""`train.py --augment`: the recipe against the reference recipe, over several seeds, on MNIST,
on user-style PNGs, on digits re-drawn in pen styles (synthetic/drawstyles.py) and on
handwriting that is not MNIST; each augmentation's effect alone;
what augmenting costs.

    pip install scikit-learn          # optional: its UCI handwritten digits (inside the wheel)
    python benchmarks/bench_augment.py [--seeds 3] [--ablation-epochs 16] [--skip-ablation] [--answer]

Handwriting that is not MNIST, from a package registry without a download at run time: Debian
has only Fashion-MNIST; PyPI's emnist, tensorflow-datasets and torchvision fetch their data
when first used; scikit-learn ships UCI's "optical recognition of handwritten digits" (1,797
digits by 43 people, 8x8 pixels, 16 grey levels) inside its wheel. Those are scaled up to
56x56, drawn dark on light, and go through predict.py's preprocessing like any picture.

--answer also trains each run's "not a digit" detector and outlier networks as train.py does
(apps/openset.fit_open_set) and reports the UCI digits as predict.py names them: the network
and the outlier networks together (OpenSet.answer). The other columns are the network's alone.
"""
import argparse
import statistics
import time

from common import header
from scratchnet.cli import set_threads


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--ablation-epochs", type=int, default=None,
                   help="epochs of each ablation run (default: the recipe's)")
    p.add_argument("--skip-ablation", action="store_true")
    p.add_argument("--styled", type=int, default=700, help="user-style PNGs (100 per style)")
    p.add_argument("--data-dir")
    p.add_argument("--threads", type=int)
    p.add_argument("--limit", type=int, help="train on the first N images only (a quick check of the script)")
    p.add_argument("--epochs", type=int, help="override both recipes' epochs (a quick check)")
    p.add_argument("--answer", action="store_true",
                   help="also fit each run's open set and report UCI as predict.py answers (~30 s a run)")
    args = p.parse_args()
    set_threads(args.threads)
    import numpy as np
    from PIL import Image
    from scratchnet import mnist_cnn
    from scratchnet.core.training import evaluate, fit, warm_up
    from scratchnet.data.augment import Augmentation, Augmenter, random_parameters
    from scratchnet.data.mnist import load_mnist, split_validation, to_input
    from scratchnet.data.preprocess import to_mnist, to_mnist_views
    from scratchnet.apps.recipes import AUGMENTED, REFERENCE
    RECIPE = Augmentation(**AUGMENTED.augmentation)
    from synthetic.drawstyles import DIGIT_STYLES, draw_digit
    from synthetic.userstyle import STYLES, stylise

    header("augmentation: the --augment recipe vs the reference recipe", args.threads)
    data = load_mnist(args.data_dir, progress=False)
    train, val = split_validation(data.train_images[:args.limit], data.train_labels[:args.limit], 0.1)
    rng = np.random.default_rng(2026)
    idx = rng.choice(len(data.test_images), size=args.styled, replace=False)
    styled = np.stack([to_mnist(stylise(data.test_images[i], STYLES[n % len(STYLES)], rng))
                       for n, i in enumerate(idx)])[:, None].astype(np.float32)
    styled_labels = data.test_labels[idx]
    pick = rng.choice(len(data.test_images), size=100 * len(DIGIT_STYLES), replace=False)   # pen styles
    drawn = np.stack([to_mnist(draw_digit(data.test_images[i], DIGIT_STYLES[n % len(DIGIT_STYLES)], rng))
                      for n, i in enumerate(pick)])[:, None].astype(np.float32)
    drawn_labels = data.test_labels[pick]
    try:
        from sklearn.datasets import load_digits
        uci = load_digits()
        big = [Image.fromarray((255 - uci.images[i] * 255 / 16).astype(np.uint8)).resize((56, 56), Image.Resampling.BILINEAR)
               for i in range(len(uci.images))]
        views = np.stack([np.stack(to_mnist_views(b)) for b in big])[:, :, None].astype(np.float32)
        uci_x, uci_drawn, uci_y = views[:, 0], views[:, 1], uci.target   # (the latter: as predict.py's views)
    except ImportError:
        uci_x = None
        print("scikit-learn is not installed: no UCI digits (pip install scikit-learn)")

    model = mnist_cnn()
    warm_up(model)
    x64 = to_input(train[0][:64])
    aug = Augmenter(RECIPE, seed=0)
    aug(x64)
    times = []
    for _ in range(300):
        start = time.perf_counter()
        aug(x64)
        times.append(time.perf_counter() - start)
    params = []
    for _ in range(300):
        start = time.perf_counter()
        random_parameters(64, rng, RECIPE)
        params.append(time.perf_counter() - start)
    print(f"augmenting a batch of 64 (all of RECIPE: {RECIPE.describe()}): median "
          f"{np.median(times) * 1e3:.3f} ms, of which drawing the parameters {np.median(params) * 1e3:.3f} ms\n")

    def run(recipe, seed, augmentation=None, epochs=None, every_epoch=False):
        model = mnist_cnn(seed=seed)
        kwargs = recipe.fit_arguments(seed, epochs=epochs)
        if every_epoch:                 # (no undistorted last epoch)
            kwargs["augment_epochs"] = None
        if augmentation is not None:    # (an empty Augmentation: the recipe's schedule, no distortion)
            kwargs["augment"] = Augmenter(augmentation, seed=seed) if any(vars(augmentation).values()) else None
        start = time.perf_counter()
        history = fit(model, train, val, prepare=to_input, **kwargs).history
        seconds = time.perf_counter() - start
        _, accuracy, _ = evaluate(model, data.test_images, data.test_labels, prepare=to_input)
        pred = model.predict(styled)
        result = {"test": accuracy, "seconds": seconds, "epochs": [h["seconds"] for h in history],
                  "styled": float((pred == styled_labels).mean()),
                  "per_style": [float((pred[i::len(STYLES)] == styled_labels[i::len(STYLES)]).mean())
                                for i in range(len(STYLES))]}
        pred = model.predict(drawn)
        result["drawn"] = [float((pred[i::len(DIGIT_STYLES)] == drawn_labels[i::len(DIGIT_STYLES)]).mean())
                           for i in range(len(DIGIT_STYLES))]
        if uci_x is not None:
            result["uci"] = float((model.predict(uci_x) == uci_y).mean())
        if uci_x is not None and args.answer:
            from scratchnet.apps.openset import EXAMPLES, HELD_OUT, MORE_DIGITS, fit_open_set
            more = (data.train_images[EXAMPLES:EXAMPLES + MORE_DIGITS], data.train_labels[EXAMPLES:EXAMPLES + MORE_DIGITS])
            openset = fit_open_set(model, data.train_images[:EXAMPLES], data.train_images[-HELD_OUT:], to_input,
                                   seed=seed, labels=data.train_labels[:EXAMPLES], more=more)
            named = openset.answer(model, uci_x, as_drawn=uci_drawn)[2].argmax(axis=1)
            result["uci_answer"] = float((named == uci_y).mean())
        return result

    # the two recipes take turns, seed by seed, so that a slower spell of a shared machine
    # weighs on both alike (their time ratio is the point)
    results = {"reference": [], "--augment": []}
    for seed in range(args.seeds):
        for name, recipe in (("reference", REFERENCE), ("--augment", AUGMENTED)):
            r = run(recipe, seed, epochs=args.epochs)
            results[name].append(r)
            print(f"{name:11s} seed {seed}: test {r['test']:.4f}  user-style {r['styled']:.4f}"
                  + (f"  UCI {r['uci']:.4f}" if "uci" in r else "")
                  + (f"  UCI as predict.py answers {r['uci_answer']:.4f}" if "uci_answer" in r else "")
                  + f"  {r['seconds']:.0f} s", flush=True)
    print(f"\n{'recipe':11s} {'MNIST test, mean ± std':>24s} {'user-style':>11s} {'UCI digits':>11s} "
          f"{'training s':>11s} {'s/epoch':>8s}")
    for name, runs in results.items():
        test = [r["test"] for r in runs]
        std = statistics.stdev(test) if len(test) > 1 else 0.0
        uci = f"{np.mean([r['uci'] for r in runs]):11.2%}" if uci_x is not None else f"{'-':>11s}"
        per_epoch = np.median([s for r in runs for s in r["epochs"]])
        print(f"{name:11s} {np.mean(test):16.2%} ± {100 * std:.2f} {np.mean([r['styled'] for r in runs]):11.2%} "
              f"{uci} {np.mean([r['seconds'] for r in runs]):11.0f} {per_epoch:8.2f}")
    print("user-style per style (mean over seeds): ")
    for name, runs in results.items():
        print(f"  {name:11s} " + ", ".join(f"{s} {np.mean([r['per_style'][i] for r in runs]):.1%}"
                                          for i, s in enumerate(STYLES)))
    print("pen styles (synthetic/drawstyles.py, 100 each; mean over seeds): ")
    for name, runs in results.items():
        print(f"  {name:11s} " + ", ".join(f"{s} {np.mean([r['drawn'][i] for r in runs]):.1%}"
                                          for i, s in enumerate(DIGIT_STYLES)))
    if args.answer and uci_x is not None:
        print("UCI digits as predict.py names them (the network and its outlier networks), mean over seeds:")
        for name, runs in results.items():
            each = ", ".join(f"{r['uci_answer']:.2%}" for r in runs)
            print(f"  {name:11s} {np.mean([r['uci_answer'] for r in runs]):.2%} ({each})")
    ratio = np.mean([r["seconds"] for r in results["--augment"]]) / np.mean([r["seconds"] for r in results["reference"]])
    epoch_ratio = (np.median([s for r in results["--augment"] for s in r["epochs"]])
                   / np.median([s for r in results["reference"] for s in r["epochs"]]))
    print(f"--augment training time / reference: {ratio:.2f}x; an augmented epoch / a plain one: {epoch_ratio:.2f}x")

    if not args.skip_ablation:
        epochs = args.ablation_epochs or args.epochs or AUGMENTED.epochs
        print(f"\nablation: the --augment schedule ({epochs} epochs, seed 0; the last "
              f"{AUGMENTED.clean_epochs} undistorted unless said) with one augmentation at a time")
        print(f"{'augmentation':24s} {'MNIST test':>10s} {'user-style':>11s} {'UCI digits':>11s} {'s/epoch':>8s}")
        rows = [("none", Augmentation(), False)] + [(f"{k} only", RECIPE.only(k), False) for k in
                                                    ("rotate", "scale", "shift", "shear", "aspect", "elastic", "thickness")]
        rows.append(("all (the recipe)", RECIPE, False))
        if AUGMENTED.clean_epochs:
            rows.append(("all, every epoch", RECIPE, True))
        for label, augmentation, every_epoch in rows:
            r = run(AUGMENTED, 0, augmentation=augmentation, epochs=epochs, every_epoch=every_epoch)
            print(f"{label:24s} {r['test']:10.2%} {r['styled']:11.2%} " +
                  (f"{r['uci']:11.2%}" if "uci" in r else f"{'-':>11s}") +
                  f" {np.median(r['epochs']):8.2f}", flush=True)


if __name__ == "__main__":
    main()
