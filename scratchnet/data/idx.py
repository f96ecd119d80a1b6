"""IDX files (the MNIST format), read and written directly, gzip or raw.

Layout (all integers big-endian):
    bytes 0-1  zero
    byte  2    type code: 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
    byte  3    number of dimensions d (>= 1)
    then d uint32 sizes, then prod(sizes) values of the type, row-major.
Every way a file can be wrong (truncated, padded, bad magic/type, no dimensions, broken gzip)
raises IDXError naming the file and the problem.
"""
import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from ..errors import IDXError
from ..fileio import atomic_write

TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
         0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
CODES = {dt.newbyteorder("=").str[1:]: code for code, dt in TYPES.items()}  # "u1" -> 0x08 ...
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path):
    """The file's content, decompressed if it is gzip (recognised by content, not by name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    except OSError as e:
        raise IDXError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == GZIP_MAGIC:
        try:
            return _gunzip(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise IDXError(f"{path}: broken or truncated gzip data ({e})") from None
    return raw


def _gunzip(raw, chunk=1 << 20):
    """gzip.decompress, into one buffer of the final size (the trailer's ISIZE): a 47 MB file
    then needs 47 MB, not the 2x that growing the output as it comes costs at its peak."""
    size = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else 0
    if len(raw) < 18 or size > 64 * len(raw) + (1 << 20):   # ISIZE is only the size mod 2^32
        return gzip.decompress(raw)
    out, filled = bytearray(size), 0
    stream = zlib.decompressobj(wbits=31)             # gzip framing: checks CRC-32 and ISIZE
    data = memoryview(raw)
    while True:
        piece = stream.decompress(data, chunk)
        if filled + len(piece) > size:
            raise EOFError("more data than the gzip trailer announces")
        out[filled:filled + len(piece)] = piece
        filled += len(piece)
        data = stream.unconsumed_tail
        if stream.eof or (not data and not piece):
            break
    if not stream.eof or filled != size or stream.unused_data:
        return gzip.decompress(raw)   # concatenated members or a truncated stream: the slow, exact way
    return out


def parse_idx(data, name="<bytes>"):
    """IDX bytes -> numpy array in native byte order (read-only for 1-byte types)."""
    if len(data) < 4:
        raise IDXError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(f"{name}: wrong magic number 0x{data[:4].hex()} (not an IDX file)")
    code, ndim = data[2], data[3]
    if code not in TYPES:
        raise IDXError(f"{name}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise IDXError(f"{name}: IDX header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXError(f"{name}: {problem}: {len(data)} bytes, header {shape} of {dtype.name} "
                       f"needs {expected}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    if dtype.itemsize == 1:
        arr.flags.writeable = False
        return arr  # a read-only view of `data`: no second copy of a 47 MB image file
    return arr.astype(dtype.newbyteorder("="))  # native byte order (a copy)


def read_idx(path):
    """Read an IDX file (gzip or raw) -> numpy array."""
    return parse_idx(read_bytes(path), str(path))


def idx_bytes(array):
    """numpy array -> IDX bytes (the inverse of parse_idx)."""
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in CODES:
        raise IDXError(f"IDX cannot store dtype {array.dtype} (use uint8, int8, int16, int32, "
                       f"float32 or float64)")
    if array.ndim == 0:
        raise IDXError("IDX needs at least one dimension")
    code = CODES[key]
    buf = io.BytesIO()
    buf.write(bytes([0, 0, code, array.ndim]))
    buf.write(np.asarray(array.shape, dtype=">u4").tobytes())
    buf.write(np.ascontiguousarray(array, dtype=TYPES[code]).tobytes())
    return buf.getvalue()


def write_idx(path, array, compress=None):
    """Write an IDX file atomically; gzip it if `compress` (default: path ends in .gz)."""
    path = Path(path)
    data = idx_bytes(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    with atomic_write(path) as f:
        f.write(data)
