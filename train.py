"""Train a CNN on MNIST (the reference recipe unless told otherwise) and write the model and an
evaluation report.

    python train.py                      # the reference recipe: 10 epochs, ~98.7% test accuracy
    python train.py --augment            # the augmented recipe (scratchnet/apps/recipes.py)
    python train.py --recipe fast        # 99% in one epoch: two conv blocks, Adam, one-cycle
    python train.py --epochs 1 --limit 6000
    python train.py --evaluate models/mnist_cnn.npz   # rebuild the report, no training
"""
import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from scratchnet.apps.recipes import AUGMENTED, FAST, RECIPES, REFERENCE, test_moves
from scratchnet.cli import (REPLACES, Parser, cap_threads, check_writable, float_in, give_back_freed_memory,
                            non_negative_int, positive_int, run, set_threads)


def parse_args(argv=None):
    p = Parser(description="Train a scratchnet CNN on MNIST (CPU): the reference recipe unless --recipe says otherwise.")
    p.add_argument("--data-dir", help="folder with the MNIST IDX files "
                   "(default: $SCRATCHNET_DATA, else ~/.cache/scratchnet/mnist, downloading what is missing)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help=f"reference (default): {REFERENCE.describe()}. augmented (same as --augment). "
                        f"fast: the least time to 99%%: {FAST.describe()}".replace("%,", "%%,").replace("% ", "%% "))
    p.add_argument("--epochs", type=positive_int,
                   help=f"default: the recipe's ({REFERENCE.epochs}, {AUGMENTED.epochs} augmented, {FAST.epochs} fast)")
    p.add_argument("--batch-size", type=positive_int, help="images per training step (default: the recipe's, "
                   f"{REFERENCE.batch_size}; {FAST.batch_size} fast)")
    p.add_argument("--lr", type=float_in(0, 1e6, low_open=True),
                   help=f"learning rate (default: the recipe's, {REFERENCE.lr:g}; with a schedule, its peak)")
    p.add_argument("--momentum", type=float_in(0, 1), help="SGD momentum (default: 0.9)")
    p.add_argument("--val-split", type=float_in(0, 1),
                   help="fraction of the training set held out for validation, the last images as Keras "
                        f"(default: the recipe's, {REFERENCE.val_split:g}; {FAST.val_split:g} fast)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seeds initialisation and shuffling")
    p.add_argument("--limit", type=positive_int, help="use only the first N training images")
    p.add_argument("--test-limit", type=positive_int, help="evaluate on the first N test images only")
    p.add_argument("--threads", type=positive_int,
                   help="CPU threads (default: all cores; more than the cores are capped, with a note)")
    p.add_argument("--model", help="where to save the model (default: models/mnist_cnn.npz, or "
                   "models/mnist_mlp.npz with --arch mlp); the run says first if it replaces a model")
    p.add_argument("--report-dir", default="reports", help="where to write the evaluation report")
    p.add_argument("--evaluate", metavar="MODEL", help="only evaluate this saved model and write the report")
    p.add_argument("--augment", action="store_true",
                   help=f"the augmented recipe instead of the reference one: {AUGMENTED.describe()}"
                        .replace("%", "%%"))
    p.add_argument("--arch", choices=["cnn", "mlp", "fast"], default=None,
                   help="cnn: the reference CNN (default); mlp: 784-100-10 fully connected, for comparison; "
                        "fast: the fast recipe's two-conv network")
    p.add_argument("--plots-every-epoch", action="store_true",
                   help="also save the conv filters and feature maps after every epoch (REPORT_DIR/epochs/)")
    p.add_argument("--extra-data", metavar="DIR", action="append", default=[],
                   help="also train on a folder of labelled digit pictures (PNGs and labels.csv, e.g. "
                        "the demo's corrections); added to the training images only, never to "
                        "validation or test; may be given more than once")
    p.add_argument("--no-verify", action="store_true",
                   help="accept IDX files that are not the official MNIST (e.g. Fashion-MNIST)")
    args = p.parse_args(argv)
    if args.augment and args.recipe not in (None, AUGMENTED.name):
        p.error(f"--augment is --recipe {AUGMENTED.name}; it cannot go with --recipe {args.recipe}")
    return args


