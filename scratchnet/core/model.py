"""Sequential model and the self-describing model file.

A model file is one `.npz` (a zip of .npy arrays, loaded with allow_pickle=False, so it can
never run code) holding every parameter under "<layer index>.<name>" plus "__scratchnet__":
a JSON record {"format", "version", "input_shape", "layers": [{"type", "config"}],
"metadata"} from which `load` rebuilds the network without any code change.

Version 2 adds `extras`: arrays that travel with the model without being parameters (the
open-set detector's statistics, apps/openset.py), stored as "extra.<name>". Version 3: the open
set averages several outlier networks (its metadata counts them); a version-2 reader would
score with the first alone against a threshold set for their mean, so it is told to upgrade.
Files of versions 1 and 2 load as before (version 1 with no extras).
"""
import contextlib
import json

import numpy as np

from ..errors import ModelFileError
from ..fileio import atomic_write
from . import fused
from .layers import LAYER_TYPES, weights_to_be_loaded
from .losses import softmax

FORMAT_NAME = "scratchnet.model"
FORMAT_VERSION = 3
EXTRA_PREFIX = "extra."
RECORD_KEY = "__scratchnet__"


class Sequential:
    """Layers applied in order. x: (N, *input_shape) -> logits (N, classes).

    forward and backward run `stages()`: the layers, except that each Conv2D -> ReLU ->
    MaxPool2D run the fused kernel computes (fused.py, its algorithm in
    kernels/reference.conv_relu_pool_*; docs/backprop.md section 5) unless fuse=False. The
    arrays forward and backward return are the stages' own, reused by the next call.
    """

    def __init__(self, layers, input_shape=None, fuse=True):
        self.layers = list(layers)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.fuse = fuse  # run Conv2D->ReLU->MaxPool2D as one fused kernel (same maths)
        self.extras = {}  # name -> array saved with the model (not trained by backward)
        self._stages, self._stages_key = None, None

    # ------------------------------------------------------------------ forward/backward
    def stages(self):
        """What forward/backward run: the layers, with fusable runs grouped (see fused.py)."""
        key = (self.fuse, tuple(map(id, self.layers)))
        if key != self._stages_key:
            self._stages = fused.plan(self.layers) if self.fuse else list(self.layers)
            self._stages_key = key
        return self._stages

    def forward(self, x):
        for stage in self.stages():
            x = stage.forward(x)
        return x

    def backward(self, dout, need_dx=True):
        """Backpropagate dL/dlogits through every layer, filling each layer's grads.

        Returns dL/dx; with need_dx=False (training) the first layer skips computing it and
        None is returned.
        """
        stages = self.stages()
        for i in range(len(stages) - 1, -1, -1):
            dout = stages[i].backward(dout, need_dx=need_dx or i > 0)
        return dout

    def release_buffers(self):
        """Drop every stage's cached activations and reusable buffers (they are made again by
        the next forward): the memory an evaluation batch holds, given back before other work."""
        for stage in {id(s): s for s in self.stages() + self.layers}.values():
            stage.release_buffers()

    def predict_proba(self, x, batch_size=1000):
        """x: (N, *input_shape) -> class probabilities (N, classes), computed batch by batch."""
        out = [softmax(self.forward(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def predict(self, x, batch_size=1000):
        return self.predict_proba(x, batch_size).argmax(axis=1)

    # -------------------------------------------------------------------- parameters
    def parameters(self):
        """{"<layer index>.<name>": array}: the live arrays (the optimizer updates them in place)."""
        return {f"{i}.{k}": v for i, l in enumerate(self.layers) for k, v in l.params.items()}

    def gradients(self):
        """Same keys as parameters(), the gradients the last backward() computed."""
        return {f"{i}.{k}": v for i, l in enumerate(self.layers) for k, v in l.grads.items()}

    def num_params(self):
        return sum(l.num_params() for l in self.layers)

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def clone(self):
        """A new, independent Sequential with the same layers, weights and extras (no buffers)."""
        twin = build_model(self.describe(), "<clone>", initialise=False)
        twin.fuse = self.fuse
        for key, value in twin.parameters().items():
            value[...] = self.parameters()[key]
        twin.extras = {k: v.copy() for k, v in self.extras.items()}
        return twin

    def replica(self):
        """A twin that shares this model's weights (the very arrays) but keeps gradients,
        activations and buffers of its own, so that threads can run forward and backward on
        replicas at once (the data-parallel step, core/training.py)."""
        twin = build_model(self.describe(), "<replica>", initialise=False)
        twin.fuse = self.fuse
        for mine, theirs in zip(twin.layers, self.layers):
            mine.params = theirs.params
            mine.grads = {k: np.zeros_like(v) for k, v in theirs.params.items()}
        twin.keep_buffer_shapes(1)   # it sees training batches only
        return twin

    def keep_buffer_shapes(self, n):
        """How many batch shapes each stage keeps its reusable buffers for (Layer._buffer):
        3 by default, for training, which alternates between its batch, the epoch's last one
        and the evaluation batch; 1 where memory matters more than reuse."""
        for part in self.layers + self.stages():
            part.buffer_shapes = n

    @property
    def dtype(self):
        params = self.parameters()
        return next(iter(params.values())).dtype if params else np.dtype(np.float32)

    def summary(self):
        """A table: layer, output shape, parameter count (needs input_shape)."""
        rows, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            shape = layer.output_shape(shape) if shape is not None else None
            out = "(N, " + ", ".join(map(str, shape)) + ")" if shape is not None else "?"
            rows.append((f"{i} {type(layer).__name__}", out, f"{layer.num_params():,}"))
        head = ("layer", "output shape", "params")
        widths = [max(len(r[c]) for r in rows + [head]) for c in range(3)]
        line = "-" * (sum(widths) + 4)
        fmt = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}"  # noqa: E731
        text = [fmt(head), line] + [fmt(r) for r in rows] + [line]
        text.append(f"total parameters: {self.num_params():,}")
        return "\n".join(text)

    # ---------------------------------------------------------------------- save/load
    def describe(self, metadata=None):
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "layers": [{"type": type(l).__name__, "config": l.config()} for l in self.layers],
                "metadata": metadata or {}}

    def save(self, path, metadata=None):
        """Write weights, extras and the architecture record to `path` atomically."""
        arrays = dict(self.parameters())
        arrays.update({EXTRA_PREFIX + k: v for k, v in self.extras.items()})
        for key, value in arrays.items():
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
                raise TypeError(f"array {key} is not a numeric array: {type(value).__name__}")
            if not key.startswith(EXTRA_PREFIX) and value.dtype.kind != "f":
                raise TypeError(f"parameter {key} is not a float array: {value.dtype}")
        arrays[RECORD_KEY] = np.array(json.dumps(self.describe(metadata)))
        with atomic_write(path) as f:
            np.savez(f, allow_pickle=False, **arrays)


def load_model(path, return_metadata=False):
    """Rebuild a Sequential from a model file; ModelFileError with a clear message if it can't.

    Refuses: a missing file, a file that is not an intact .npz, a foreign .npz (no record),
    a newer format version, unknown layers, and parameters whose names or shapes disagree
    with the architecture record.
    """
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ModelFileError(f"no model at {path} — run `python train.py` first") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path} is a directory, not a model file") from None
    except OSError as e:
        raise ModelFileError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        magic = f.read(6)
        f.seek(0)
        if magic == b"\x93NUMPY":
            raise ModelFileError(f"{path} is not a scratchnet model (a single array, not an .npz)")
        if magic[:4] != b"PK\x03\x04":  # every .npz is a zip archive; never let NumPy guess
            raise ModelFileError(f"{path} is not a scratchnet model file (not an .npz archive)")
        try:
            with np.load(f, allow_pickle=False) as npz:
                if RECORD_KEY not in npz.files:
                    raise ModelFileError(f"{path} is not a scratchnet model (no architecture record)")
                record = json.loads(str(npz[RECORD_KEY]))
                arrays = {k: npz[k] for k in npz.files if k != RECORD_KEY}
        except ModelFileError:
            raise
        except ValueError as e:
            if "allow_pickle" not in str(e):
                raise ModelFileError(f"{path} is a corrupt or truncated model file ({e})") from None
            raise ModelFileError(f"{path} holds pickled Python objects, which a scratchnet model "
                                 f"never does; refusing to load it") from None
        except Exception as e:  # zip CRC errors, truncated members, bad JSON ...
            raise ModelFileError(f"{path} is a corrupt or truncated model file "
                                 f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    model = build_model(record, path, initialise=False)
    model.extras = {k[len(EXTRA_PREFIX):]: arrays.pop(k) for k in list(arrays) if k.startswith(EXTRA_PREFIX)}
    params = model.parameters()
    if set(arrays) != set(params):
        raise ModelFileError(f"{path}: parameters {sorted(arrays)} do not match the architecture "
                             f"{sorted(params)}")
    for key, value in arrays.items():
        if value.shape != params[key].shape or value.dtype.kind != "f":
            raise ModelFileError(f"{path}: parameter {key} has shape {value.shape} {value.dtype}, "
                                 f"architecture needs {params[key].shape} float")
        params[key][...] = value  # into the float32 arrays the layers were built with
    return (model, record.get("metadata", {})) if return_metadata else model


def build_model(record, path, initialise=True):
    """The Sequential an architecture record describes (Sequential.describe()), its weights
    as initialised (initialise=False: uninitialised, for weights read or copied in next);
    ModelFileError naming `path` if the record is not one this version reads."""
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not a scratchnet model (format {record.get('format')!r})"
                             if isinstance(record, dict) else f"{path} is not a scratchnet model")
    version = record.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {version}; this scratchnet reads "
                             f"up to {FORMAT_VERSION} — upgrade scratchnet")
    layers = []
    for spec in record.get("layers", []):
        cls = LAYER_TYPES.get(spec.get("type"))
        if cls is None:
            raise ModelFileError(f"{path}: unknown layer type {spec.get('type')!r}")
        try:
            with contextlib.nullcontext() if initialise else weights_to_be_loaded():
                layers.append(cls(**spec.get("config", {})))
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: bad config for {spec['type']}: {e}") from None
    shape = record.get("input_shape")
    return Sequential(layers, input_shape=tuple(shape) if shape else None)
