"""Training speed of the reference recipe (54,000 MNIST images, batch 64, SGD 0.01/0.9):
first-run start-up, every epoch and the steady state, drift (the weights and momentum of the
last epoch against the first's, in turns), time per stage, distance to the arithmetic limit,
memory per step, denormals.

    python benchmarks/bench_train.py [--epochs 10] [--threads N] [--skip-compile]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

from common import (ROOT, best_of, header, layer_products, peak_rss_mb, product_operands, run_products,
                    slowest_over_first)
from scratchnet.cli import set_threads

# what train.py does before its first epoch: imports, the model, warm_up (compile_ahead),
# then one real training step; it prints the seconds since the parent started it (the wall
# clock both read: the interpreter's start-up counts, its exit does not, which waits for the
# background compiler of the kernels with exact twins)
FIRST_STEP = """
import os, time
from scratchnet.cli import set_threads; set_threads(None)
import numpy as np
from scratchnet import mnist_cnn, SGD
from scratchnet.core.training import train_step, warm_up
m, opt = mnist_cnn(), SGD()
compiled = warm_up(m)
train_step(m, opt, np.zeros((64, 1, 28, 28), np.float32), np.zeros(64, np.int64))
print(time.time() - float(os.environ["SCRATCHNET_STARTED"]), compiled)
"""


# Numba imports SciPy's BLAS when SciPy is installed (this benchmark's environment has it, for
# scikit-learn); the README's installation does not bring it, so that start is measured too
HIDE_SCIPY = """
import sys
class NoSciPy:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "scipy":
            raise ImportError(name)
sys.meta_path.insert(0, NoSciPy())
"""


def first_step_seconds(cache_dir, hide_scipy=False):
    """(seconds from process start to the end of the first training step, compile seconds)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    env["SCRATCHNET_STARTED"] = repr(time.time())
    out = subprocess.run([sys.executable, "-c", (HIDE_SCIPY if hide_scipy else "") + FIRST_STEP], env=env,
                         capture_output=True, text=True, check=True)
    ready, compiled = map(float, out.stdout.split())
    return ready, compiled


