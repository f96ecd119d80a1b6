"""The fast recipe: wall time and test accuracy of `python train.py --recipe fast` over 5
seeds, and the identical network and recipe in PyTorch 2.13 in the same run, in turns.

    python benchmarks/bench_fast.py [--seeds 5] [--first-runs 3]
    pip install torch==2.13.0        # optional: without it the PyTorch column is left out

For each seed, scratchnet runs as a user runs it (a process of its own, kernels already in
Numba's disk cache): its clock is the wall time from starting the process to the printed
test accuracy (the detector, report and model file come after that line and are not timed),
and its training time is what train.py prints. PyTorch then (or first: the order alternates
from seed to seed, so both meet the host's busy and quiet spells alike) trains the same
network from the same initial weights, on the same batches in the same order, with the same
Adam and the same one-cycle factor at every step, in a process of its own with its default
settings. The ratio compares the two training times of a pair; the median and the spread
over the pairs are what to judge. A first run (an empty kernel cache, so every kernel is
compiled) is measured apart, against a warm run in turns, in --first-runs pairs (each stopped
at the printed accuracy).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, header, product_operands, run_products, step_products

ACCURACY_LINE = re.compile(r"^test accuracy (\d\.\d+) on ([\d,]+) images")
AS_IS_LINE = re.compile(r"^\(each picture's probabilities averaged over .*; (\d\.\d+) as they are\)")
TRAINING_LINE = re.compile(r"^training took ([\d.]+) s")
SCRATCHNET_SETTINGS = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")


def run_scratchnet(seed, workdir, env=None, until_accuracy=False):
    """train.py --recipe fast in a process of its own: (accuracy, seconds from start to the
    accuracy line, training seconds, whole run's seconds, peak RSS in MB, accuracy on the
    pictures as they are); stopped at the accuracy line if asked (then only the first two are
    known)."""
    command = [sys.executable, str(ROOT / "train.py"), "--recipe", "fast", "--seed", str(seed),
               "--model", os.path.join(workdir, f"fast{seed}.npz"), "--report-dir", os.path.join(workdir, "report")]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env=env)
    accuracy = to_accuracy = training = as_is = None
    for line in proc.stdout:
        if (m := ACCURACY_LINE.match(line)) and accuracy is None:
            accuracy, to_accuracy = float(m.group(1)), time.perf_counter() - start
            if until_accuracy:
                proc.kill()
                proc.wait()
                return accuracy, to_accuracy, None, None, None, None
        if m := AS_IS_LINE.match(line):
            as_is = float(m.group(1))
        if m := TRAINING_LINE.match(line):
            training = float(m.group(1))
    _, status, usage = os.wait4(proc.pid, 0)
    whole = time.perf_counter() - start
    if status != 0 or accuracy is None:
        raise SystemExit(f"train.py --recipe fast --seed {seed} failed (status {status})")
    return accuracy, to_accuracy, training, whole, usage.ru_maxrss / 1024, as_is


TORCH_WORKER = r"""
import sys, time
import numpy as np, torch
from torch import nn
sys.path.insert(0, sys.argv[1])
from scratchnet.apps.recipes import FAST
from scratchnet.core.networks import ARCHITECTURES
from scratchnet.core.training import SCHEDULES
from scratchnet.data.mnist import load_mnist
seed = int(sys.argv[2])
data = load_mnist()
x = torch.from_numpy(data.train_images.astype(np.float32) / 255).reshape(-1, 1, 28, 28)
y = torch.from_numpy(data.train_labels.astype(np.int64))
ty = torch.from_numpy(data.test_labels.astype(np.int64))
ours = ARCHITECTURES[FAST.arch](seed=seed)          # the same initial weights
net = nn.Sequential(nn.Conv2d(1, 24, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(24, 32, 3), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 256), nn.ReLU(), nn.Linear(256, 10))
with torch.no_grad():
    for i in (0, 3, 7, 9):                          # the conv and dense layers: same places in both
        w, b = ours.layers[i].params["W"], ours.layers[i].params["b"]
        net[i].weight.copy_(torch.from_numpy(w if w.ndim == 4 else w.T.copy()))   # Dense keeps (in, out)
        net[i].bias.copy_(torch.from_numpy(b))
