"""The demo learns from its mistakes: a correction (a drawing and its right label) is kept,
and the network takes a few SGD steps on it, mixed with MNIST training images so that it
does not forget the rest, with its own forward and backward passes.

    learner = Learner(predictor, mnist_images, mnist_labels, corrections="corrections/",
                      save_to="models/mnist_cnn.learned.npz")
    answer = learner.correct(digit28, label)   # -> before and after, as predictions

Training works on a copy of the network; the predictor is handed a new network only once the
steps are done (Learner.predictor), so a prediction sees the old weights or the new ones,
never a half-updated model. Every correction is stored in a labelled folder (data/folders.py)
and the fine-tuned model saved to its own file, both atomically; a learner started on the
same folder and file resumes where the last one stopped.
"""
import hashlib
import threading
import time
from pathlib import Path

import numpy as np

from ..core import kernels
from ..core.losses import softmax_cross_entropy
from ..core.optim import SGD
from ..data.augment import AFFINE, Augmenter
from ..data.folders import add_to_folder, read_labelled_folder, read_labels
from ..errors import ScratchnetError
from .inference import Prediction, Predictor

MAX_STEPS = 32        # SGD steps per correction at most: it stops once the answer is right
EXTRA_STEPS = 2       # ... and has stayed right for these few more, so it is not on a knife edge
INSIST_AFTER = 12     # still wrong after 12 steps: the correction's copies count 2x, 4x, 8x ... (4 steps each)
COPIES = 4            # the correction, distorted 4 ways, in every batch
PAST = 16             # earlier corrections replayed in every batch (the most recent ones)
BATCH = 256           # the rest of the batch: MNIST training images, fresh every step
LR = 0.005
# Why these numbers (benchmarks/bench_learning.py, 100 corrections of the reference model):
# with batches of 64 the few corrected pictures dominate each step and MNIST accuracy fell
# 0.5 point; 236 replayed MNIST images per step hold it within 0.1 point while the corrected
# digits are still learnt. Training only the dense layers, or pulling the weights back
# towards the trained ones (an L2 anchor), forgot more, not less. A confident answer (a clear
# 7 said to be a 3) needs more than 12 steps; weighting every correction more fixed those at
# once but cost 0.3-1.0 point of MNIST, so only the few still wrong after 12 steps weigh more.


class CorrectionsFull(ScratchnetError):
    """The corrections folder holds as many corrections as it may."""


