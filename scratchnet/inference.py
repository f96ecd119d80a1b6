"""Predict digits in image files: preprocessing + a forward pass, on plain NumPy.

Inference uses the NumPy reference kernels: for a handful of images they are instant, and
they spare a cold process the Numba import and JIT start-up (see scratchnet.kernels).
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import kernels
from .errors import ImageError
from .preprocess import preprocess_file

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
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]


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


def predict_files(model, paths, backend="reference"):
    """One Prediction per file; a file that fails gets .error and the others go on."""
    results = []
    for path in paths:
        try:
            results.append(Prediction(str(path), input=preprocess_file(path)))
        except ImageError as e:
            results.append(Prediction(str(path), error=str(e)))
    ok = [r for r in results if r.error is None]
    if ok:
        with kernels.using(backend):
            probs = model.predict_proba(np.stack([r.input for r in ok])[:, None].astype(np.float32))
        for r, p in zip(ok, probs):
            r.digit, r.confidence, r.probabilities = int(p.argmax()), float(p.max()), p.tolist()
    return results
