"""Shared by the benchmark scripts: machine description, timing, data location."""
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
# The developers' checkout has the MNIST files beside it; elsewhere scratchnet's own lookup
# ($SCRATCHNET_DATA, else the per-user cache) decides.
if SHARED_MNIST.is_dir():
    os.environ.setdefault("SCRATCHNET_DATA", str(SHARED_MNIST))


def header(title, threads=None):
    """Print what was measured where: CPU, cores, threads, versions, date."""
    from scratchnet.sysinfo import describe_machine, machine, versions
    print(f"# {title}")
    print(f"machine : {describe_machine()}; threads used: {threads or machine()['cores']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"date    : {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print()


def best_of(fn, repeat=5, number=20):
    """Best mean seconds per call over `repeat` rounds of `number` calls (least noisy)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def layer_products(model, n):
    """[(layer, [(M, K, N), ...]), ...]: each matrix product out = A (M, K) @ B (K, N) a
    training step runs on n images, per Conv2D (as im2row + GEMM) and Dense layer: its
    forward, its weight gradient and, but for the first layer, its input gradient."""
    from scratchnet.core.layers import Conv2D, Dense
    products, shape = [], model.input_shape
    for layer in model.layers:
        out = layer.output_shape(shape)
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            m, k, f = n * out[1] * out[2], layer.in_channels * kh * kw, layer.out_channels
        elif isinstance(layer, Dense):
            m, k, f = n, layer.in_features, layer.out_features
        else:
            shape = out
            continue
        products.append((layer, [(m, k, f), (k, m, f)] + ([(m, f, k)] if products else [])))
        shape = out
    return products


def step_products(model, n):
    """(M, K, N) of every matrix product a training step runs on n images (layer_products')."""
    return [s for _, shapes in layer_products(model, n) for s in shapes]


def product_operands(shapes, rng):
    """[(A, B, out), ...] float32: random A (M, K) and B (K, N), an empty out (M, N) per shape."""
    import numpy as np
    return [(rng.random((m, k), dtype=np.float32), rng.random((k, c), dtype=np.float32),
             np.empty((m, c), np.float32)) for m, k, c in shapes]


def run_products(operands):
    """out = A @ B for each of product_operands' triples."""
    import numpy as np
    for a, b, out in operands:
        np.matmul(a, b, out=out)


def slowest_over_first(seconds):
    """The drift figure: the slowest epoch over the first (>= 1; the target is at most 1.1). Printed
    to three decimals by its callers: 1.102 must not read as 1.10."""
    return max(seconds) / seconds[0]


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
