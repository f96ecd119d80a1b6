"""Finite-difference gradient checking, float64, central differences: the proof of every
backward pass, and the catalogue that `python -m scratchnet.gradcheck` runs.

    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / 2h        error O(h^2)

A layer is checked through the scalar  f(x) = sum(layer.forward(x) * dout)  with a RANDOM
upstream gradient `dout`: then df/dx is exactly what layer.backward(dout) must return.
(A uniform dout such as ones_like can hide a wrong backward: a mistake that permutes or
mixes positions still sums to the right total.)

Two errors are reported per gradient (a = analytic, from backward; n = numeric):
    per array    max|a - n| / max(1e-8, max|a| + max|n|)      the pass/fail criterion
    per element  max over i of |a_i - n_i| / max(1e-8, |a_i| + |n_i|)   (CS231n's rel_error)
In float64 a correct backward pass gives ~1e-10 per array; a bug gives > 1e-3.
"""
import contextlib
import sys
from dataclasses import dataclass

import numpy as np

from . import kernels
from .fused import ConvReLUPool, Im2rowConvReLUPool, WinogradConvReLUPool
from .kernels import reference as reference_kernels
from .layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from .losses import softmax_cross_entropy
from .networks import mnist_cnn, mnist_fast_cnn
from .optim import SGD, Adam

TOLERANCE = 1e-6


def rel_error(analytic, numeric):
    """max|a - n| / max(1e-8, max|a| + max|n|): a scale-free error for a whole gradient."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.max(np.abs(a - n)) / max(1e-8, np.max(np.abs(a)) + np.max(np.abs(n))))


def elementwise_error(analytic, numeric):
    """max_i |a_i - n_i| / max(1e-8, |a_i| + |n_i|)."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return float(np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))))


def numerical_gradient(f, x, h=1e-5, indices=None):
    """Central-difference gradient of the scalar function f() with respect to array x.

    x is perturbed in place and restored. `indices` (flat positions) limits the work for
    large arrays; the result is then the gradient at those positions only, shape (len,).
    """
    flat = x.reshape(-1)  # a view: writing to it perturbs x
    positions = range(flat.size) if indices is None else indices
    grad = np.zeros(len(positions) if indices is not None else flat.size, dtype=np.float64)
    for out_i, i in enumerate(positions):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        grad[out_i] = (fp - fm) / (2 * h)
    return grad if indices is not None else grad.reshape(x.shape)


def layer_gradients(layer, x, rng, h=1e-5, max_checks=None):
    """{"x": (analytic, numeric), "W": ..., ...} for a layer (or fused block), in float64."""
    layer.astype(np.float64)
    x = np.asarray(x, dtype=np.float64).copy()
    dout = rng.standard_normal(layer.forward(x).shape)
    analytic = {"x": layer.backward(dout).copy()}
    analytic.update({k: g.copy() for k, g in layer.grads.items()})

    def f():
        return float(np.sum(layer.forward(x) * dout))

    pairs = {}
    for name, arr in {"x": x, **layer.params}.items():
        idx = None
        if max_checks is not None and arr.size > max_checks:
            idx = rng.choice(arr.size, size=max_checks, replace=False)
        numeric = numerical_gradient(f, arr, h, idx)
        pairs[name] = (analytic[name].reshape(-1)[idx] if idx is not None else analytic[name], numeric)
    return pairs


def check_layer(layer, x, rng, h=1e-5, max_checks=None):
    """Compare a layer's backward pass with finite differences, for x and every parameter.

    Runs in float64 (layer and x are cast). Returns {"x": err, "W": err, ...} of rel_error.
    `max_checks` samples that many random positions per array instead of all of them.
    """
    return {k: rel_error(a, n) for k, (a, n) in layer_gradients(layer, x, rng, h, max_checks).items()}


# ------------------------------------------------------------------ the catalogue
@dataclass
class Row:
    check: str        # the catalogue entry
    what: str         # the gradient or quantity compared, e.g. "dL/dW"
    shape: tuple
    per_element: float
    per_array: float
    tolerance: float = TOLERANCE

    @property
    def passed(self):
        return self.per_array < self.tolerance


def _rows(check, pairs, shapes=None):
    return [Row(check, f"dL/d{name}", (shapes or {}).get(name, np.shape(a)), elementwise_error(a, n),
                rel_error(a, n)) for name, (a, n) in pairs.items()]


