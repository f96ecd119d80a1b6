"""Name the digit in pictures, or say that a picture is not a digit: preprocessing, a forward
pass, the open-set score. The one prediction path that predict.py and the demo server share.

Inference runs on the NumPy reference kernels by default: for a handful of images they are
instant, and they spare a cold process the Numba import and JIT start-up.
"""
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import kernels
from ..core.model import load_model
from ..data.preprocess import preprocess_file
from ..errors import ImageError, ScratchnetError
from .openset import OpenSet, outlier_network_votes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


@dataclass
class Prediction:
    file: str
    digit: int = None             # the most likely digit (the closest one, if not a digit)
    confidence: float = None
    probabilities: list = field(default_factory=list)
    is_digit: bool = None         # False: the picture does not look like a digit
    digit_score: float = None     # the open-set score (None: the model has no detector)
    input: np.ndarray = None      # the (28, 28) image the network saw
    as_drawn: np.ndarray = None   # the same without the stroke-width step, if that thinned it
    error: str = None

    def top(self, k):
        """The k most likely digits, most likely first: [(digit, probability), ...]."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]

    def to_json(self, digits=6):
        """The JSON-able answer that predict.py --json and the web API both give."""
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        return {"file": self.file, "digit": self.digit, "confidence": round(self.confidence, digits),
                "is_digit": self.is_digit,
                "digit_score": None if self.digit_score is None else round(self.digit_score, 4),
                "probabilities": [round(p, digits) for p in self.probabilities],
                "top3": [[d, round(p, digits)] for d, p in self.top(3)]}


class Predictor:
    """A trained model, ready for pictures: its network, its open-set detector (if its file
    has one) and the kernel back end to run them on. accept_all=True never refuses.
    The digit named is the network's and the outlier network's answer together
    (OpenSet.answer) when the file has an outlier network; vote=False: the network's alone.

    Thread-safe: the layers keep per-call state, so one classification runs at a time, also
    across the predictors with_model makes, which share the open set's networks (and its lock)."""

    def __init__(self, model, openset=None, backend="reference", accept_all=False, metadata=None, vote=True,
                 lock=None):
        self.model, self.openset, self.backend, self.accept_all = model, openset, backend, accept_all
        self.metadata, self.vote = metadata or {}, vote
        self._lock = lock or threading.Lock()

    @classmethod
    def load(cls, path, backend="reference", accept_all=False):
        model, metadata = load_model(path, return_metadata=True)
        return cls(model, OpenSet.of(model, metadata), backend, accept_all, metadata,
                   vote=outlier_network_votes(metadata))

    def with_model(self, model):
        """The same predictor for another network (a fine-tuned copy of this one's), which
        names digits alone: the corrections it learnt from taught it, not the outlier network."""
        return Predictor(model, self.openset, self.backend, self.accept_all, self.metadata, vote=False,
                         lock=self._lock)

    def classify(self, predictions):
        """Fill in the answer of every prediction without an error, in one batch; returns them."""
        ok = [r for r in predictions if r.error is None]
        if not ok:
            return predictions
        x = np.stack([r.input for r in ok])[:, None].astype(np.float32)
        with self._lock, kernels.using(self.backend):
            if self.openset is None:
                probs, scores = self.model.predict_proba(x), [None] * len(ok)
            else:                       # one forward pass gives the score and the answer
                as_drawn = np.stack([r.input if r.as_drawn is None else r.as_drawn for r in ok])[:, None]
                scores, _, probs = self.openset.answer(self.model, x, vote=self.vote,
                                                       as_drawn=as_drawn.astype(np.float32))
        for r, p, s in zip(ok, probs, scores):
            r.digit, r.confidence, r.probabilities = int(p.argmax()), float(p.max()), p.tolist()
            r.digit_score = None if s is None else float(s)
            r.is_digit = s is None or self.accept_all or bool(s >= self.openset.threshold)
        return predictions

    def gradcam(self, image, target):
        """The Grad-CAM map (H, W) in [0, 1] of `target` for a (28, 28) input (apps/explain.py),
        or None for a network without a conv layer."""
        from .explain import explain
        with self._lock, kernels.using(self.backend):
            try:
                return explain(self.model, image, target).gradcam
            except ScratchnetError:
                return None

    def predict_files(self, sources, names=None):
        """One Prediction per picture (paths or binary file objects); a picture that fails gets
        .error and the others go on. `names` label the pictures in messages and results."""
        names = names or [str(s) for s in sources]
        return self.classify([read_picture(s, n) for s, n in zip(sources, names)])


def read_picture(source, name=None):
    """A Prediction holding the (28, 28) input made from a picture (a path or a binary file
    object), not yet classified; or holding .error if the picture cannot be used."""
    name = name or str(source)
    try:
        digit, as_drawn = preprocess_file(source, name=name, views=True)
        return Prediction(name, input=digit, as_drawn=None if as_drawn is digit else as_drawn)
    except ImageError as e:
        return Prediction(name, error=str(e))


def expand_paths(paths):
    """Files as given; directories replaced by the image files inside them (sorted)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            images = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not images:
                raise ImageError(f"{p}: directory contains no images")
            out.extend(images)
        else:
            out.append(p)
    return out


def predict_files(model, sources, names=None, backend="reference"):
    """Predictor(model).predict_files: for a bare network, without an open-set detector."""
    return Predictor(model, backend=backend).predict_files(sources, names)
