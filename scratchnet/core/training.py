"""The training loop: mini-batch SGD with momentum, validation, evaluation.

Data-agnostic: inputs are any arrays (N, ...) and integer labels (N,). Each batch is
converted to the model's float input by `prepare(batch, out)`, which writes into `out`
(B, *model.input_shape) and returns it; integer images (MNIST's uint8) need one that scales
them (scratchnet.data.mnist.to_input), so a dataset can stay uint8 in memory (4x smaller).
Batches are gathered into buffers reused from step to step.
No printing here: callers pass `on_batch` / `on_epoch` callbacks (train.py draws the progress
bar with them), so the loop is importable, testable and silent by default.
"""
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import TrainingDiverged
from . import kernels
from .kernels import blas
from .losses import log_softmax, softmax_cross_entropy
from .optim import SGD

# A mean cross-entropy above this means the correct class gets probability < e^-100 on
# average (a random guess scores ln 10 = 2.3): the weights have blown up, and will reach
# inf/NaN soon. Stop before saving garbage.
DIVERGED_LOSS = 100.0


@dataclass
class TrainResult:
    history: list = field(default_factory=list)  # one dict per finished epoch
    interrupted: bool = False                   # Ctrl-C: the model holds the last finished epoch


def as_float(batch, out):
    """The default `prepare`: float inputs copied as they are."""
    if batch.dtype.kind != "f":
        raise TypeError(f"inputs are {batch.dtype}: pass prepare= to scale them "
                        f"(for MNIST's uint8 images: scratchnet.data.mnist.to_input)")
    np.copyto(out, batch.reshape(out.shape))
    return out


class Batches:
    """Gathers batches of inputs and labels into arrays reused from call to call."""

    def __init__(self, model, inputs, labels, batch_size, prepare=None):
        self.inputs, self.labels, self.prepare = inputs, labels, prepare or as_float
        self.raw = np.empty((batch_size, *inputs.shape[1:]), dtype=inputs.dtype)
        self.x = np.empty((batch_size, *model.input_shape), dtype=model.dtype)
        self.y = np.empty(batch_size, dtype=labels.dtype)

    def take(self, idx):
        """Inputs (B, *input_shape) and labels (B,) at positions idx (a slice or an array)."""
        B = len(range(len(self.inputs))[idx]) if isinstance(idx, slice) else len(idx)
        raw, y = self.raw[:B], self.y[:B]
        if isinstance(idx, slice):
            raw[...], y[...] = self.inputs[idx], self.labels[idx]
        else:
            np.take(self.inputs, idx, axis=0, out=raw, mode="wrap")   # "wrap": no temporary
            np.take(self.labels, idx, out=y, mode="wrap")              # copy (idx is in range)
        return self.prepare(raw, self.x[:B]), y


def evaluate(model, inputs, labels, batch_size=128, prepare=None):
    """Mean cross-entropy, accuracy and class probabilities (N, classes) of `model`."""
    batches = Batches(model, inputs, labels, min(batch_size, max(len(inputs), 1)), prepare)
    probs, loss_sum = None, 0.0
    for i in range(0, len(inputs), batch_size):
        x, _ = batches.take(slice(i, i + batch_size))
        logp = log_softmax(model.forward(x))                                     # (B, classes)
        if probs is None:
            probs = np.empty((len(inputs), logp.shape[1]), dtype=np.float32)
        y = labels[i:i + batch_size]
        loss_sum -= float(logp[np.arange(len(y)), y].sum())                     # cross-entropy
        probs[i:i + batch_size] = np.exp(logp)
    if probs is None:
        return float("nan"), float("nan"), np.zeros((0, 0), dtype=np.float32)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    return loss_sum / len(inputs), accuracy, probs


def cosine_decay(progress):
    """A learning-rate factor falling from 1 to 0 along half a cosine as training progresses
    from 0 to 1 (Loshchilov & Hutter's schedule, without restarts)."""
    return 0.5 * (1 + np.cos(np.pi * progress))