def start_up(hide_scipy, runs=3):
    """Median over `runs` fresh processes with empty Numba caches of (ready, compiling), and
    a process that finds the cache warm: the first run is a few seconds on a noisy host."""
    cold = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(first_step_seconds(cache, hide_scipy))
            warm, _ = first_step_seconds(cache, hide_scipy)
    ready, compiling = (sorted(c)[len(c) // 2] for c in zip(*cold))
    return ready, compiling, warm, cold


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


PRODUCTS_FLOP = 3 * 2 * 64 * 5408 * 100   # one call of dense_products


def dense_products(np, by_rows=False, features=5408, units=100):
    """A function running float32 BLAS once at each of the network's three big GEMM shapes
    (batch 64: the dense layer's forward, weight gradient and input gradient): whole, on
    BLAS's own threads, or by_rows as a training step runs them (kernels.jit's dense_forward
    and dense_backward: each kernel thread its rows of the weights, BLAS on one thread)."""
    a = np.random.rand(64, features).astype(np.float32)
    w = np.random.rand(features, units).astype(np.float32)
    g = np.random.rand(64, units).astype(np.float32)
    out, dw, dx = np.empty((64, units), np.float32), np.empty_like(w), np.empty_like(a)
    if not by_rows:
        return lambda: (np.matmul(a, w, out=out), np.matmul(a.T, g, out=dw), np.matmul(g, w.T, out=dx))
    from scratchnet.core.kernels import jit
    b, db, buffers = np.zeros(units, np.float32), np.empty(units, np.float32), {}

    def scratch(name, shape, dtype):
        return buffers.setdefault((name, shape), np.empty(shape, dtype))
    return lambda: (jit.dense_forward(a, w, b, out, scratch), jit.dense_backward(a, w, g, dw, db, dx))


def gemm_rate(np):
    """GFLOP/s of float32 BLAS at the dense layer's three GEMM shapes (batch 64), the faster
    of dense_products' two ways."""
    return max(PRODUCTS_FLOP / best_of(dense_products(np, by_rows), repeat=5, number=50) / 1e9
               for by_rows in (False, True))


def own_products(np, model, by_threads=False):
    """A function running one training step's matrix products at the network's own shapes
    (common.layer_products: each conv as im2row + GEMM, each dense layer), on random float32
    data: whole, on BLAS's own threads, or by_threads as a step splits the work (each kernel
    thread a conv's products for its share of the images, BLAS on one thread each; a dense
    layer of >= kernels.jit.SPLIT_WEIGHTS weights by rows, as dense_products; the rest whole)."""
    from scratchnet.core import kernels
    from scratchnet.core.kernels import blas, jit
    from scratchnet.core.layers import Conv2D
    rng, products = np.random.default_rng(0), layer_products(model, 64)
    if not by_threads:
        ops = product_operands([s for _, shapes in products for s in shapes], rng)
        return lambda: run_products(ops)
    threads = kernels.threads()
    per_thread = [product_operands([s for layer, shapes in layer_products(model, 64 // threads)
                                    if isinstance(layer, Conv2D) for s in shapes], rng) for _ in range(threads)]
    dense = [(layer, shapes) for layer, shapes in products if not isinstance(layer, Conv2D)]
    by_rows = [dense_products(np, True, layer.in_features, layer.out_features) for layer, _ in dense
               if layer.in_features * layer.out_features >= jit.SPLIT_WEIGHTS]
    rest = product_operands([s for layer, shapes in dense
                             if layer.in_features * layer.out_features < jit.SPLIT_WEIGHTS for s in shapes], rng)

    def step():
        with blas.single_threaded():
            jit.team().run(lambda i: run_products(per_thread[i]), (), [(i,) for i in range(threads)])
        for run in by_rows:
            run()
        run_products(rest)
    return step


def limit_in_turns(np, model, images, labels, rounds=20, steps=50, pause=0.2):
    """Training steps against their arithmetic limit, taking turns: `steps` steps (batches
    gathered and converted as fit does), then the same steps' matrix products at their own
    shapes (own_products), each of its two ways, then the same FLOPs as the network's three
    big batch-64 products (dense_products), each of its two ways: a stricter limit, every
    multiply-add at the rate of the network's most efficient shapes; `rounds` times, the first
    mover alternating, so a busy spell of the host slows all. Each turn starts after `pause`
    seconds: OpenBLAS's threads spin for a while after a call, and would run into the next
    turn. Returns each round's step time / limit time (the faster way's) for both limits, and
    each way's GFLOP/s per round. The model trains on."""
    from scratchnet import SGD
    from scratchnet.core.training import Batches, train_step
    from scratchnet.data.mnist import to_input
    take, opt = Batches(model, images, labels, 64, to_input).take, SGD(0.01, 0.9)
    calls = round(steps * 64 * flops_per_image(model) / PRODUCTS_FLOP)
    order, batches = np.random.default_rng(1).permutation(len(images)), len(images) // 64

    def train(r):
        for k in range(steps):
            b = (r * steps + k) % batches
            train_step(model, opt, *take(order[b * 64:(b + 1) * 64]))

    def repeated(run, times):
        def repeat(_):
            for _ in range(times):
                run()
        return repeat
    sides = {"steps": train,
             "own shapes, whole": repeated(own_products(np, model), steps),
             "own shapes, by threads": repeated(own_products(np, model, by_threads=True), steps),
             "dense shapes, whole": repeated(dense_products(np), calls),
             "dense shapes, by rows": repeated(dense_products(np, by_rows=True), calls)}
    for fn in sides.values():                              # warm
        fn(0)
    flop = {"own": steps * 64 * flops_per_image(model), "dense": calls * PRODUCTS_FLOP}
    ratios, rates = {"own": [], "dense": []}, {name: [] for name in list(sides)[1:]}
    for r in range(rounds):
        seconds = {}
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            time.sleep(pause)
            start = time.perf_counter()
            sides[name](r)
            seconds[name] = time.perf_counter() - start
        for limit, values in ratios.items():
            values.append(seconds["steps"] / min(v for k, v in seconds.items() if k.startswith(limit)))
        for way, values in rates.items():
            values.append(flop[way.split()[0]] / seconds[way] / 1e9)
    return ratios, rates


def stage_times(np, model, images, labels, batches=200):
    """Median milliseconds per batch of each stage of the training step, in place."""
    from scratchnet import SGD, softmax_cross_entropy
    from scratchnet.data.mnist import to_input
    stages, opt, rng, times = model.stages(), SGD(), np.random.default_rng(0), {}
    for it in range(batches + 20):
        idx = rng.integers(0, len(images), 64)
        marks = []
        t = time.perf_counter()
        x, y = to_input(images[idx]), labels[idx]
        marks.append(("input", time.perf_counter() - t))
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
                times.setdefault(k, []).append(v)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


DRIFT_ROUNDS, DRIFT_STEPS = 20, 25


def state_drift(np, model, opt, early, images, labels, rounds=DRIFT_ROUNDS, steps=DRIFT_STEPS):
    """Median training step with the weights and momentum the model had after its first epoch
    (`early`) against those it has now, taking turns on the same batches: whatever the
    state does to the speed (denormals), without the host's busy spells (both states get
    them alike). Returns (ms early, ms now); the model ends with its own state."""
    from scratchnet.core.training import Batches, train_step
    from scratchnet.data.mnist import to_input
    now = snapshot(model, opt)
    take = Batches(model, images, labels, 64, to_input).take
    batches = [tuple(a.copy() for a in take(np.arange(k * 64, (k + 1) * 64))) for k in range(steps)]
    times = {"early": [], "now": []}
    for r in range(rounds):
        for name in (("early", "now") if r % 2 == 0 else ("now", "early")):
            restore(model, opt, early if name == "early" else now)
            start = time.perf_counter()
            for x, y in batches:
                train_step(model, opt, x, y)
            times[name].append((time.perf_counter() - start) / steps)
    restore(model, opt, now)
    return tuple(float(np.median(times[k])) * 1e3 for k in ("early", "now"))


def snapshot(model, opt):
    return ({k: v.copy() for k, v in model.parameters().items()},
            {k: v.copy() for k, v in opt.velocity.items()})


def restore(model, opt, state):
    for mine, saved in zip((model.parameters(), opt.velocity), state):
        for k, v in mine.items():
            v[...] = saved[k]


def step_allocation(np, model, images, labels):
    """Bytes of memory a steady-state training step needs beyond what exists before it."""
    import tracemalloc

    from scratchnet import SGD
    from scratchnet.core.training import Batches, train_step
    from scratchnet.data.mnist import to_input
    batches, opt = Batches(model, images, labels, 64, to_input), SGD()
    for k in range(3):
        train_step(model, opt, *batches.take(np.arange(k * 64, (k + 1) * 64)))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    train_step(model, opt, *batches.take(np.arange(192, 256)))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir")
    p.add_argument("--threads", type=int)
    p.add_argument("--epochs", type=int, default=10, help="epochs timed (the first, then the steady state)")
    p.add_argument("--skip-compile", action="store_true", help="skip the first-run measurement")
    args = p.parse_args()
    set_threads(args.threads)
    import numpy as np
    from scratchnet import mnist_cnn
    from scratchnet.core import kernels
    from scratchnet.core.optim import SGD
    from scratchnet.core.training import fit, warm_up
    from scratchnet.data.mnist import load_mnist, split_validation, to_input

    header("training benchmark: the reference recipe", args.threads)
    if not args.skip_compile:
        import importlib.util
        for hide in ([False, True] if importlib.util.find_spec("scipy") else [False]):
            ready, compiling, warm, runs = start_up(hide)
            print(f"first run (fresh process, empty Numba cache{', SciPy hidden as on a README install' if hide else ''}): "
                  f"ready to train in {ready:.2f} s, {compiling:.2f} s of it compiling (medians of "
                  f"{', '.join(f'{r:.2f}/{c:.2f}' for r, c in runs)}); next run {warm:.2f} s "
                  f"(process start to the end of the first training step, imports included)")

    data = load_mnist(args.data_dir, progress=False)
    train, _ = split_validation(data.train_images, data.train_labels, 0.1)
    model = mnist_cnn(seed=0)
    warm_up(model)
    opt = SGD(0.01, 0.9)
    stamps = {}                          # epoch -> the time each of its batches ended

    def on_batch(epoch, *_):
        stamps.setdefault(epoch, []).append(time.perf_counter())
    first_epoch = []                     # the weights and momentum after epoch 1

    def on_epoch(record):
        if record["epoch"] == 1:
            first_epoch.append(snapshot(model, opt))

    history = fit(model, train, epochs=args.epochs, seed=0, prepare=to_input, optimizer=opt,
                  on_batch=on_batch, on_epoch=on_epoch).history
    velocity = opt.velocity
    seconds = [h["seconds"] for h in history]
    n = len(train[0])
    steady = float(np.median(seconds[1:])) if len(seconds) > 1 else seconds[0]
    print(f"epochs ({n:,} images each): " + ", ".join(f"{s:.2f}" for s in seconds) + " s")
    print(f"steady state (median of epochs 2..{len(seconds)}): {steady:.2f} s = {n / steady:,.0f} images/s")
    print(f"slowest epoch / first epoch = {slowest_over_first(seconds):.3f}")
    # A drift (denormals: every step slower) moves the median step; a busy spell of a shared
    # host moves some steps, and the wall time of an epoch with them
    medians = [float(np.median(np.diff(stamps[e]))) for e in sorted(stamps)]
    print("median step per epoch: " + ", ".join(f"{m * 1e3:.2f}" for m in medians) + " ms; "
          f"slowest / first = {slowest_over_first(medians):.3f}")
    if args.epochs > 1:
        with kernels.active().pinned():      # the kernel threads placed as fit places them
            early, late = state_drift(np, model, opt, first_epoch[0], *train)
        print(f"the same {DRIFT_STEPS} steps, taking turns {DRIFT_ROUNDS} times, with the weights "
              f"and momentum after epoch 1 and after epoch {len(seconds)}: median step "
              f"{early:.2f} vs {late:.2f} ms; "
              f"epoch {len(seconds)}'s state / epoch 1's = {late / early:.3f}")
    tiny = np.finfo(np.float32).tiny
    denormal = sum(int(np.count_nonzero((v != 0) & (np.abs(v) < tiny))) for v in velocity.values())
    print(f"momentum entries below float32's smallest normal after {len(seconds)} epochs: "
          f"{denormal} of {sum(v.size for v in velocity.values()):,}")

    with kernels.active().pinned():
        times = stage_times(np, model, train[0], train[1])
    total = sum(times.values())
    print(f"\ntime per batch of 64 by stage (median of 200 batches; sum {total:.2f} ms):")
    for k, v in times.items():
        print(f"  {k:24s} {v:7.3f} ms  {100 * v / total:5.1f}%")
    print(f"steady-state training step: {step_allocation(np, model, *train):,} bytes of memory "
          f"beyond what exists before it (NumPy's ufunc buffers and small temporaries)")

    flops = flops_per_image(model) * n
    rate = gemm_rate(np)
    limit = flops / (rate * 1e9)
    print(f"\nwork: {flops_per_image(model) / 1e6:.2f} MFLOP per image, {flops / 1e9:.0f} GFLOP per epoch")
    print(f"BLAS sgemm at the dense layer's batch-64 shapes: {rate:.0f} GFLOP/s "
          f"-> the stricter arithmetic limit, every multiply-add at that rate: {limit:.2f} s per epoch")
    print(f"steady-state epoch / that limit = {steady / limit:.3f}x (the sgemm rate the best of 5 runs, "
          f"the epochs' a median: see the turns below for both limits)")
    with kernels.active().pinned():
        ratios, rates = limit_in_turns(np, model, *train)
    rounds = len(ratios["own"])
    print(f"training steps / limit, taking turns ({rounds} rounds of 50 steps, the same products at their "
          f"own shapes, and the same FLOPs at the dense layer's shapes; each way whole on BLAS's threads "
          f"and split as a step splits it, the faster):")
    for limit, text in (("own", "every product at the sgemm rate at its own shapes (a conv as im2row + GEMM)"),
                        ("dense", "stricter: every multiply-add at the sgemm rate at the dense layer's shapes")):
        r = ratios[limit]
        print(f"  {text}: median {np.median(r):.3f}x, {min(r):.3f}-{max(r):.3f}x")
    for way, r in rates.items():
        print(f"  the products, {way}: median {np.median(r):.0f} GFLOP/s, {min(r):.0f}-{max(r):.0f}")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