def _check_dense(rng, h):
    layer = Dense(7, 5, rng=rng)
    layer.params["b"][:] = rng.standard_normal(5)
    return _rows("dense", layer_gradients(layer, rng.standard_normal((4, 7)), rng, h))


def _check_relu(rng, h):
    x = rng.standard_normal((3, 10))
    x[np.abs(x) < 0.01] = 0.5   # away from the kink at 0, where the derivative jumps
    return _rows("relu", layer_gradients(ReLU(), x, rng, h))


def _check_flatten(rng, h):
    return _rows("flatten", layer_gradients(Flatten(), rng.standard_normal((2, 3, 4, 5)), rng, h))


def _check_maxpool(rng, h):
    rows = []
    for size, stride in ((2, 2), (3, 2)):   # non-overlapping and overlapping windows
        shape = (2, 2, 7, 9)
        x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1   # distinct, well apart: no ties
        with kernels.using("reference"):
            rows += _rows(f"maxpool {size}x{size}/{stride}", layer_gradients(MaxPool2D(size, stride), x, rng, h))
    return rows


def maxpool_tie_rows():
    """Ties are not differentiable, so finite differences cannot judge them: the documented
    rule (the FIRST maximum in row-major order gets all of the gradient) is checked instead,
    on both back ends, for the pooling layer and the fused block."""
    rows = []
    x = np.array([[[[1.0, 5.0, 2.0, 2.0],
                    [5.0, 5.0, 2.0, 2.0]]]])
    rule = np.array([[[[0, 10.0, 20.0, 0], [0, 0, 0, 0]]]])
    for backend in kernels.BACKENDS:
        with kernels.using(backend):
            pool = MaxPool2D(2, 2)
            pool.forward(x)
            got = pool.backward(np.array([[[[10.0, 20.0]]]]))
        rows.append(Row(f"maxpool ties [{backend}]", "rule", x.shape, float(np.max(np.abs(got - rule))),
                        float(np.max(np.abs(got - rule)))))
    # fused: a 1x1 identity conv, so the pooled values are the input's and the ties stay ties
    conv = Conv2D(1, 1, 1).astype(np.float64)
    conv.params["W"][...], conv.params["b"][...] = 1.0, 0.0
    for backend in kernels.BACKENDS:
        with kernels.using(backend):
            block = ConvReLUPool(conv, ReLU(), MaxPool2D(2, 2))
            block.forward(x)
            got = block.backward(np.array([[[[10.0, 20.0]]]]))
        rows.append(Row(f"fused ties [{backend}]", "rule", x.shape, float(np.max(np.abs(got - rule))),
                        float(np.max(np.abs(got - rule)))))
    return rows


def _check_conv(rng, h):
    """Conv2D as im2col + one matmul (its backward: a matmul + col2im, im2col's adjoint)."""
    rows = []
    with kernels.using("reference"):
        for stride, padding in ((1, 0), (2, 1)):
            layer = Conv2D(3, 4, 3, stride=stride, padding=padding, rng=rng)
            layer.params["b"][:] = rng.standard_normal(4)
            rows += _rows(f"conv s{stride} p{padding}",
                          layer_gradients(layer, rng.standard_normal((2, 3, 7, 6)), rng, h))
        layer = Conv2D(2, 3, (2, 3), padding=1, rng=rng)   # a non-square kernel
        rows += _rows("conv 2x3 p1", layer_gradients(layer, rng.standard_normal((2, 2, 5, 6)), rng, h))
    return rows


def _fused_block(rng, C, F, K, pad, S, block=ConvReLUPool):
    conv = Conv2D(C, F, K, padding=pad, rng=rng)
    conv.params["b"][:] = rng.standard_normal(F) * 0.3
    return block(conv, ReLU(), MaxPool2D(S, S))


FUSED_CASES = [("1x3x3 pool 2", (1, 3, 3, 0, 2), (2, 1, 9, 10)),      # (C, F, K, pad, S), x
               ("2x3x3 pad 1 pool 3", (2, 3, 3, 1, 3), (2, 2, 8, 7))]


def _check_blocks(rng, h, name, block, cases):
    """Each case of a fused block type, on both back ends' kernels."""
    rows = []
    for backend in kernels.BACKENDS:
        with kernels.using(backend):
            for label, args, shape in cases:
                fused = _fused_block(rng, *args, block=block)
                rows += _rows(f"{name} {label} [{backend}]",
                              layer_gradients(fused, rng.standard_normal(shape), rng, h))
    return rows