def one_cycle(progress, warm_up=0.25, start=0.04, end=4e-6):
    """Smith's one-cycle policy as PyTorch's OneCycleLR draws it: the factor rises along half a
    cosine from `start` to 1 over the first `warm_up` of training, then falls along half a
    cosine to `end`. The rise lets a large peak rate be reached without blowing up the
    untrained network; the long fall settles it."""
    if progress < warm_up:
        return start + (1 - start) * (1 - np.cos(np.pi * progress / warm_up)) / 2
    return end + (1 - end) * (1 + np.cos(np.pi * (progress - warm_up) / (1 - warm_up))) / 2


SCHEDULES = {"constant": None, "cosine": cosine_decay, "one-cycle": one_cycle}


class WeightAverage:
    """An exponential moving average of a model's parameters (Polyak averaging), updated
    every `every` steps: avg <- avg + (1 - k) (w - avg), k = decay^every. Its weights, copied
    into the model at the end of training, generalise a little better than the last step's.

    The average starts at zero and is divided by 1 - k^n after n updates (as Adam corrects its
    moments): an average started at the initial weights would still be mostly those after a
    short run (96% of them after 43 steps at decay 0.999)."""

    def __init__(self, model, decay=0.999, every=4):
        self.params = model.parameters()
        self.average = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.scratch = {k: np.empty_like(v) for k, v in self.params.items()}
        self.keep, self.every, self.steps, self.updates = decay ** every, every, 0, 0

    def update(self):
        self.steps += 1
        if self.steps % self.every:
            return
        self.updates += 1
        for k, w in self.params.items():
            diff = np.subtract(w, self.average[k], out=self.scratch[k])
            diff *= 1 - self.keep
            self.average[k] += diff

    def weights(self):
        """{name: array}: the bias-corrected average (the model's weights before any update)."""
        if self.updates == 0:
            return {k: w.copy() for k, w in self.params.items()}
        scale = 1 / (1 - self.keep ** self.updates)
        return {k: (a * scale).astype(a.dtype) for k, a in self.average.items()}

    def apply(self):
        for k, w in self.weights().items():
            self.params[k][...] = w

    @contextlib.contextmanager
    def applied(self):
        """The averaged weights in the model within the block, the trained ones after it."""
        trained = {k: w.copy() for k, w in self.params.items()}
        self.apply()
        try:
            yield
        finally:
            for k, w in self.params.items():
                w[...] = trained[k]


