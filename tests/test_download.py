"""The MNIST download path against a real HTTP server on 127.0.0.1 (no mocks).

The server serves the real files from the MNIST folder under /good/, a copy with one flipped
byte under /corrupt/, half a file under /truncated/, 404s under /missing/ and a mirror that
hangs under /slow/.
"""
import http.server
import threading
import time

import numpy as np
import pytest

from scratchnet.data.mnist import FILES, load_mnist
from scratchnet.errors import DataError
from scratchnet.data.idx import write_idx


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    files = {}
    log = []

    def do_GET(self):
        kind, _, name = self.path.strip("/").partition("/")
        self.log.append((kind, name))
        body = self.files.get(name)
        if kind == "missing" or body is None:
            self.send_error(404)
            return
        if kind == "slow":
            time.sleep(2.0)  # longer than the client's timeout
        if kind == "corrupt":
            body = bytearray(body)
            body[len(body) // 2] ^= 0xFF
            body = bytes(body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(mnist_dir):
    MirrorHandler.files = {name: (mnist_dir / name).read_bytes() for name in FILES}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def clear_log():
    MirrorHandler.log.clear()


def test_downloads_from_the_first_good_mirror_and_verifies(server, tmp_path, mnist):
    mirrors = [f"{server}/slow/", f"{server}/missing/", f"{server}/corrupt/",
               f"{server}/truncated/", f"{server}/good/"]
    data = load_mnist(tmp_path, mirrors=mirrors, timeout=0.3, progress=False)
    np.testing.assert_array_equal(data.train_images, mnist.train_images)
    np.testing.assert_array_equal(data.test_labels, mnist.test_labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)  # no partial files
    for name in FILES:
        assert [k for k, n in MirrorHandler.log if n == name] == \
            ["slow", "missing", "corrupt", "truncated", "good"]
    # a second load uses the verified files in the folder: no request at all
    MirrorHandler.log.clear()
    load_mnist(tmp_path, mirrors=mirrors, timeout=0.3, progress=False)
    assert MirrorHandler.log == []


def test_only_bad_mirrors_leave_nothing_behind(server, tmp_path):
    mirrors = [f"{server}/corrupt/", f"{server}/truncated/"]
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz from any "
                                        "mirror.*SHA-256 mismatch"):
        load_mnist(tmp_path, mirrors=mirrors, timeout=2, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_message_says_which_files_to_put_where(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=1, progress=False)
    msg = str(info.value)
    assert str(tmp_path) in msg and "t10k-labels-idx1-ubyte.gz" in msg and "--data-dir" in msg
    assert "\n" not in msg


def test_missing_without_download(tmp_path):
    with pytest.raises(DataError, match="MNIST not found in"):
        load_mnist(tmp_path, download=False)


def test_data_dir_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nope")


def test_cache_dir_from_environment(monkeypatch, mnist_dir):
    monkeypatch.setenv("SCRATCHNET_DATA", str(mnist_dir))
    assert load_mnist(download=False).source == mnist_dir


def test_a_tampered_local_file_is_refused(tmp_path, mnist_dir):
    for name in FILES:
        (tmp_path / name).write_bytes((mnist_dir / name).read_bytes())
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(10000, dtype=np.uint8))
    with pytest.raises(DataError, match="t10k-labels.*not the official MNIST file"):
        load_mnist(tmp_path, download=False)


def test_other_idx_data_with_no_verify(tmp_path):
    # e.g. Fashion-MNIST, which ships under the same file names
    rng = np.random.default_rng(0)
    for name, (_, _, shape) in FILES.items():
        arr = rng.integers(0, 10 if len(shape) == 1 else 256, size=shape, dtype=np.uint8)
        write_idx(tmp_path / name, arr)
    data = load_mnist(tmp_path, verify=False, download=False)
    assert data.train_images.shape == (60000, 28, 28)
    with pytest.raises(DataError, match="not the official MNIST"):
        load_mnist(tmp_path, download=False)


def test_uncompressed_files_are_found_too(tmp_path, mnist_dir):
    import gzip
    for name in FILES:
        (tmp_path / name[:-3]).write_bytes(gzip.decompress((mnist_dir / name).read_bytes()))
    assert load_mnist(tmp_path, download=False).train_labels[0] == 5


def test_no_verify_still_requires_digit_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name, (_, _, shape) in FILES.items():
        high = 20 if len(shape) == 1 else 256   # labels up to 19: not digits
        write_idx(tmp_path / name, rng.integers(0, high, size=shape, dtype=np.uint8))
    with pytest.raises(DataError, match="labels must be digits 0-9"):
        load_mnist(tmp_path, verify=False, download=False)