def _check_fused(rng, h):
    return _check_blocks(rng, h, "fused", ConvReLUPool, FUSED_CASES)


IM2ROW_CASES = [("24x3x3 pool 2", (24, 3, 3, 0, 2), (2, 24, 6, 6)),    # the fast network's second block's shape
                ("2x3x3 pad 1 pool 3", (2, 3, 3, 1, 3), (2, 2, 8, 7)),
                ("1x3x5 pad 1 pool 2", (1, 3, 5, 1, 2), (2, 1, 9, 8))]   # one channel: tap planes


def _check_im2row(rng, h):
    """The im2row + GEMM block (its GEMM is NumPy's on both back ends)."""
    return _check_blocks(rng, h, "im2row block", Im2rowConvReLUPool, IM2ROW_CASES)


WINOGRAD_CASES = [("24x3x3 pool 2", (24, 3, 3, 0, 2), (2, 24, 6, 6)),  # the fast network's second block
                  ("2x3x3 pad 1 pool 2", (2, 3, 3, 1, 2), (2, 2, 9, 8))]  # odd: a conv row left out


def _check_winograd(rng, h):
    """The Winograd F(2x2, 3x3) block (its 16 products NumPy's on both back ends)."""
    return _check_blocks(rng, h, "winograd block", WinogradConvReLUPool, WINOGRAD_CASES)


def _check_loss(rng, h):
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    _, dlogits = softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits, h)
    return _rows("softmax cross-entropy", {"logits": (dlogits.copy(), numeric)})


def _check_sgd(rng, h):
    """Not a derivative: the update against its formula, v' = m v - lr (g + wd w) (tiny -> 0),
    w' = w + v', with weight decay wd on a weight matrix "W"."""
    rows = []
    for backend in kernels.BACKENDS:
        w, v, g = (rng.standard_normal((6, 7)) for _ in range(3))
        g[0, 0], v[0, 0], w[0, 0] = 0.0, 1e-33, 0.0    # decays below the flush threshold
        lr, m, wd = 0.05, 0.9, 1e-3
        want_v = m * v - lr * (g + wd * w)
        want_v[np.abs(want_v) < reference_kernels.FLUSH] = 0
        want_w = w + want_v
        opt = SGD(lr, m, weight_decay=wd)
        opt.velocity["0.W"] = v.copy()
        with kernels.using(backend):
            opt.step({"0.W": w}, {"0.W": g})
        rows.append(Row(f"sgd momentum [{backend}]", "w'", w.shape, elementwise_error(w, want_w), rel_error(w, want_w)))
        rows.append(Row(f"sgd momentum [{backend}]", "v'", v.shape, elementwise_error(opt.velocity["0.W"], want_v),
                        rel_error(opt.velocity["0.W"], want_v)))
    return rows


def _check_adam(rng, h):
    """Not a derivative: three Adam updates against the formula, in float64:
    m' = b1 m + (1-b1) g, v' = b2 v + (1-b2) g^2, w' = w - lr m'/(1-b1^t) / (sqrt(v'/(1-b2^t)) + eps)."""
    rows = []
    for backend in kernels.BACKENDS:
        w0, grads = rng.standard_normal((6, 7)), [rng.standard_normal((6, 7)) for _ in range(3)]
        lr, (b1, b2), eps = 0.01, (0.7, 0.9), 1e-8
        want, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        for t, g in enumerate(grads, 1):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            want = want - lr * m / (1 - b1 ** t) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        opt, w = Adam(lr, (b1, b2), eps), w0.copy()
        with kernels.using(backend):
            for g in grads:
                opt.step({"0.W": w}, {"0.W": g})
        rows.append(Row(f"adam, 3 steps [{backend}]", "w'", w.shape, elementwise_error(w, want), rel_error(w, want)))
        rows.append(Row(f"adam, 3 steps [{backend}]", "m'", m.shape, elementwise_error(opt.m["0.W"], m),
                        rel_error(opt.m["0.W"], m)))
    return rows


def _check_fast_network(rng, h, samples=20):
    """The fast recipe's network (two conv blocks, im2row + GEMM) through the loss, as
    _check_network does the reference one."""
    model = mnist_fast_cnn(seed=1).astype(np.float64)
    with kernels.using("jit"):
        return _network_rows(model, rng, h, samples, "network (mnist_fast_cnn, fused) [jit]")


