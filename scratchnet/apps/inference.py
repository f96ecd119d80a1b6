"""Predict digits in pictures: preprocessing + a forward pass. The one prediction path that
predict.py and the demo server share.

Inference runs on the NumPy reference kernels by default: for a handful of images they are
instant, and they spare a cold process the Numba import and JIT start-up.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import kernels
from ..errors import ImageError
from ..data.preprocess import preprocess_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


@dataclass
class Prediction:
    file: str
    digit: int = None
    confidence: float = None
    probabilities: list = field(default_factory=list)
    input: np.ndarray = None      # the (28, 28) image the network saw
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
                "probabilities": [round(p, digits) for p in self.probabilities],
                "top3": [[d, round(p, digits)] for d, p in self.top(3)]}


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


def read_picture(source, name=None):
    """A Prediction holding the (28, 28) input made from a picture (a path or a binary file
    object), not yet classified; or holding .error if the picture cannot be used."""
    name = name or str(source)
    try:
        return Prediction(name, input=preprocess_file(source, name=name))
    except ImageError as e:
        return Prediction(name, error=str(e))


def classify(model, predictions, backend="reference"):
    """Fill in digit, confidence and probabilities of every prediction without an error,
    in one batch; returns the same list."""
    ok = [r for r in predictions if r.error is None]
    if ok:
        with kernels.using(backend):
            probs = model.predict_proba(np.stack([r.input for r in ok])[:, None].astype(np.float32))
        for r, p in zip(ok, probs):
            r.digit, r.confidence, r.probabilities = int(p.argmax()), float(p.max()), p.tolist()
    return predictions


def predict_files(model, sources, names=None, backend="reference"):
    """One Prediction per picture (paths or binary file objects); a picture that fails gets
    .error and the others go on. `names` label the pictures in messages and results."""
    names = names or [str(s) for s in sources]
    return classify(model, [read_picture(s, n) for s, n in zip(sources, names)], backend)