def fit(model, train, val=None, epochs=10, batch_size=64, lr=0.01, momentum=0.9, seed=0,
        prepare=None, augment=None, on_batch=None, on_epoch=None, optimizer=None, schedule=None,
        weight_decay=0.0, average=None, augment_epochs=None, pin_threads=True, parallel=False):
    """Train `model` in place. train/val: (inputs (N, ...), integer labels (N,)).

    Each epoch visits the training inputs once in a fresh order drawn from `seed`.
    `prepare` converts a slice of inputs to the model's float input (see module docstring);
    `augment` (e.g. data.augment.Augmenter) then maps each float batch to a new one, in the
    first `augment_epochs` epochs (default: all).
    on_batch(epoch, batch_index, n_batches, running_loss, running_acc, images_per_s) and
    on_epoch(record) are called as it goes. `optimizer` (default SGD(lr, momentum)) keeps its
    state, e.g. the momentum, in the caller's hands (else weight_decay goes to the SGD it makes).
    `schedule(progress)`, if given, scales the learning rate before every step (progress: the
    fraction of all steps already taken). `average` (a decay, e.g. 0.999) keeps a WeightAverage
    and puts it in the model at the end (validation, and Ctrl-C, use the averaged weights too). Raises TrainingDiverged if the loss is not finite or
    above DIVERGED_LOSS. Ctrl-C returns early with the weights of the last finished epoch.
    pin_threads (default): while it trains, each kernel thread runs on a CPU of its own
    (kernels.jit.pinned: faster in the host's busy spells); False leaves the threads' CPU sets
    alone. parallel=True splits each step over the kernel threads by images (DataParallel):
    faster for networks whose layers are many mid-sized matrix products.
    """
    inputs, labels = train
    if len(inputs) == 0:
        raise ValueError("the training set is empty")
    batches = Batches(model, inputs, labels, batch_size, prepare)
    rng = np.random.default_rng(seed)
    opt = optimizer if optimizer is not None else SGD(lr, momentum, weight_decay)
    result = TrainResult()
    n = len(inputs)
    n_batches = (n + batch_size - 1) // batch_size
    snapshot = _copy_params(model)
    averaged = WeightAverage(model, average) if average else None
    split = DataParallel(model, kernels.threads()) if parallel else None
    try:
        # each kernel thread on a CPU of its own while training (the CPU sets given back after)
        with kernels.active().pinned() if pin_threads else contextlib.nullcontext():
            for epoch in range(1, epochs + 1):
                order = rng.permutation(n)
                start = time.perf_counter()
                loss_sum, correct, seen = 0.0, 0, 0
                for b in range(n_batches):
                    if schedule is not None:
                        opt.lr = lr * schedule(((epoch - 1) * n_batches + b) / (epochs * n_batches))
                    x, y = batches.take(order[b * batch_size:(b + 1) * batch_size])
                    if augment is not None and (augment_epochs is None or epoch <= augment_epochs):
                        x = augment(x)
                    loss, hits = split.step(opt, x, y) if split else train_step(model, opt, x, y)
                    if not np.isfinite(loss) or loss > DIVERGED_LOSS:
                        raise TrainingDiverged(
                            f"training diverged: loss is {loss:.4g} at epoch {epoch}, batch {b + 1}; "
                            f"try a lower --lr (now {lr if schedule else opt.lr})")
                    correct += hits
                    if averaged is not None:
                        averaged.update()
                    loss_sum += loss * len(y)
                    seen += len(y)
                    if on_batch is not None:
                        elapsed = time.perf_counter() - start
                        on_batch(epoch, b, n_batches, loss_sum / seen, correct / seen,
                                 seen / elapsed if elapsed > 0 else 0.0)
                seconds = time.perf_counter() - start
                record = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                          "seconds": seconds, "images_per_second": seen / seconds, "lr": opt.lr}
                if val is not None and len(val[0]):   # of the weights that would be saved now
                    with averaged.applied() if averaged is not None else contextlib.nullcontext():
                        val_loss, val_acc, _ = evaluate(model, *val, prepare=prepare)
                    record.update(val_loss=val_loss, val_accuracy=val_acc)
                result.history.append(record)
                snapshot = averaged.weights() if averaged is not None else _copy_params(model)
                if on_epoch is not None:
                    on_epoch(record)
    except KeyboardInterrupt:
        _restore_params(model, snapshot)
        result.interrupted = True
        return result
    if averaged is not None:
        averaged.apply()
    return result