class Learner:
    """Fine-tunes a Predictor's network on corrections, one at a time."""

    def __init__(self, predictor, replay_images, replay_labels, corrections, save_to,
                 max_corrections=1000, seed=0):
        self.predictor = predictor             # what the server answers with: swapped, never changed
        self.replay_images, self.replay_labels = replay_images, replay_labels
        self.corrections, self.save_to, self.max_corrections = corrections, save_to, max_corrections
        self.metadata = dict(predictor.metadata)
        self.network = predictor.model.clone()                 # what training changes
        self.rng = np.random.default_rng(seed)
        self.augment = Augmenter(AFFINE, seed=seed)
        self.lock = threading.Lock()                           # one correction at a time
        self.learned = 0                                       # since this learner started
        self.past_images, self.past_labels = self._stored()

    def _stored(self):
        if not read_labels(self.corrections):
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
        return read_labelled_folder(self.corrections)

    @property
    def stored(self):
        return len(self.past_labels)

    def correct(self, digit, label):
        """digit: the (28, 28) input the network saw, in [0, 1]; label: the right digit.
        Stores it, fine-tunes, swaps the served network; returns (before, after) Predictions."""
        label = int(label)
        with self.lock:
            if self.stored >= self.max_corrections:
                raise CorrectionsFull(f"the corrections folder {self.corrections} already holds "
                                      f"{self.stored} corrections, the most this server keeps "
                                      f"(--max-corrections); start it with another folder")
            before = self.predictor.classify([Prediction("correction", input=digit)])[0]
            add_to_folder(self.corrections, digit, label)
            self._fine_tune(digit, label)
            self.past_images = np.concatenate([self.past_images, np.round(digit * 255).astype(np.uint8)[None]])
            self.past_labels = np.append(self.past_labels, np.uint8(label))
            self.predictor = self.predictor.with_model(self.network.clone())   # one assignment: the swap
            self.learned += 1
            self.network.save(self.save_to, metadata={**self.metadata, "corrections": self.stored})
            after = self.predictor.classify([Prediction("correction", input=digit)])[0]
        return before, after

    def _fine_tune(self, digit, label):
        x = np.empty((BATCH, 1, 28, 28), np.float32)
        y = np.empty(BATCH, np.int64)
        opt = SGD(LR, 0.9)
        new = np.repeat(digit[None, None].astype(np.float32), COPIES, axis=0)
        start, right_for, taken = time.perf_counter(), 0, 0     # right_for: steps in a row
        with kernels.using("jit"):
            for step in range(MAX_STEPS):
                right_for = right_for + 1 if self.network.forward(new[:1]).argmax() == label else 0
                if right_for > EXTRA_STEPS:
                    break
                x[:COPIES], y[:COPIES] = self.augment(new), label
                k = min(PAST, self.stored)
                recent = slice(self.stored - k, self.stored)      # (not [-k:]: k may be 0)
                x[COPIES:COPIES + k] = self.past_images[recent][:, None] / 255
                y[COPIES:COPIES + k] = self.past_labels[recent]
                idx = self.rng.integers(0, len(self.replay_images), BATCH - COPIES - k)
                x[COPIES + k:] = self.replay_images[idx][:, None] / 255
                y[COPIES + k:] = self.replay_labels[idx]
                logits = self.network.forward(x)
                _, dlogits = softmax_cross_entropy(logits, y)
                if step >= INSIST_AFTER:            # the longer it resists, the more the correction weighs
                    dlogits[:COPIES] *= 2 ** ((step - INSIST_AFTER) // 4 + 1)
                self.network.backward(dlogits, need_dx=False)
                opt.step(self.network.parameters(), self.network.gradients())
                taken += 1
        self.last_seconds, self.last_steps = time.perf_counter() - start, taken


def file_sha256(path):
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def start_learning(model, save_to=None, corrections="corrections", data_dir=None, max_corrections=1000):
    """A Learner for `python -m scratchnet.serve --learn`, and a line saying what it serves.

    It resumes from the fine-tuned file (save_to, default MODEL.learned.npz) only if that file
    was fine-tuned from this very model (the base's SHA-256 is recorded in it): a base model
    retrained since (e.g. with train.py --extra-data corrections/) is served as it is now."""
    from ..core.training import warm_up
    from ..data.mnist import load_mnist
    model = Path(model)
    save_to = Path(save_to) if save_to else model.with_name(model.stem + ".learned.npz")
    corrections = Path(corrections)
    if corrections.exists() and not corrections.is_dir():
        raise ScratchnetError(f"--corrections {corrections} is a file, not a folder")
    base = Predictor.load(model)
    base_sha = file_sha256(model)
    resume, stale = False, False
    if save_to.exists():
        learned = Predictor.load(save_to)
        resume = learned.metadata.get("base_sha256") == base_sha
        stale = not resume
    predictor = learned if resume else base
    data = load_mnist(data_dir, progress=False)
    learner = Learner(predictor, data.train_images, data.train_labels, corrections, save_to,
                      max_corrections=max_corrections)
    learner.metadata["base_sha256"] = base_sha
    warm_up(learner.network)   # compile the training kernels now, not on the first correction
    note = (f"Learning: corrections go to {corrections}/ ({learner.stored} there), the fine-tuned "
            f"model to {save_to}")
    if resume:
        note += f"; serving it, resumed (fine-tuned from {model})"
    elif stale:
        note += (f"; serving {model}: {save_to} was fine-tuned from another version of it and is "
                 f"replaced at the first correction")
    else:
        note += f"; serving {model}"
    return learner, note
