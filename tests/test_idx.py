"""IDX reader/writer: every type code round-trips; every corruption gives a clear IDXError."""
import gzip

import numpy as np
import pytest

from scratchnet.errors import IDXError
from scratchnet.data.idx import idx_bytes, parse_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_type_code(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


def test_header_is_big_endian_as_in_the_spec():
    data = idx_bytes(np.array([[1, 2, 3]], dtype=np.int16))
    assert data[:4] == bytes([0, 0, 0x0B, 2])
    assert data[4:12] == bytes([0, 0, 0, 1, 0, 0, 0, 3])
    assert data[12:] == bytes([0, 1, 0, 2, 0, 3])


def test_one_dimensional_labels():
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("data,message", [
    (GOOD[:-1], "truncated: 39 bytes"),
    (GOOD + b"\x00", "has trailing bytes"),
    (GOOD[:10], "truncated header"),
    (b"\x00\x00", "too short"),
    (b"\x01" + GOOD[1:], "wrong magic number"),
    (b"PK\x03\x04" + GOOD[4:], "wrong magic number"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "unknown IDX type code 0x07"),
    (b"\x00\x00\x08\x00", "zero dimensions"),
])
def test_corrupt_files_raise_a_clear_error(tmp_path, data, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(IDXError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    blob = gzip.compress(GOOD)
    path.write_bytes(blob[: len(blob) - 10])
    with pytest.raises(IDXError, match="broken or truncated gzip"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(IDXError, match="no such file"):
        read_idx(tmp_path / "nope")


def test_unsupported_dtype_cannot_be_written(tmp_path):
    with pytest.raises(IDXError, match="cannot store"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint16))


def test_real_mnist_headers(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.test_labels.shape == (10000,)
    np.testing.assert_array_equal(mnist.train_labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    assert mnist.train_images.mean() == pytest.approx(33.318421, abs=1e-5)
