"""Numba kernels vs their NumPy references, microseconds per call at batch 64.

    python benchmarks/bench_kernels.py [--threads N]
"""
import argparse

from common import best_of, header  # noqa: I001  (common puts the project on sys.path)
from scratchnet.cli import set_threads


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int)
    args = p.parse_args()
    set_threads(args.threads)
    import numpy as np
    from scratchnet.core.kernels import jit, reference

    header("kernel benchmark: Numba (jit) vs NumPy (reference), float32, batch 64", args.threads)
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)               # the network's input
    h = rng.standard_normal((64, 32, 26, 26)).astype(np.float32)    # conv output, pre-pool
    W = rng.standard_normal((32, 1, 3, 3)).astype(np.float32) * 0.3
    b = np.zeros(32, np.float32)
    cols = reference.im2col(x, 3, 3, 1, 0)
    pooled, argmax = reference.maxpool_forward(h, 2, 2)
    dpool = rng.standard_normal(pooled.shape).astype(np.float32)
    fout, farg, fplanes = reference.conv_relu_pool_forward(x, W, b, 0, 2)
    dfout = rng.standard_normal(fout.shape).astype(np.float32)
    fbuffers = (np.empty_like(fout), np.empty_like(farg), np.empty_like(fplanes))   # as training
    velocity, grad = np.zeros(540_800, np.float32), rng.standard_normal(540_800).astype(np.float32)
    weights = rng.standard_normal(540_800).astype(np.float32)
    maps = rng.random((64, 12, 12, 24), dtype=np.float32)           # the fast network's, channels last
    wplanes = np.empty((16, 64 * 25 * 24 + 16), np.float32)

    def conv_forward(k):
        return lambda: np.matmul(W.reshape(32, -1), k.im2col(x, 3, 3, 1, 0))

    def conv_backward(k):
        dconv = rng.standard_normal((64, 32, 676)).astype(np.float32)
        return lambda: (np.tensordot(dconv, k.im2col(x, 3, 3, 1, 0), axes=([0, 2], [0, 2])),
                        k.col2im(np.matmul(W.reshape(32, -1).T, dconv), x.shape, 3, 3, 1, 0))

    cases = [
        ("im2col (64,1,28,28) 3x3", lambda k: lambda: k.im2col(x, 3, 3, 1, 0)),
        ("col2im -> (64,1,28,28)", lambda k: lambda: k.col2im(cols, x.shape, 3, 3, 1, 0)),
        ("im2col (64,32,26,26) 3x3 pad 1", lambda k: lambda: k.im2col(h, 3, 3, 1, 1)),
        ("maxpool fwd (64,32,26,26)", lambda k: lambda: k.maxpool_forward(h, 2, 2)),
        ("maxpool bwd (64,32,26,26)", lambda k: lambda: k.maxpool_backward(dpool, argmax, h.shape, 2, 2)),
        ("conv fwd im2col+GEMM", conv_forward),
        ("conv bwd dW + dx", conv_backward),
        ("fused conv+relu+pool fwd", lambda k: lambda: k.conv_relu_pool_forward(x, W, b, 0, 2, *fbuffers)),
        ("fused conv+relu+pool bwd (dW)", lambda k: lambda: k.conv_relu_pool_backward(
            dfout, farg, fplanes, W, x.shape, 0, 2, False)),
        ("SGD update, 540,800 weights", lambda k: lambda: k.sgd_momentum(weights, velocity, grad, 1e-9, 0.9)),
        ("winograd tiles (64,12,12,24)", lambda k: lambda: k.winograd_tiles(maps, 0, wplanes)),
        ("winograd untiles -> (64,12,12,24)", lambda k: lambda: k.winograd_untiles(wplanes, maps.shape, 0)),
    ]
    print(f"{'kernel':34s} {'numpy µs':>10s} {'numba µs':>10s} {'speed-up':>9s}")
    for name, make in cases:
        t_ref = best_of(make(reference), repeat=3, number=5)
        t_jit = best_of(make(jit), repeat=5, number=20)
        print(f"{name:34s} {t_ref * 1e6:10.0f} {t_jit * 1e6:10.0f} {t_ref / t_jit:8.1f}x")
    blocks_every_way(np, rng)


BLOCKS = [("reference network, 1->32 3x3", (64, 1, 28, 28), 32, 3, False),
          ("fast network's first, 1->24 5x5", (64, 1, 28, 28), 24, 5, False),
          ("fast network's second, 24->32 3x3", (64, 24, 12, 12), 32, 3, True)]


def blocks_every_way(np, rng, rounds=9, number=20):
    """Each Conv2D -> ReLU -> MaxPool2D block of the networks as ConvReLUPool (the direct
    kernels), as WinogradConvReLUPool where it fits (3x3, pool 2) and as Im2rowConvReLUPool
    (im2row + GEMM), forward and backward, taking turns `rounds` times (the order rotating):
    what fused.plan's choice rests on."""
    import statistics
    import time

    from scratchnet.core.fused import ConvReLUPool, Im2rowConvReLUPool, WinogradConvReLUPool, plan
    from scratchnet.core.layers import Conv2D, MaxPool2D, ReLU
    print(f"\nConv2D -> ReLU -> MaxPool2D blocks, jit, forward + backward, {rounds} turns of {number} calls"
          " (median ms a call; each way / im2row per turn: median, spread)")
    names = {ConvReLUPool: "direct", WinogradConvReLUPool: "winograd", Im2rowConvReLUPool: "im2row"}
    for name, shape, filters, size, need_dx in BLOCKS:
        conv, relu, pool = Conv2D(shape[1], filters, size, rng=rng), ReLU(), MaxPool2D(2, 2)
        x = rng.random(shape, dtype=np.float32)
        ways = {names[kind]: kind(conv, relu, pool) for kind in names if kind.fits(conv, relu, pool)}
        dout = rng.standard_normal(ways["im2row"].forward(x).shape).astype(np.float32)

        def step(block):
            block.forward(x)
            block.backward(dout, need_dx=need_dx)
        times = {way: [] for way in ways}
        for block in ways.values():
            step(block)
        order = list(ways)
        for r in range(rounds):
            for way in order[r % len(order):] + order[:r % len(order)]:
                start = time.perf_counter()
                for _ in range(number):
                    step(ways[way])
                times[way].append((time.perf_counter() - start) / number)
        chosen = names[type(plan([conv, relu, pool])[0])]
        print(f"{name:36s} plan picks {chosen}")
        for way in ways:
            ratios = [t / i for t, i in zip(times[way], times["im2row"])]
            print(f"    {way:9s} {statistics.median(times[way]) * 1e3:6.2f} ms  "
                  f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