def _check_network(rng, h, samples=30):
    """The reference CNN through the loss, batch of 2, as training runs it (the fused block),
    on the jit back end: every parameter and the input, `samples` random positions each."""
    model = mnist_cnn(seed=1).astype(np.float64)
    with kernels.using("jit"):
        return _network_rows(model, rng, h, samples)


def _network_rows(model, rng, h, samples, label="network (mnist_cnn, fused) [jit]"):
    for key, p in model.parameters().items():
        if key.endswith(".b"):
            p[:] = rng.standard_normal(p.shape) * 0.1   # non-zero biases
    x, y = rng.random((2, 1, 28, 28)), np.array([3, 7])

    def loss():
        return softmax_cross_entropy(model.forward(x), y)[0]

    _, dlogits = softmax_cross_entropy(model.forward(x), y)
    pairs = {"x": (model.backward(dlogits).copy(), None)}
    pairs.update({k: (g.copy(), None) for k, g in model.gradients().items()})
    out = {}
    for name, arr in {"x": x, **model.parameters()}.items():
        idx = rng.choice(arr.size, size=min(arr.size, 2 * samples), replace=False)
        numeric = numerical_gradient(loss, arr, h, idx)
        # A ReLU or a pooling window whose winner changes within +-h is a kink: there the
        # difference quotient measures neither side's slope. It shows as a quotient that
        # changes with h (on a smooth stretch it does not): those positions are left out,
        # and the first `samples` of the others compared.
        smooth = np.abs(numerical_gradient(loss, arr, h / 4, idx) - numeric) <= 1e-6 * np.maximum(np.abs(numeric), 1e-3)
        keep = np.flatnonzero(smooth)[:samples]
        out[name] = (pairs[name][0].reshape(-1)[idx[keep]], numeric[keep])
    shapes = {"x": x.shape, **{k: v.shape for k, v in model.parameters().items()}}
    return _rows(label, out, shapes)


CHECKS = {
    "dense": _check_dense, "relu": _check_relu, "flatten": _check_flatten,
    "maxpool": _check_maxpool, "maxpool-ties": lambda rng, h: maxpool_tie_rows(),
    "conv": _check_conv, "fused": _check_fused, "im2row": _check_im2row,
    "winograd": _check_winograd, "loss": _check_loss,
    "sgd": _check_sgd, "adam": _check_adam, "network": _check_network, "fast-network": _check_fast_network,
}