def main():
    started = time.perf_counter()
    args = parse_args()
    command = " ".join(["train.py"] + sys.argv[1:])
    recipe = AUGMENTED if args.augment else RECIPES[args.recipe or REFERENCE.name]
    args.recipe, args.augment = recipe.name, recipe is AUGMENTED
    args.arch = args.arch or recipe.arch or "cnn"
    args.val_split = recipe.val_split if args.val_split is None else args.val_split
    args.batch_size = args.batch_size or recipe.batch_size
    args.momentum = recipe.momentum if args.momentum is None else args.momentum
    args.threads = cap_threads(args.threads, "train.py")
    args.model = args.model or f"models/mnist_{args.arch}.npz"
    where = {"report": (args.report_dir, check_writable(args.report_dir, is_folder=True))}
    if not args.evaluate:
        where = {"model": (args.model, check_writable(args.model)), **where}
    set_threads(args.threads)
    import numpy as np  # after set_threads: BLAS reads its thread count on import

    from scratchnet.apps.openset import (MORE_DIGITS, OUTLIER_NETWORKS, OpenSet, detectors_for, examples_for,
                                         fit_open_set, held_out_for, outlier_network_pays)
    from scratchnet.core.model import load_model
    from scratchnet.core.networks import ARCHITECTURES
    from scratchnet.core.training import fit, warm_up
    from scratchnet.data.folders import read_labelled_folder
    from scratchnet.data.mnist import load_mnist, split_validation, to_input
    from scratchnet.errors import ScratchnetError

    for what, (path, note) in where.items():   # before any long work: nothing is lost unsaid
        if note == REPLACES and what == "model":
            note = f"replaces the model there: {describe_saved(path)}"
        print(f"{what:6s}: {path} ({note})")
    with ThreadPoolExecutor(1) as pool:   # MNIST loads while the kernels compile
        loading = pool.submit(load_mnist, args.data_dir, verify=not args.no_verify)
        if not args.evaluate:
            model = ARCHITECTURES[args.arch](seed=args.seed)
            compiled = warm_up(model, args.batch_size, augment=recipe.augmenter(),
                               optimizer=recipe.new_optimizer(), on_compile=lambda n: print(
                f"compiling {n} kernels for this CPU (first run only) ...", flush=True))
            if compiled:
                # the seconds after that line (Numba's own set-up before it: a warm start pays it too)
                print(f"compiled in {compiled:.1f} s; cached for the next runs\n")
        data = loading.result()
    test = (data.test_images[:args.test_limit], data.test_labels[:args.test_limit])
    print(f"MNIST from {data.source}: {len(data.train_images):,} training and "
          f"{len(data.test_images):,} test images, {data.train_images.shape[1:]} uint8")

    if args.evaluate:
        from scratchnet.apps.report import write_report
        model, meta = load_model(args.evaluate, return_metadata=True)
        config = meta.get("config", {})
        metrics = write_report(model, *test, args.report_dir, history=meta.get("history", []),
                               info={"model": args.evaluate, "config": config},
                               command=command, openset=OpenSet.of(model, meta),
                               shifts=test_moves(config.get("test_shifts")))
        print(f"test accuracy {metrics['test_accuracy']:.4f}, loss {metrics['test_loss']:.4f}")
        print(f"report written to {args.report_dir}/")
        return 0

    images, labels = data.train_images[:args.limit], data.train_labels[:args.limit]
    train, val = split_validation(images, labels, args.val_split)
    if len(train[0]) == 0:
        raise ScratchnetError(f"--val-split {args.val_split} of {len(images):,} images leaves none to "
                              f"train on")
    for folder in args.extra_data:
        extra_images, extra_labels = read_labelled_folder(folder)
        train = (np.concatenate([train[0], extra_images]), np.concatenate([train[1], extra_labels]))
        print(f"added {len(extra_labels):,} labelled pictures from {folder} to the training images")
    print(f"training on {len(train[0]):,} images, validating on {len(val[0]):,}"
          f"{' (none held out)' if not len(val[0]) else ''}\n")
    print(model.summary() + "\n")

    settings = recipe.fit_arguments(args.seed, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
                                    batch_size=args.batch_size)
    args.epochs, args.lr = settings["epochs"], settings["lr"]
    recipe = dataclasses.replace(recipe, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
                                 batch_size=args.batch_size)        # as it runs
    print(f"recipe: {recipe.name} ({recipe.describe()})\n")
    callbacks = progress_callbacks(args.epochs)
    if args.plots_every_epoch:
        from scratchnet.apps.report import write_learning_snapshot
        print_epoch = callbacks["on_epoch"]

        def on_epoch(record):
            print_epoch(record)
            write_learning_snapshot(model, test[0][0], f"{args.report_dir}/epochs",
                                    suffix=f"_epoch{record['epoch']:02d}")
        callbacks["on_epoch"] = on_epoch

    start = time.perf_counter()
    result = fit(model, train, val, prepare=to_input, **settings, **callbacks)
    total = time.perf_counter() - start
    if not result.history:
        print("interrupted before the first epoch finished: nothing saved", file=sys.stderr)
        return 130
    from scratchnet.apps.metrics import timed_evaluation
    give_back_freed_memory()       # the training threads' freed arrays, before the test batches
    evaluation = timed_evaluation(model, *test, recipe.shifts)   # (the report uses it: not made twice)
    moves = (f"\n(each picture's probabilities averaged over it and {len(recipe.shifts) - 1} copies moved "
             f"one pixel; {evaluation[4]:.4f} as they are)" if len(recipe.shifts) > 1 else "")
    print(f"\ntest accuracy {evaluation[1]:.4f} on {len(test[0]):,} images, {time.perf_counter() - started:.1f} s "
          f"after start (then the detector, report and model file){moves}", flush=True)
    model.release_buffers()        # the training step's arrays: not held through what follows
    # the detector needs only a few thousand digits: keep those and free the 47 MB of
    # training images before it and the report run (so neither raises the peak memory). The
    # same ones whatever --limit says (fewer after a short try), so its pictures are drawn
    # once, then cached; its threshold is set on the last MNIST training images, the
    # validation images by default
    images_trained = len(train[0]) * len(result.history)
    examples = examples_for(images_trained)
    detector_digits = data.train_images[:examples].copy()
    held_out_digits = data.train_images[-held_out_for(images_trained):].copy()
    digit_labels, more_digits = data.train_labels[:examples].copy(), None
    outlier_networks = OUTLIER_NETWORKS if outlier_network_pays(images_trained) else 0
    if outlier_networks:
        more_digits = (data.train_images[examples:examples + MORE_DIGITS].copy(),
                       data.train_labels[examples:examples + MORE_DIGITS].copy())
    del images, labels, train, val
    data.train_images = data.train_labels = None
    give_back_freed_memory()
    openset = None
    if not result.interrupted:
        start = time.perf_counter()
        openset = fit_open_set(model, detector_digits, held_out_digits, to_input, seed=args.seed,
                               examples=examples, labels=digit_labels, more=more_digits,
                               outlier_networks=outlier_networks,
                               detectors=detectors_for(images_trained),
                               on_prepare=lambda n: print(
                                   f"drawing and preprocessing {n:,} pictures for the 'not a digit' "
                                   f"detector (first run only, then cached) ...", flush=True))
        both = f" and {len(openset.nets)} outlier networks" if openset.nets else ""
        print(f"'not a digit' detector{both} trained and calibrated in {time.perf_counter() - start:.1f} s")
    del detector_digits, held_out_digits, digit_labels, more_digits
    give_back_freed_memory()
    from scratchnet.apps.report import write_report     # (matplotlib: 27 MB: not held while training)

    config = {k: getattr(args, k) for k in ("arch", "epochs", "batch_size", "lr", "momentum",
                                            "val_split", "seed", "limit", "threads", "augment",
                                            "extra_data")}
    config["recipe"] = recipe.describe()
    config["test_shifts"] = recipe.test_shifts
    metrics = write_report(model, *test, args.report_dir, history=result.history,
                           info={"seed": args.seed, "config": config, "model": args.model,
                                 "interrupted": result.interrupted,
                                 "timings": {"training_seconds": total}},
                           command=command, openset=openset, evaluation=evaluation, shifts=recipe.shifts)
    metadata = {"history": result.history, "config": config, "test_accuracy": metrics["test_accuracy"],
                "interrupted": result.interrupted}
    if openset is not None:
        metadata["openset"] = openset.save_into(model)
    model.save(args.model, metadata=metadata)
    print(f"\ntest loss {metrics['test_loss']:.4f}   test accuracy {metrics['test_accuracy']:.4f} "
          f"({metrics['test_errors']} errors in {metrics['test_images']:,})")
    print(f"training took {total:.1f} s ({total / len(result.history):.1f} s per epoch)")
    print(f"model saved to {args.model}")
    print(f"report written to {args.report_dir}/ (report.md, metrics.json and pictures)")
    if result.interrupted:
        print(f"interrupted: saved the model of epoch {len(result.history)}", file=sys.stderr)
        return 130
    return 0


