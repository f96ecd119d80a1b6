"""One epoch of the reference recipe (54,000 MNIST images, batch 64, SGD 0.01/0.9):
seconds, images/s, peak RSS, time per layer, distance to the arithmetic limit, JIT cost.

    python benchmarks/bench_train.py [--data-dir DIR] [--threads N]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, best_of, header, peak_rss_mb
from scratchnet.cli import set_threads

FIRST_STEP = """
import time; t0 = time.perf_counter()
import numpy as np
from scratchnet import mnist_cnn, softmax_cross_entropy, SGD
m, opt = mnist_cnn(), SGD()
x = np.zeros((64, 1, 28, 28), np.float32); y = np.zeros(64, np.int64)
l, d = softmax_cross_entropy(m.forward(x), y); m.backward(d); opt.step(m.parameters(), m.gradients())
print(time.perf_counter() - t0)
"""


def compile_seconds(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", FIRST_STEP], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def flops_per_image(model):
    """2 x multiply-adds of one training step per image: each Conv2D and Dense layer's forward
    product, its weight gradient (the same count), and its input gradient (again the same)
    except for the first layer, which needs none. ReLU, pooling and the loss are not counted."""
    from scratchnet.core.layers import Conv2D, Dense
    macs, shape, first = 0, model.input_shape, True
    for layer in model.layers:
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            per_pass = math.prod(out) * layer.in_channels * kh * kw
        elif isinstance(layer, Dense):
            per_pass = layer.in_features * layer.out_features
        else:
            per_pass = 0
        if per_pass:
            macs += per_pass * (2 if first else 3)
            first = False
        shape = out
    return 2 * macs


def gemm_rate(np):
    """GFLOP/s of float32 BLAS at the network's three big GEMM shapes (batch 64)."""
    a = np.random.rand(64, 5408).astype(np.float32)
    w = np.random.rand(5408, 100).astype(np.float32)
    g = np.random.rand(64, 100).astype(np.float32)
    t = best_of(lambda: (a @ w, a.T @ g, g @ w.T), repeat=5, number=50)
    return 3 * 2 * 64 * 5408 * 100 / t / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir")
    p.add_argument("--threads", type=int)
    p.add_argument("--skip-compile", action="store_true", help="skip the cold/warm JIT measurement")
    args = p.parse_args()
    set_threads(args.threads)
    import numpy as np
    from scratchnet import SGD, mnist_cnn, softmax_cross_entropy
    from scratchnet.core.training import fit, warm_up
    from scratchnet.data.mnist import load_mnist, split_validation, to_input

    header("training benchmark: one epoch of the reference recipe", args.threads)
    if not args.skip_compile:
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = compile_seconds(cache), compile_seconds(cache)
        print(f"first training step in a fresh process: cold Numba cache {cold:.2f} s, "
              f"warm cache {warm:.2f} s (includes imports)")

    data = load_mnist(args.data_dir, progress=False)
    train, _ = split_validation(data.train_images, data.train_labels, 0.1)
    model = mnist_cnn(seed=0)
    warm_up(model)
    start = time.perf_counter()
    fit(model, train, epochs=1, seed=0, prepare=to_input)
    epoch = time.perf_counter() - start
    n = len(train[0])
    print(f"epoch: {n:,} images in {epoch:.2f} s = {n / epoch:,.0f} images/s")

    # where the time goes: the same steps, timed stage by stage
    stages, opt = model.stages(), SGD()
    times = {}
    rng = np.random.default_rng(0)
    for it in range(220):
        idx = rng.integers(0, n, 64)
        t = time.perf_counter()
        x, y = to_input(train[0][idx]), train[1][idx]
        marks = [("input", time.perf_counter() - t)]
        for i, s in enumerate(stages):
            t = time.perf_counter()
            x = s.forward(x)
            marks.append((f"fwd {i} {type(s).__name__}", time.perf_counter() - t))
        t = time.perf_counter()
        _, d = softmax_cross_entropy(x, y)
        marks.append(("loss", time.perf_counter() - t))
        for i in range(len(stages) - 1, -1, -1):
            t = time.perf_counter()
            d = stages[i].backward(d, need_dx=i > 0)
            marks.append((f"bwd {i} {type(stages[i]).__name__}", time.perf_counter() - t))
        t = time.perf_counter()
        opt.step(model.parameters(), model.gradients())
        marks.append(("sgd update", time.perf_counter() - t))
        if it >= 20:
            for k, v in marks:
                times[k] = times.get(k, 0.0) + v
    total = sum(times.values())
    print(f"\ntime per batch by stage (200 batches, {total / 200 * 1e3:.2f} ms per batch):")
    for k, v in times.items():
        print(f"  {k:24s} {v / 200 * 1e3:7.3f} ms  {100 * v / total:5.1f}%")

    flops = flops_per_image(model) * n
    rate = gemm_rate(np)
    limit = flops / (rate * 1e9)
    print(f"\nwork: {flops_per_image(model) / 1e6:.2f} MFLOP per image, {flops / 1e9:.0f} GFLOP per epoch")
    print(f"BLAS sgemm at the network's batch-64 shapes: {rate:.0f} GFLOP/s "
          f"-> arithmetic limit {limit:.2f} s per epoch")
    print(f"measured epoch / limit = {epoch / limit:.2f}x")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
