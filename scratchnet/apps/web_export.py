"""The demo as a static folder: `python -m scratchnet.export --web DIR [MODEL]`.

Writes index.html (the same page `python -m scratchnet.serve` serves; without a server to
answer it predicts in the page), scratchnet.js (the forward pass, the "not a digit" detector
and the preprocessing of a drawing, in plain JavaScript) and model.bin (the weights: a 4-byte
little-endian header length, a JSON header, float32 arrays; see scratchnet.js). Any static
host serves the folder: `python -m http.server -d DIR`, GitHub Pages, a static Space.
"""
import json
import zlib
from pathlib import Path

import numpy as np

from ..core.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from ..core.model import FORMAT_VERSION, load_model
from ..errors import ScratchnetError
from ..fileio import atomic_write
from .openset import OpenSet, outlier_network_votes

WEB = Path(__file__).with_name("web")
PAGE_FILES = ("index.html", "scratchnet.js")
LAYOUT = (Conv2D, ReLU, MaxPool2D, Flatten, Dense, ReLU, Dense)   # what scratchnet.js computes


# the outlier network's: two conv blocks (apps/openset.py outlier_network), or in files from
# before it, the reference CNN's layout
OUTLIER_LAYOUT = (Conv2D, ReLU, MaxPool2D, Conv2D, ReLU, MaxPool2D, Flatten, Dense, ReLU, Dense)


def _pools_by_two(model):
    return all((l.size, l.stride) == (2, 2) for l in model.layers if isinstance(l, MaxPool2D))


def _is_reference_cnn(model):
    kinds = tuple(type(layer) for layer in model.layers)
    return (kinds == LAYOUT and model.layers[0].params["W"].shape[1:] == (1, 3, 3)
            and model.input_shape == (1, 28, 28) and _pools_by_two(model))


def _is_outlier_cnn(model):
    """Whether scratchnet.js computes this outlier network: the reference CNN's layout, or two
    conv blocks (no padding, stride 1, 2x2 pools) on one 28x28 channel."""
    kinds = tuple(type(layer) for layer in model.layers)
    if kinds == LAYOUT:
        return _is_reference_cnn(model)
    return (kinds == OUTLIER_LAYOUT and model.input_shape == (1, 28, 28) and _pools_by_two(model)
            and all(l.stride == 1 and l.padding == 0 for l in model.layers if isinstance(l, Conv2D)))


def weights_file(model, metadata):
    """The bytes of model.bin for a reference-CNN `model` and its file's metadata."""
    if not _is_reference_cnn(model):
        raise ScratchnetError("the web page runs the reference CNN (conv 3x3 -> ReLU -> max-pool 2 -> dense "
                              "-> ReLU -> dense) on 28x28 inputs; this model is another network")
    arrays = dict(model.parameters())
    openset = OpenSet.of(model, metadata)
    threshold, shape, shifts, views, scales, vote, networks = None, False, False, False, None, False, 0
    if openset is not None:
        if openset.pixels:
            raise ScratchnetError("the web page does not compute the detector's pixel features")
        arrays.update({"openset.mean": openset.mean, "openset.std": openset.std})
        arrays.update({f"openset.{k}": v for k, v in openset.detector.parameters().items()})
        if openset.nets:
            if not all(_is_outlier_cnn(net) for net in openset.nets):
                raise ScratchnetError("the web page runs an outlier network of two conv blocks, or shaped "
                                      "as the reference CNN, only")
            arrays.update(openset.net_arrays())    # int8 and a scale a column, as in the model file
            networks = len(openset.nets)
            scales, vote = list(openset.scales), outlier_network_votes(metadata)
        threshold, shape, shifts, views = openset.threshold, openset.shape, openset.shifts, openset.views
    arrays = {k: np.ascontiguousarray(v, dtype="i1" if v.dtype == np.int8 else "<f4") for k, v in arrays.items()}
    entries, chunks, offset = [], [], 0
    for name, value in arrays.items():
        entries.append({"name": name, "shape": list(value.shape), "offset": offset, "dtype": value.dtype.name})
        padding = (4 - value.nbytes % 4) % 4                 # the next array starts 4-byte aligned
        chunks += [value.tobytes(), b"\0" * padding]
        offset += value.nbytes + padding
    data = b"".join(chunks)
    header = json.dumps({"format": "scratchnet.web", "version": 1, "model_version": FORMAT_VERSION,
                         "threshold": threshold, "shape_features": shape, "shifts": shifts, "views": views, "scales": scales,
                         "vote": vote, "outlier_networks": networks, "crc32": zlib.crc32(data),
                         "arrays": entries}).encode()
    header += b" " * ((4 - len(header) % 4) % 4)          # the arrays start 4-byte aligned
    return len(header).to_bytes(4, "little") + header + data


def export_web(model_path, folder):
    """Write the static demo into `folder`; returns {file name: size in bytes}."""
    model, metadata = load_model(model_path, return_metadata=True)
    blob = weights_file(model, metadata)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ScratchnetError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, content in [(n, (WEB / n).read_bytes()) for n in PAGE_FILES] + [("model.bin", blob)]:
        with atomic_write(folder / name) as f:
            f.write(content)
        sizes[name] = len(content)
    return sizes