def describe_saved(path):
    """A saved model in a few words, for the line that says a run replaces it."""
    from scratchnet.core.model import load_model
    from scratchnet.errors import ScratchnetError
    try:
        _, meta = load_model(path, return_metadata=True)
    except ScratchnetError:
        return "a file that is not a model this scratchnet reads"
    config, accuracy = meta.get("config", {}), meta.get("test_accuracy")
    what = [f"{config['arch']}" if "arch" in config else None,
            f"{len(meta['history'])} epoch{'s' if len(meta['history']) != 1 else ''}" if meta.get("history") else None,
            f"limit {config['limit']:,}" if config.get("limit") else None,
            f"test accuracy {accuracy:.4f}" if accuracy is not None else None]
    return ", ".join(w for w in what if w) or "a model without a record of its training"


def progress_callbacks(epochs):
    """A tqdm bar per epoch (running loss, accuracy, images/s) and one summary line per epoch."""
    from tqdm import tqdm
    state = {}

    def on_batch(epoch, b, n_batches, loss, acc, ips):
        if b == 0:
            state["bar"] = tqdm(total=n_batches, desc=f"epoch {epoch}/{epochs}", unit="batch",
                                leave=False, dynamic_ncols=True, mininterval=0.5,
                                disable=None)  # None: no bar when stderr is not a terminal
        bar = state["bar"]
        bar.update(1)
        if b % 25 == 0 or b == n_batches - 1:
            bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.4f} {ips:,.0f} img/s", refresh=False)

    def on_epoch(r):
        state.pop("bar").close()
        val = (f"  val loss {r['val_loss']:.4f} acc {r['val_accuracy']:.4f}"
               if "val_loss" in r else "")
        print(f"epoch {r['epoch']:>2}/{epochs}  loss {r['train_loss']:.4f} acc {r['train_accuracy']:.4f}"
              f"{val}  {r['seconds']:.1f} s ({r['images_per_second']:,.0f} img/s)", flush=True)

    return {"on_batch": on_batch, "on_epoch": on_epoch}


if __name__ == "__main__":
    run(main)