schedule = SCHEDULES[FAST.schedule]
opt = torch.optim.Adam(net.parameters(), lr=FAST.lr, betas=FAST.betas, eps=1e-8)
loss_fn = nn.CrossEntropyLoss()
B, n = FAST.batch_size, len(x)
steps = (n + B - 1) // B
start = time.perf_counter()
for epoch in range(FAST.epochs):
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))   # fit's first epoch's order
    for b in range(steps):
        for group in opt.param_groups:
            group["lr"] = FAST.lr * schedule((epoch * steps + b) / (FAST.epochs * steps))
        idx = order[b * B:(b + 1) * B]
        opt.zero_grad()
        loss_fn(net(x[idx]), y[idx]).backward()
        opt.step()
training = time.perf_counter() - start
from scratchnet.apps.openset import shifted
tx = data.test_images[:, None].astype(np.float32) / 255
with torch.no_grad():                               # tested as train.py tests (FAST.shifts)
    probs = sum(torch.softmax(net(torch.from_numpy(shifted(tx, [shift]))), 1) for shift in FAST.shifts)
    accuracy = (probs.argmax(1) == ty).float().mean().item()
print(f"{accuracy} {training} {torch.__version__} {torch.get_num_threads()}")
"""


def run_torch(seed):
    """(accuracy, training seconds, version, threads) of the PyTorch twin, or None without torch."""
    env = {k: v for k, v in os.environ.items() if k not in SCRATCHNET_SETTINGS}
    proc = subprocess.run([sys.executable, "-c", TORCH_WORKER, str(ROOT), str(seed)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        if "No module named 'torch'" in proc.stderr:
            return None
        raise SystemExit(f"the PyTorch worker failed:\n{proc.stderr[-2000:]}")
    accuracy, training, version, threads = proc.stdout.split()
    return float(accuracy), float(training), version, int(threads)


def gemm_limit(model, batch_size, steps, repeat=30):
    """The network's arithmetic limit: the seconds per epoch of its matrix products
    alone, at the shapes a training step runs them (each thread of the data-parallel step its
    slice of the batch, BLAS on one thread per slice, both slices at once), in this run."""
    import numpy as np

    from scratchnet.core import kernels
    from scratchnet.core.kernels import blas
    from scratchnet.core.kernels.jit import team
    n = batch_size // kernels.threads()
    rng = np.random.default_rng(0)
    shapes = step_products(model, n)
    pairs = [product_operands(shapes, rng) for _ in range(kernels.threads())]

    def products(i):
        run_products(pairs[i])

    times = []
    with blas.single_threaded():
        for _ in range(repeat):
            start = time.perf_counter()
            team().run(products, (), [(i,) for i in range(kernels.threads())])
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    flops = 2 * sum(m * k * c for m, k, c in shapes) * kernels.threads()
    return seconds * steps, flops / seconds / 1e9


def limit_in_turns(batch_size, rounds=10, steps=60):
    """The fast network's training steps against their arithmetic limit, taking turns, in this
    process: `steps` data-parallel steps of Adam (batches gathered and converted as fit does),
    then the same steps' matrix products alone (gemm_limit's), `rounds` times, the first mover
    alternating, so a busy spell of the host slows both. Returns (each round's step time /
    limit time, the products' GFLOP/s in each round)."""
    import numpy as np

    from scratchnet.apps.recipes import FAST
    from scratchnet.core import kernels
    from scratchnet.core.networks import ARCHITECTURES
    from scratchnet.core.optim import Adam
    from scratchnet.core.training import Batches, DataParallel, warm_up
    from scratchnet.data.mnist import load_mnist, to_input
    data = load_mnist(progress=False)
    model = ARCHITECTURES[FAST.arch]()
    warm_up(model, FAST.batch_size, optimizer=Adam(FAST.lr, FAST.betas))
    opt, split = Adam(FAST.lr, FAST.betas), DataParallel(model, kernels.threads())
    take = Batches(model, data.train_images, data.train_labels, batch_size, to_input).take
    order, batches = np.random.default_rng(1).permutation(len(data.train_images)), len(data.train_images) // batch_size

    def train(r):
        with kernels.active().pinned():                     # as fit() runs its steps
            for k in range(steps):
                b = (r * steps + k) % batches
                split.step(opt, *take(order[b * batch_size:(b + 1) * batch_size]))
    ratios, rates = [], []
    train(0)                                                # warm
    gemm_limit(model, batch_size, steps, repeat=3)
    for r in range(rounds):
        seconds = {}
        for name in (("steps", "limit") if r % 2 == 0 else ("limit", "steps")):
            if name == "steps":
                start = time.perf_counter()
                train(r)
                seconds[name] = time.perf_counter() - start
            else:          # (unpinned, as at the end of main: pinned, these products ran 2x slower here)
                seconds[name], rate = gemm_limit(model, batch_size, steps, repeat=steps)
        ratios.append(seconds["steps"] / seconds["limit"])
        rates.append(rate)
    return ratios, rates


def spread(values):
    return f"median {statistics.median(values):.2f}, {min(values):.2f}-{max(values):.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-runs", type=int, default=3,
                   help="pairs of a first run (empty kernel cache) and a warm one, in turns (0: none)")
    args = p.parse_args()
    header("bench_fast: train.py --recipe fast, 5 seeds, and PyTorch's same network and recipe in turns")
    rows, ratios = [], []
    with tempfile.TemporaryDirectory() as workdir:
        run_scratchnet(0, workdir)                       # the kernel cache filled, data in the page cache
        print("seed  scratchnet: test acc (as they are)  to accuracy  training  whole run  peak RSS | "
              "PyTorch: test acc  training | training ratio")
        for seed in range(args.seeds):
            ours_first = seed % 2 == 0
            torch_result = None if ours_first else run_torch(seed)
            ours = run_scratchnet(seed, workdir)
            if ours_first:
                torch_result = run_torch(seed)
            rows.append((ours, torch_result))
            acc, to_acc, training, whole, rss, as_is = ours
            line = (f"{seed:>4}  {acc:>25.4f} ({as_is:.4f})  {to_acc:>9.2f} s  {training:>6.2f} s  {whole:>7.2f} s  "
                    f"{rss:>5.0f} MB")
            if torch_result is not None:
                t_acc, t_training, version, threads = torch_result
                ratios.append(training / t_training)
                line += f" | {t_acc:>16.4f}  {t_training:>6.2f} s | {ratios[-1]:.2f}"
            print(line, flush=True)
        firsts = []                                      # (first run, warm run) to the accuracy line
        for k in range(args.first_runs):
            cold = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(workdir, f"empty-cache-{k}"))
            pair = [run_scratchnet(0, workdir, env, until_accuracy=True) for env in
                    ((cold, None) if k % 2 == 0 else (None, cold))]
            firsts.append(pair if k % 2 == 0 else pair[::-1])
    accs = [r[0][0] for r in rows]
    print()
    print(f"scratchnet test accuracy: mean {statistics.mean(accs):.4f} +- {statistics.pstdev(accs):.4f}, "
          f"lowest {min(accs):.4f} ({len(accs)} seeds)")
    if None not in (as_is := [r[0][5] for r in rows]):
        print(f"  (each test picture's probabilities averaged over it and 4 copies moved one pixel; as they "
              f"are: mean {statistics.mean(as_is):.4f} +- {statistics.pstdev(as_is):.4f}, lowest {min(as_is):.4f})")
    print(f"scratchnet start to printed test accuracy: {spread([r[0][1] for r in rows])} s")
    print(f"scratchnet training: {spread([r[0][2] for r in rows])} s; peak RSS "
          f"{max(r[0][4] for r in rows):.0f} MB")
    if ratios:
        t_accs = [r[1][0] for r in rows]
        version, threads = rows[0][1][2], rows[0][1][3]
        print(f"PyTorch {version} ({threads} threads) test accuracy: mean {statistics.mean(t_accs):.4f} "
              f"+- {statistics.pstdev(t_accs):.4f}; training: {spread([r[1][1] for r in rows])} s")
        print(f"training time, scratchnet / PyTorch, per pair: {spread(ratios)}")
    else:
        print("PyTorch is not installed: no comparison (pip install torch==2.13.0)")
    from scratchnet.apps.recipes import FAST
    from scratchnet.core.networks import ARCHITECTURES
    steps = -(-60000 // FAST.batch_size)
    limit, rate = gemm_limit(ARCHITECTURES[FAST.arch](), FAST.batch_size, steps)
    print(f"arithmetic limit (its matrix products alone, as a step runs them: {rate:.0f} GFLOP/s): "
          f"{limit:.2f} s per epoch")
    ratios, rates = limit_in_turns(FAST.batch_size)
    print(f"training steps / limit, taking turns ({len(ratios)} rounds of 60 steps and their products "
          f"alone, {spread(rates)} GFLOP/s): {spread(ratios)}")
    if firsts:
        extra = [cold[1] - warm[1] for cold, warm in firsts]
        print(f"first run (empty kernel cache) against a warm run, seed 0, in turns, {len(firsts)} pairs: "
              f"{statistics.median(extra):+.2f} s to the printed test accuracy (median; "
              f"{min(extra):+.2f} to {max(extra):+.2f}); first runs {spread([c[1] for c, _ in firsts])} s, "
              f"test accuracy {', '.join(f'{c[0]:.4f}' for c, _ in firsts)}")


if __name__ == "__main__":
    main()