class DataParallel:
    """A training step split over the kernels' team: thread i runs forward, loss and backward
    of the whole network on slice i of the batch, on a replica of the model (the same weights,
    its own activations and gradients), with BLAS on one thread; then the slices' gradients
    are added, in a fixed order, into the model's, and the optimizer steps once.

    The loss is the batch's mean, so slice i's gradient is scaled by its share of the batch:
    the sum is the gradient of the whole batch. Each thread works on a few MB that stay in
    its own cache, and the threads meet once per step instead of once per kernel. The
    result depends on the number of slices (the order of the additions), which is the
    team's size: the same on the same machine."""

    def __init__(self, model, parts):
        self.model, self.replicas = model, [model.replica() for _ in range(parts)]
        self.results = [None] * parts

    def _slice(self, i, lo, hi, x, y, total):
        replica = self.replicas[i]
        logits = replica.forward(x[lo:hi])
        loss, dlogits = softmax_cross_entropy(logits, y[lo:hi])
        dlogits *= (hi - lo) / total
        replica.backward(dlogits, need_dx=False)
        self.results[i] = (loss * (hi - lo), int(np.count_nonzero(logits.argmax(axis=1) == y[lo:hi])))

    def step(self, opt, x, y):
        """As train_step: the batch's mean loss and the hits before the update."""
        n = len(y)
        work = [(i, lo, hi, x, y, n) for i, (lo, hi) in enumerate(kernels.split(n, len(self.replicas)))]
        backend = kernels.active()
        if hasattr(backend, "team"):          # (jit) one slice per thread
            with blas.single_threaded():
                backend.team().run(self._slice, (), work)
        else:                                 # (reference: NumPy on this thread) one by one
            for args in work:
                self._slice(*args)
        grads = self.model.gradients()
        parts = [r.gradients() for r in self.replicas[:len(work)]]
        if hasattr(opt, "step_sum"):          # the sum and the update in one pass (Adam)
            opt.step_sum(self.model.parameters(), grads, parts)
        else:
            for key, g in grads.items():
                np.copyto(g, parts[0][key])
                for part in parts[1:]:
                    g += part[key]
            opt.step(self.model.parameters(), grads)
        results = self.results[:len(work)]
        return sum(r[0] for r in results) / n, sum(r[1] for r in results)


def train_step(model, opt, x, y):
    """One step of mini-batch SGD: forward, loss, backward, update. Returns the batch's mean
    loss and how many of its inputs the model classified right before the update. A diverged
    loss (inf or NaN) is returned, not checked: the update it made is garbage either way."""
    logits = model.forward(x)
    loss, dlogits = softmax_cross_entropy(logits, y)
    hits = int(np.count_nonzero(logits.argmax(axis=1) == y))
    model.backward(dlogits, need_dx=False)
    opt.step(model.parameters(), model.gradients())
    return loss, hits


def warm_up(model, batch_size=64, on_compile=None, augment=None, optimizer=None):
    """Get every kernel a training step calls compiled (or loaded from Numba's disk cache)
    before the first epoch's clock starts: ahead of time and on all cores at once where the
    back end can (kernels.jit.compile_ahead; on_compile(n) is told when n kernels must be
    compiled), then one forward and backward pass on zeros. Returns the seconds spent
    waiting for the compiler. `augment`, a batch transform like fit's, has its
    kernels compiled too (pass one of its own: recording it may draw its random numbers), and
    so has `optimizer`'s update (default: SGD's; pass a fresh one: recording it changes its
    state). Touches gradients and buffers only, never the weights."""
    x = np.zeros((batch_size, *model.input_shape), dtype=model.dtype)
    y = np.zeros(batch_size, dtype=np.int64)

    def step(update):
        inputs = augment(x) if update and augment is not None else x   # (recorded only)
        _, dlogits = softmax_cross_entropy(model.forward(inputs), y)
        model.backward(dlogits, need_dx=False)
        if update:   # only ever recorded by compile_ahead, never run: the weights stay as they are
            opt = optimizer or SGD()
            opt.step(model.parameters(), model.gradients())
            if hasattr(opt, "step_sum"):   # as DataParallel calls it, one part per thread
                opt.step_sum(model.parameters(), model.gradients(), [model.gradients()] * kernels.threads())

    seconds = kernels.active().compile_ahead(lambda: step(update=True), on_compile)
    step(update=False)
    model.release_buffers()   # (a data-parallel fit never runs the model itself: not held)
    return seconds


def _copy_params(model):
    return {k: v.copy() for k, v in model.parameters().items()}


def _restore_params(model, snapshot):
    for k, v in model.parameters().items():
        v[...] = snapshot[k]