# ------------------------------------------------------------------ planted bugs
@contextlib.contextmanager
def _patched(owner, name, replacement):
    original = getattr(owner, name)
    setattr(owner, name, replacement(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def _relu_mask_off_by_one(original):
    def backward(self, dout, need_dx=True):
        return dout * np.roll(self.cache, 1)      # the mask of the neighbouring element
    return backward


def _conv_weight_flipped(original):
    def backward(self, dout, need_dx=True):
        dx = original(self, dout, need_dx)
        self.grads["W"][...] = self.grads["W"][:, :, ::-1, ::-1].copy()   # kernel turned 180°
        return dx
    return backward


def _maxpool_wrong_winner(original):
    def backward(self, dout, need_dx=True):
        x_shape, argmax = self.cache
        self.cache = (x_shape, (argmax + 1) % (self.size * self.size))   # the next element
        try:
            return original(self, dout, need_dx)
        finally:
            self.cache = (x_shape, argmax)
    return backward


def _maxpool_tie_last(original):
    def forward(self, x):
        out = original(self, x)
        windows = reference_kernels._pool_windows(x, self.size, self.stride)[..., ::-1]
        last = windows.shape[-1] - 1 - windows.argmax(axis=-1)         # reversed: LAST max wins
        self.cache = (self.cache[0], last.astype(self.cache[1].dtype))
        return out
    return forward


def _dense_bias_off_by_one(original):
    def backward(self, dout, need_dx=True):
        dx = original(self, dout, need_dx)
        self.grads["b"][...] = dout[1:].sum(axis=0)   # one row of the batch forgotten
        return dx
    return backward


def _loss_not_averaged(original):
    def loss(logits, labels):
        value, dlogits = original(logits, labels)
        return value, dlogits * len(logits)          # the gradient of the sum, not the mean
    return loss


def _sgd_wrong_sign(original):
    def step(self, params, grads):
        original(self, params, {k: -g for k, g in grads.items()})   # ascends instead
    return step


def _fused_relu_ignored(original):
    def backward(dout, argmax, planes, w, x_shape, pad, S, need_dx, dw=None, db=None):
        # windows whose maximum the ReLU cut (-1) still get the gradient, at their element 0
        return original(dout, np.maximum(argmax, 0), planes, w, x_shape, pad, S, need_dx, dw, db)
    return backward


def _adam_uncorrected(original):
    def step(self, params, grads):
        self.steps += 10 ** 6          # 1 - beta^steps = 1: the bias corrections vanish
        try:
            original(self, params, grads)
        finally:
            self.steps -= 10 ** 6
    return step


def _unpool_wrong_winner(original):
    def backward(dout, argmax, S, dconv, db):
        # each window's gradient to the element after its winner (the ReLU's -1 kept)
        return original(dout, np.where(argmax >= 0, (argmax + 1) % (S * S), -1), S, dconv, db)
    return backward


PLANTED_BUGS = {
    "relu-mask-off-by-one": ("ReLU's backward uses the mask of the neighbouring element",
                             lambda: _patched(ReLU, "backward", _relu_mask_off_by_one)),
    "conv-weight-flipped": ("Conv2D's weight gradient is a convolution's, not a cross-correlation's "
                            "(the kernel turned 180 degrees)",
                            lambda: _patched(Conv2D, "backward", _conv_weight_flipped)),
    "maxpool-wrong-winner": ("max-pool sends each window's gradient to the element after the winner",
                             lambda: _patched(MaxPool2D, "backward", _maxpool_wrong_winner)),
    "maxpool-tie-last": ("max-pool gives a tie's gradient to the LAST maximum, not the first",
                         lambda: _patched(MaxPool2D, "forward", _maxpool_tie_last)),
    "dense-bias-off-by-one": ("Dense's bias gradient skips the first row of the batch",
                              lambda: _patched(Dense, "backward", _dense_bias_off_by_one)),
    "loss-not-averaged": ("the loss gradient is not divided by the batch size",
                          lambda: _patched(sys.modules[__name__], "softmax_cross_entropy", _loss_not_averaged)),
    "sgd-wrong-sign": ("SGD climbs the gradient instead of descending it",
                       lambda: _patched(SGD, "step", _sgd_wrong_sign)),
    "fused-relu-ignored": ("the fused block's NumPy backward lets gradient through where the ReLU was off",
                           lambda: _patched(reference_kernels, "conv_relu_pool_backward", _fused_relu_ignored)),
    "im2row-wrong-winner": ("the im2row block's NumPy backward sends each window's gradient to the element "
                            "after the winner", lambda: _patched(reference_kernels, "relu_pool_backward",
                                                                 _unpool_wrong_winner)),
    "winograd-not-adjoint": ("the Winograd block's NumPy backward applies the input transform B^T dV B "
                             "where its adjoint B dV B^T belongs", lambda: _patched(
                                 reference_kernels, "_b", lambda original: reference_kernels._bt)),
    "adam-uncorrected": ("Adam leaves out the bias corrections of its moments (which start at zero)",
                         lambda: _patched(Adam, "step", _adam_uncorrected)),
}


def compile_jit_kernels(on_compile=None):
    """The checks run the jit back end's kernels in float64: have them compiled ahead, on
    every core at once (a first run would otherwise compile them one by one)."""
    def exercise():
        rng = np.random.default_rng(0)
        for _, args, shape in FUSED_CASES:
            block = _fused_block(rng, *args).astype(np.float64)
            block.backward(block.forward(rng.standard_normal(shape)))
        for model in (mnist_cnn().astype(np.float64), mnist_fast_cnn().astype(np.float64)):
            model.backward(model.forward(np.zeros((2, 1, 28, 28))))
            SGD().step(model.parameters(), model.gradients())
            Adam().step(model.parameters(), model.gradients())
    with kernels.using("jit"):
        return kernels.active().compile_ahead(exercise, on_compile)


def run_checks(only=None, seed=0, h=1e-5, plant=None):
    """Rows of every check (or only the one named), with a planted bug if asked: every
    gradient compared as the module docstring says."""
    names = [n for n in CHECKS if only is None or n == only]
    rng = np.random.default_rng(seed)
    with (PLANTED_BUGS[plant][1]() if plant else contextlib.nullcontext()):
        return [row for name in names for row in CHECKS[name](rng, h)]
