"""The training loop: mini-batch SGD over uint8 images, validation, and evaluation.

No printing here: callers pass `on_batch` / `on_epoch` callbacks (train.py draws the progress
bar with them), so the loop is importable, testable and silent by default.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from .data import to_input
from .errors import TrainingDiverged
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


def evaluate(model, images, labels, batch_size=1000):
    """Mean loss, accuracy and probabilities (N, 10) of `model` on uint8 images."""
    probs = np.empty((len(images), 10), dtype=np.float32)
    loss_sum = 0.0
    for i in range(0, len(images), batch_size):
        logp = log_softmax(model.forward(to_input(images[i:i + batch_size])))   # (B, 10)
        y = labels[i:i + batch_size]
        loss_sum -= float(logp[np.arange(len(y)), y].sum())                      # cross-entropy
        probs[i:i + batch_size] = np.exp(logp)
    n = max(len(images), 1)
    accuracy = float((probs.argmax(axis=1) == labels).mean()) if len(images) else float("nan")
    return loss_sum / n, accuracy, probs


def fit(model, train, val=None, epochs=10, batch_size=64, lr=0.01, momentum=0.9, seed=0,
        augment=None, on_batch=None, on_epoch=None):
    """Train `model` in place. train/val: (uint8 images (N, 28, 28), labels (N,)).

    Each epoch visits the training images once in a fresh order drawn from `seed`.
    `augment` (e.g. augment.Augmenter) maps each float batch (N, 1, 28, 28) to a new one.
    on_batch(epoch, batch_index, n_batches, running_loss, running_acc, images_per_s) and
    on_epoch(record) are called as it goes. Raises TrainingDiverged if the loss is not finite or
    above DIVERGED_LOSS.
    Ctrl-C returns early with the weights of the last finished epoch.
    """
    images, labels = train
    rng = np.random.default_rng(seed)
    opt = SGD(lr, momentum)
    result = TrainResult()
    n = len(images)
    n_batches = (n + batch_size - 1) // batch_size
    snapshot = _copy_params(model)
    try:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            start = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                x, y = to_input(images[idx]), labels[idx]
                if augment is not None:
                    x = augment(x)
                logits = model.forward(x)
                loss, dlogits = softmax_cross_entropy(logits, y)
                if not np.isfinite(loss) or loss > DIVERGED_LOSS:
                    raise TrainingDiverged(
                        f"training diverged: loss is {loss:.4g} at epoch {epoch}, batch {b + 1}; "
                        f"try a lower --lr (now {lr})")
                model.backward(dlogits)
                opt.step(model.parameters(), model.gradients())
                loss_sum += loss * len(y)
                correct += int((logits.argmax(axis=1) == y).sum())
                seen += len(y)
                if on_batch is not None:
                    elapsed = time.perf_counter() - start
                    on_batch(epoch, b, n_batches, loss_sum / seen, correct / seen,
                             seen / elapsed if elapsed > 0 else 0.0)
            seconds = time.perf_counter() - start
            record = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                      "seconds": seconds, "images_per_second": seen / seconds}
            if val is not None and len(val[0]):
                val_loss, val_acc, _ = evaluate(model, *val)
                record.update(val_loss=val_loss, val_accuracy=val_acc)
            result.history.append(record)
            snapshot = _copy_params(model)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        _restore_params(model, snapshot)
        result.interrupted = True
    return result


def warm_up(model, input_shape, batch_size=64):
    """One forward and backward pass on zeros, so JIT compilation (or loading compiled
    kernels from the cache) happens before the clock of the first epoch starts. Touches
    gradients only, never the weights."""
    x = np.zeros((batch_size, *input_shape), dtype=model.dtype)
    _, dlogits = softmax_cross_entropy(model.forward(x), np.zeros(batch_size, dtype=np.int64))
    model.backward(dlogits)


def _copy_params(model):
    return {k: v.copy() for k, v in model.parameters().items()}


def _restore_params(model, snapshot):
    for k, v in model.parameters().items():
        v[...] = snapshot[k]
