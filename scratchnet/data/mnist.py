"""MNIST: find the four IDX files, download what is missing, verify, load as uint8.

Where the files are looked for, first match wins:
    1. the `data_dir` argument (`--data-dir`),
    2. the environment variable SCRATCHNET_DATA,
    3. the per-user cache ~/.cache/scratchnet/mnist (or $XDG_CACHE_HOME/scratchnet/mnist).
A file missing there is downloaded into that folder from the first mirror that serves it
with the official SHA-256; the download goes to a temporary file that is renamed into place
only once verified, so the folder never holds a partial or corrupt file.

Images stay uint8 (N, 28, 28) in memory (47 MB for the training set instead of 188 MB as
float32); `to_input` scales one batch at a time.
"""
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, IDXError
from ..fileio import atomic_write
from .idx import parse_idx, read_bytes

# name: (sha256 of the official .gz, sha256 of its uncompressed content, expected shape)
FILES = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


@dataclass
class MNIST:
    """uint8 images (N, 28, 28) and uint8 labels (N,), as stored in the IDX files."""
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path


def to_input(images, out=None):
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]: the network's input (written
    into `out` if given: the training loop's `prepare`)."""
    if out is None:
        out = np.empty((len(images), 1, *images.shape[1:]), dtype=np.float32)
    return np.multiply(images[:, None], np.float32(1 / 255), out=out)


def cache_root():
    """scratchnet's per-user cache: $XDG_CACHE_HOME/scratchnet, else ~/.cache/scratchnet."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scratchnet"


def resolve_data_dir(data_dir=None):
    """The one place that decides where MNIST lives: `data_dir` (--data-dir) if given, else
    $SCRATCHNET_DATA, else the per-user cache (cache_root() / "mnist")."""
    if data_dir:
        return Path(data_dir)
    if os.environ.get("SCRATCHNET_DATA"):
        return Path(os.environ["SCRATCHNET_DATA"])
    return cache_root() / "mnist"


def load_mnist(data_dir=None, download=True, verify=True, mirrors=MIRRORS, timeout=30.0,
               progress=True):
    """Load the four MNIST files; download missing ones into the folder first.

    `data_dir` as in resolve_data_dir. verify=False accepts other IDX files with MNIST's names
    and shapes (e.g. Fashion-MNIST). Raises DataError (missing/unverifiable data) or IDXError
    (malformed file).
    """
    folder = resolve_data_dir(data_dir)
    if data_dir and not folder.is_dir():  # an explicit folder must exist; the others are made
        raise DataError(f"data directory {folder} " + ("is a file, not a folder" if folder.exists()
                                                        else "does not exist"))
    arrays = []
    for name, (_, raw_sha, shape) in FILES.items():
        path = find_file(folder, name)
        if path is None:
            if not download:
                raise DataError(missing_message(folder))
            path = download_file(name, folder, mirrors, timeout, progress)
        data = read_bytes(path)
        if verify and hashlib.sha256(data).hexdigest() != raw_sha:
            raise DataError(f"{path} is not the official MNIST file (SHA-256 mismatch); delete "
                            f"it to download it again, or pass --no-verify for other IDX data")
        arr = parse_idx(data, str(path))
        if arr.shape != shape or arr.dtype != np.uint8:
            raise IDXError(f"{path}: expected uint8 {shape}, found {arr.dtype} {arr.shape}")
        arrays.append(arr)
    if max(arrays[1].max(initial=0), arrays[3].max(initial=0)) > 9:  # the network has 10 outputs
        raise DataError(f"{folder}: labels must be digits 0-9")
    return MNIST(*arrays, source=folder)


def find_file(folder, name):
    """The .gz file, or the same file uncompressed (either name MNIST has been shipped under)."""
    for candidate in (name, name[:-3], name[:-3].replace("-idx", ".idx")):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def missing_message(folder):
    return (f"MNIST not found in {folder}: put {', '.join(FILES)} there "
            f"(or pass --data-dir DIR / set SCRATCHNET_DATA)")


def download_file(name, folder, mirrors=MIRRORS, timeout=30.0, progress=True, max_seconds=600):
    """Fetch `name` from the first mirror that serves the verified file; return its path.

    Each mirror gets `timeout` seconds to connect and between reads, and `max_seconds` in
    all; a 404, a timeout, a connection error or a checksum mismatch moves on to the next one.
    """
    import requests  # only the download path pays for importing requests

    gz_sha = FILES[name][0]
    target = Path(folder) / name
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            with requests.get(url, stream=True, timeout=(timeout, timeout)) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length") or 0) or None
                digest = hashlib.sha256()
                start = time.monotonic()
                with atomic_write(target) as f, _progress(total, name, progress) as bar:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        if time.monotonic() - start > max_seconds:
                            raise TimeoutError(f"took longer than {max_seconds} s")
                        f.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
                    if digest.hexdigest() != gz_sha:
                        raise ValueError("SHA-256 mismatch (corrupt or not the official file)")
            return target
        except (requests.RequestException, OSError, ValueError, TimeoutError) as e:
            errors.append(f"{url}: {type(e).__name__}: {str(e)[:120]}".replace("\n", " "))
    raise DataError(f"could not download {name} from any mirror ({'; '.join(errors) or 'no mirrors'}). "
                    + missing_message(Path(folder)))


def _progress(total, name, enabled):
    from tqdm import tqdm
    return tqdm(total=total, desc=f"downloading {name}", unit="B", unit_scale=True,
                disable=not enabled, leave=False)


def split_validation(images, labels, fraction):
    """Keras' validation_split: the LAST `fraction` of the training set is held out."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation split must be in [0, 1), got {fraction}")
    n_val = int(round(len(images) * fraction))
    cut = len(images) - n_val
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
